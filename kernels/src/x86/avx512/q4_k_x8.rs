//! AVX-512 VNNI x8 products of Q4_K weights with Q8_K activations, bit-identical to the scalar
//! twin [`crate::generic::x8::q4_k`]: the AVX2 pair's unpacking and float steps; per sub-block,
//! `vpdpbusd` sums the nibbles against the activations in 32 bits, then one 32-bit multiply by
//! the rows' scales.

use core::arch::x86_64::*;

use super::x8_lanes::dot_words;
use crate::blocks::BlockQ8K;
use crate::blocks_x8::BlockQ4Kx8;
use crate::generic::x8::q4_k::Q4Kx8;
use crate::x86::avx2::q4_k_x8::{finish, min_pairs, Q4KReady, Q4Kx8Avx2};
use crate::x86::avx2::x8_lanes::{f16x8, KWords};
use crate::x8_walk::{self as walk, X8Pair};

/// Marker for the Q4_K x8 × Q8_K driver, AVX-512 tier.
pub(crate) struct Q4Kx8Avx512;

/// `isum` plus sub-block `S`'s `sc·Σ q·a` in each row's lane.
///
/// # Safety
/// The CPU supports AVX-512 VNNI and VL.
#[inline(always)]
unsafe fn sub_sum<const S: usize>(q: &impl KWords, a: &BlockQ8K, isum: __m256i) -> __m256i {
    // SAFETY: register-only operations and reads inside `a.qs`.
    unsafe {
        let words = [
            q.word(8 * S),
            q.word(8 * S + 1),
            q.word(8 * S + 2),
            q.word(8 * S + 3),
            q.word(8 * S + 4),
            q.word(8 * S + 5),
            q.word(8 * S + 6),
            q.word(8 * S + 7),
        ];
        let dot = dot_words(&words, &a.qs, 8 * S);
        // The scale sits in both 16-bit halves of the row's lane.
        let sc = _mm256_srli_epi32::<16>(q.scale(S));
        _mm256_add_epi32(isum, _mm256_mullo_epi32(dot, sc))
    }
}

/// The eight rows' float terms, as the twin's block term.
///
/// # Safety
/// The CPU supports AVX-512 VNNI/VL, AVX2, FMA and F16C.
#[inline(always)]
unsafe fn terms_from(
    q: &impl KWords,
    mins: [__m256i; 4],
    d: __m256,
    dmin: __m256,
    a: &BlockQ8K,
) -> __m256 {
    // SAFETY: forwarded.
    unsafe {
        // Constant sub-block numbers: every word's unpacking is static.
        let mut isum = _mm256_setzero_si256();
        isum = sub_sum::<0>(q, a, isum);
        isum = sub_sum::<1>(q, a, isum);
        isum = sub_sum::<2>(q, a, isum);
        isum = sub_sum::<3>(q, a, isum);
        isum = sub_sum::<4>(q, a, isum);
        isum = sub_sum::<5>(q, a, isum);
        isum = sub_sum::<6>(q, a, isum);
        isum = sub_sum::<7>(q, a, isum);
        finish(isum, mins, d, dmin, a)
    }
}

impl X8Pair for Q4Kx8Avx512 {
    type Lanes = __m256;
    type Twin = Q4Kx8;
    type Ready = Q4KReady;

    #[inline(always)]
    unsafe fn new_ready() -> Q4KReady {
        // SAFETY: forwarded.
        unsafe { Q4Kx8Avx2::new_ready() }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ4Kx8, r: &mut Q4KReady) {
        // SAFETY: forwarded (AVX-512 implies the AVX2 pair's features).
        unsafe { Q4Kx8Avx2::ready(w, r) }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q4KReady, a: &BlockQ8K, _a_sum: i32) -> __m256 {
        // SAFETY: forwarded.
        unsafe { terms_from(r, r.mins, r.d, r.dmin, a) }
    }

    #[inline(always)]
    unsafe fn terms_direct(w: &BlockQ4Kx8, a: &BlockQ8K, _a_sum: i32) -> __m256 {
        // SAFETY: forwarded; every read is inside `w`.
        unsafe {
            let mins = [
                min_pairs(w, 0),
                min_pairs(w, 1),
                min_pairs(w, 2),
                min_pairs(w, 3),
            ];
            terms_from(w, mins, f16x8(&w.d), f16x8(&w.dmin), a)
        }
    }
}

/// AVX-512 twin of [`crate::generic::x8::q4_k::gemm_q4_kx8_q8_k`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C; the operands meet the
/// [`crate::table::GemmX8Fn`] contract.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemm_q4_kx8_q8_k_avx512(
    w: &[BlockQ4Kx8],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    // SAFETY: the caller guarantees the features.
    unsafe { walk::gemm::<Q4Kx8Avx512>(w, act, n_act, out, ld, rows) }
}
