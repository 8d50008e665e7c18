//! AVX2 kernels for Q4_1 weights × Q8_1 activations, bit-identical to the scalar twins in
//! [`crate::generic::q4_1`].
//!
//! Integer part: `maddubs(q, a)` (unsigned nibbles × signed activations, `|pair| <= 3840`).

use core::arch::x86_64::*;

use super::legacy_lanes::{self as lanes, gather_f16_pair};
use super::legacy_tiles::{self as tiles, LegacyPairAvx2};
use crate::blocks::{BlockQ4_1, BlockQ8_1};

/// Marker for the Q4_1 × Q8_1 driver.
pub(crate) struct Q4_1Avx2;

impl LegacyPairAvx2 for Q4_1Avx2 {
    type W = BlockQ4_1;
    type A = BlockQ8_1;
    /// The 32 nibbles as bytes.
    type WUnpacked = __m256i;
    /// Activation quants.
    type Prepared = __m256i;
    /// Weight scales `d` and minimums `m`.
    type WScales = (__m256, __m256);
    /// Activation scales `d` and `s = d * sum(a)`.
    type ActScales = (__m256, __m256);
    // Folding is faster in gemv tiles too here (1-7%, kernels_fastest).
    const FOLD_TOTALS_IN_TILES: bool = true;

    #[inline(always)]
    unsafe fn unpack(w: &BlockQ4_1) -> __m256i {
        // SAFETY: the caller guarantees AVX2; the loads read the block's own quant arrays.
        unsafe { lanes::nibbles32(&w.qs) }
    }

    #[inline(always)]
    unsafe fn prepare(a: &BlockQ8_1) -> __m256i {
        // SAFETY: the caller guarantees AVX2; the load reads the block's 32 quants.
        unsafe { lanes::load_i8x32(&a.qs) }
    }

    #[inline(always)]
    unsafe fn partials(w: &__m256i, a: &__m256i) -> __m256i {
        // SAFETY: register-only AVX2 operations; the caller guarantees AVX2.
        unsafe { lanes::widen_pairs(_mm256_maddubs_epi16(*w, *a)) }
    }

    #[inline(always)]
    unsafe fn w_scales(w: &[BlockQ4_1]) -> (__m256, __m256) {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { gather_f16_pair(w, |b| (b.d.to_bits(), b.m.to_bits())) }
    }

    #[inline(always)]
    unsafe fn act_scales(a: &[BlockQ8_1]) -> (__m256, __m256) {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { gather_f16_pair(a, |b| (b.d.to_bits(), b.s.to_bits())) }
    }

    #[inline(always)]
    unsafe fn terms(w: &(__m256, __m256), a: &(__m256, __m256), isums: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX2. (dx * dy) * isum + m * s, unfused, as the twin.
        unsafe {
            let d = _mm256_mul_ps(w.0, a.0);
            _mm256_add_ps(_mm256_mul_ps(d, isums), _mm256_mul_ps(w.1, a.1))
        }
    }
}

/// AVX2 twin of [`crate::generic::vec_dot_q4_1_q8_1`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q4_1_q8_1_avx2(x: &[BlockQ4_1], y: &[BlockQ8_1]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe { tiles::vec_dot::<Q4_1Avx2>(x, y) }
}

/// AVX2 twin of [`crate::generic::gemv_q4_1_q8_1`], four rows at a time.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q4_1_q8_1_avx2(w: &[BlockQ4_1], act: &[BlockQ8_1], out: &mut [f32]) {
    // SAFETY: the caller guarantees the features.
    unsafe { tiles::gemv::<Q4_1Avx2>(w, act, out) }
}

/// AVX2 twin of [`crate::generic::gemm_q4_1_q8_1`], in tiles of four rows × four activation rows.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q4_1_q8_1_avx2(
    w: &[BlockQ4_1],
    act: &[BlockQ8_1],
    n_act: usize,
    out: &mut [f32],
) {
    // SAFETY: the caller guarantees the features.
    unsafe { tiles::gemm::<Q4_1Avx2>(w, act, n_act, out) }
}
