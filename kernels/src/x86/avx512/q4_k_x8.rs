//! AVX-512 VNNI x8 products of Q4_K weights with Q8_K activations, bit-identical to the scalar
//! twin [`crate::generic::x8::q4_k`]: the AVX2 pair's unpacking and float steps; per sub-block,
//! `vpdpbusd` sums the nibbles against the activations in 32 bits, then one 32-bit multiply by
//! the rows' scales.

use core::arch::x86_64::*;

use super::x8_lanes::dot_words;
use super::x8_wide::{self as wide, dot_words16, join, join_ps, KGroups, KWideReady, WidePair};
use crate::blocks::BlockQ8K;
use crate::blocks_x8::BlockQ4Kx8;
use crate::generic::x8::q4_k::Q4Kx8;
use crate::x86::avx2::q4_k_x8::{finish, min_pairs, Q4KReady, Q4Kx8Avx2};
use crate::x86::avx2::x8_lanes::{f16x8, KWords};
use crate::x8_walk::{self as walk, BlockScalars, X8Pair};

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

    wide::pairs_stripes!(tile_pair_k);

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

impl WidePair for Q4Kx8Avx512 {
    type Wide = KWideReady;

    #[inline(always)]
    unsafe fn new_wide() -> KWideReady {
        // SAFETY: forwarded.
        unsafe { wide::new_k_wide() }
    }

    #[inline(always)]
    unsafe fn ready_wide(w0: &BlockQ4Kx8, w1: &BlockQ4Kx8, r: &mut KWideReady) {
        // SAFETY: forwarded.
        unsafe {
            let (mut lo, mut hi) = (Self::new_ready(), Self::new_ready());
            Self::ready(w0, &mut lo);
            Self::ready(w1, &mut hi);
            for j in 0..64 {
                r.words[j] = join(lo.words[j], hi.words[j]);
            }
            for s in 0..8 {
                r.scales[s] = join(lo.scales[s], hi.scales[s]);
            }
            for p in 0..4 {
                r.pairs[p] = join(lo.mins[p], hi.mins[p]);
            }
            r.d = join_ps(lo.d, hi.d);
            r.dmin = join_ps(lo.dmin, hi.dmin);
        }
    }

    #[inline(always)]
    unsafe fn terms_wide(r: &KWideReady, a: &BlockQ8K, _a_sum: i32, _k: &BlockScalars) -> __m512 {
        // SAFETY: forwarded.
        unsafe { Self::groups_terms(r, a) }
    }
}

impl KGroups for Q4Kx8Avx512 {
    const GROUPS: usize = 8;
    type Words = [__m512i; 8];

    #[inline(always)]
    unsafe fn group_words(r: &KWideReady, g: usize) -> [__m512i; 8] {
        let w = &r.words[8 * g..8 * g + 8];
        [w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]
    }

    #[inline(always)]
    unsafe fn group_scale(r: &KWideReady, g: usize) -> __m512i {
        // SAFETY: register-only AVX-512 F operations (the caller's features). The scale sits
        // in both 16-bit halves of the row's lane.
        unsafe { _mm512_srli_epi32::<16>(r.scales[g]) }
    }

    #[inline(always)]
    unsafe fn group_sum(
        words: &[__m512i; 8],
        sc: __m512i,
        a: &BlockQ8K,
        g: usize,
        isum: __m512i,
    ) -> __m512i {
        // SAFETY: the caller's features; reads inside `a.qs` (`g < 8`). Lane by lane the
        // operations of `sub_sum`.
        unsafe {
            let dot = dot_words16(words, &a.qs[32 * g..]);
            _mm512_add_epi32(isum, _mm512_mullo_epi32(dot, sc))
        }
    }

    #[inline(always)]
    unsafe fn finish_wide(r: &KWideReady, a: &BlockQ8K, isum: __m512i) -> __m512 {
        // SAFETY: the caller's features; reads inside `a`. Lane by lane the operations of
        // `finish`.
        unsafe {
            // The minimums' part, as `finish`: sums of sub-blocks 2p and 2p + 1.
            let bsums = _mm256_loadu_si256(a.bsums.as_ptr() as *const __m256i);
            let pairs = _mm256_hadd_epi16(bsums, bsums);
            let mut msum = _mm512_setzero_si512();
            for (p, idx) in [0, 1, 4, 5].into_iter().enumerate() {
                let bc = _mm256_permutevar8x32_epi32(pairs, _mm256_set1_epi32(idx));
                let bc = _mm512_broadcast_i64x4(bc);
                msum = _mm512_add_epi32(msum, _mm512_madd_epi16(r.pairs[p], bc));
            }
            let ad = _mm512_set1_ps(a.d);
            let dd = _mm512_mul_ps(r.d, ad);
            let dm = _mm512_mul_ps(r.dmin, ad);
            _mm512_sub_ps(
                _mm512_mul_ps(dd, _mm512_cvtepi32_ps(isum)),
                _mm512_mul_ps(dm, _mm512_cvtepi32_ps(msum)),
            )
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
