//! AVX-512 VNNI x8 products of Q6_K weights with Q8_K activations, bit-identical to the scalar
//! twin [`crate::generic::x8::q6_k`]: the AVX2 pair's unpacking and float steps; per sub-block
//! of 16, `vpdpbusd` sums the stored quants (`q + 32`) against the activations in 32 bits, then
//! one 32-bit multiply by the rows' signed scales.

use core::arch::x86_64::*;

use super::x8_lanes::dot_words;
use super::x8_wide::{self as wide, dot_words16, join, join_ps, KGroups, KWideReady, WidePair};
use crate::blocks::BlockQ8K;
use crate::blocks_x8::BlockQ6Kx8;
use crate::generic::x8::q6_k::Q6Kx8;
use crate::x86::avx2::q6_k_x8::{finish, scale_pairs, Q6KReady, Q6Kx8Avx2};
use crate::x86::avx2::x8_lanes::{f16x8, KWords};
use crate::x8_walk::{self as walk, BlockScalars, X8Pair};

/// Marker for the Q6_K x8 × Q8_K driver, AVX-512 tier.
pub(crate) struct Q6Kx8Avx512;

/// `isum` plus sub-block `G`'s `sc·Σ q·a` in each row's lane.
///
/// # Safety
/// The CPU supports AVX-512 VNNI and VL.
#[inline(always)]
unsafe fn group_sum<const G: usize>(q: &impl KWords, a: &BlockQ8K, isum: __m256i) -> __m256i {
    // SAFETY: register-only operations and reads inside `a.qs`.
    unsafe {
        let words = [
            q.word(4 * G),
            q.word(4 * G + 1),
            q.word(4 * G + 2),
            q.word(4 * G + 3),
        ];
        let dot = dot_words(&words, &a.qs, 4 * G);
        // The signed scale sits in both 16-bit halves of the row's lane.
        let sc = _mm256_srai_epi32::<16>(q.scale(G));
        _mm256_add_epi32(isum, _mm256_mullo_epi32(dot, sc))
    }
}

/// The eight rows' float terms, as the twin's block term.
///
/// # Safety
/// The CPU supports AVX-512 VNNI/VL, AVX2, FMA and F16C.
#[inline(always)]
unsafe fn terms_from(q: &impl KWords, pairs: &[__m256i; 8], d: __m256, a: &BlockQ8K) -> __m256 {
    // SAFETY: forwarded.
    unsafe {
        // Constant group numbers: every word's unpacking is static.
        let mut isum = _mm256_setzero_si256();
        isum = group_sum::<0>(q, a, isum);
        isum = group_sum::<1>(q, a, isum);
        isum = group_sum::<2>(q, a, isum);
        isum = group_sum::<3>(q, a, isum);
        isum = group_sum::<4>(q, a, isum);
        isum = group_sum::<5>(q, a, isum);
        isum = group_sum::<6>(q, a, isum);
        isum = group_sum::<7>(q, a, isum);
        isum = group_sum::<8>(q, a, isum);
        isum = group_sum::<9>(q, a, isum);
        isum = group_sum::<10>(q, a, isum);
        isum = group_sum::<11>(q, a, isum);
        isum = group_sum::<12>(q, a, isum);
        isum = group_sum::<13>(q, a, isum);
        isum = group_sum::<14>(q, a, isum);
        isum = group_sum::<15>(q, a, isum);
        finish(isum, pairs, d, a)
    }
}

impl X8Pair for Q6Kx8Avx512 {
    type Lanes = __m256;
    type Twin = Q6Kx8;
    type Ready = Q6KReady;

    wide::pairs_stripes!(tile_pair_k);

    #[inline(always)]
    unsafe fn new_ready() -> Q6KReady {
        // SAFETY: forwarded.
        unsafe { Q6Kx8Avx2::new_ready() }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ6Kx8, r: &mut Q6KReady) {
        // SAFETY: forwarded (AVX-512 implies the AVX2 pair's features).
        unsafe { Q6Kx8Avx2::ready(w, r) }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q6KReady, a: &BlockQ8K, _a_sum: i32) -> __m256 {
        // SAFETY: forwarded.
        unsafe { terms_from(r, &r.scale_pairs, r.d, a) }
    }

    #[inline(always)]
    unsafe fn terms_direct(w: &BlockQ6Kx8, a: &BlockQ8K, _a_sum: i32) -> __m256 {
        // SAFETY: forwarded; every read is inside `w`.
        unsafe {
            let pairs = [
                scale_pairs(w, 0),
                scale_pairs(w, 1),
                scale_pairs(w, 2),
                scale_pairs(w, 3),
                scale_pairs(w, 4),
                scale_pairs(w, 5),
                scale_pairs(w, 6),
                scale_pairs(w, 7),
            ];
            terms_from(w, &pairs, f16x8(&w.d), a)
        }
    }
}

impl WidePair for Q6Kx8Avx512 {
    type Wide = KWideReady;

    #[inline(always)]
    unsafe fn new_wide() -> KWideReady {
        // SAFETY: forwarded.
        unsafe { wide::new_k_wide() }
    }

    #[inline(always)]
    unsafe fn ready_wide(w0: &BlockQ6Kx8, w1: &BlockQ6Kx8, r: &mut KWideReady) {
        // SAFETY: forwarded.
        unsafe {
            let (mut lo, mut hi) = (Self::new_ready(), Self::new_ready());
            Self::ready(w0, &mut lo);
            Self::ready(w1, &mut hi);
            for j in 0..64 {
                r.words[j] = join(lo.words[j], hi.words[j]);
            }
            for g in 0..16 {
                r.scales[g] = join(lo.scales[g], hi.scales[g]);
            }
            for p in 0..8 {
                r.pairs[p] = join(lo.scale_pairs[p], hi.scale_pairs[p]);
            }
            r.d = join_ps(lo.d, hi.d);
        }
    }

    #[inline(always)]
    unsafe fn terms_wide(r: &KWideReady, a: &BlockQ8K, _a_sum: i32, _k: &BlockScalars) -> __m512 {
        // SAFETY: forwarded.
        unsafe { Self::groups_terms(r, a) }
    }
}

impl KGroups for Q6Kx8Avx512 {
    const GROUPS: usize = 16;
    type Words = [__m512i; 4];

    #[inline(always)]
    unsafe fn group_words(r: &KWideReady, g: usize) -> [__m512i; 4] {
        [
            r.words[4 * g],
            r.words[4 * g + 1],
            r.words[4 * g + 2],
            r.words[4 * g + 3],
        ]
    }

    #[inline(always)]
    unsafe fn group_scale(r: &KWideReady, g: usize) -> __m512i {
        // SAFETY: register-only AVX-512 F operations (the caller's features). The signed scale
        // sits in both 16-bit halves of the row's lane.
        unsafe { _mm512_srai_epi32::<16>(r.scales[g]) }
    }

    #[inline(always)]
    unsafe fn group_sum(
        words: &[__m512i; 4],
        sc: __m512i,
        a: &BlockQ8K,
        g: usize,
        isum: __m512i,
    ) -> __m512i {
        // SAFETY: the caller's features; reads inside `a.qs` (`g < 16`). Lane by lane the
        // operations of `group_sum`.
        unsafe {
            let dot = dot_words16(words, &a.qs[16 * g..]);
            _mm512_add_epi32(isum, _mm512_mullo_epi32(dot, sc))
        }
    }

    #[inline(always)]
    unsafe fn finish_wide(r: &KWideReady, a: &BlockQ8K, isum: __m512i) -> __m512 {
        // SAFETY: the caller's features; reads inside `a`. Lane by lane `finish`.
        unsafe {
            // The stored quants are `q + 32`: take `32·Σ sc·bsum` back off, as `finish`.
            let mut offset = _mm512_setzero_si512();
            for (p, sc2) in r.pairs.iter().enumerate() {
                let bs = core::ptr::read_unaligned(a.bsums.as_ptr().add(2 * p) as *const i32);
                offset = _mm512_add_epi32(offset, _mm512_madd_epi16(*sc2, _mm512_set1_epi32(bs)));
            }
            let isum = _mm512_sub_epi32(isum, _mm512_slli_epi32::<5>(offset));
            _mm512_mul_ps(
                _mm512_mul_ps(r.d, _mm512_set1_ps(a.d)),
                _mm512_cvtepi32_ps(isum),
            )
        }
    }
}

/// AVX-512 twin of [`crate::generic::x8::q6_k::gemm_q6_kx8_q8_k`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C; the operands meet the
/// [`crate::table::GemmX8Fn`] contract.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemm_q6_kx8_q8_k_avx512(
    w: &[BlockQ6Kx8],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    // SAFETY: the caller guarantees the features.
    unsafe { walk::gemm::<Q6Kx8Avx512>(w, act, n_act, out, ld, rows) }
}
