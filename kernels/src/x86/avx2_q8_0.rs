//! AVX2 kernels for Q8_0 weights × Q8_0 activations, bit-identical to the scalar twins in
//! [`crate::generic::q8_0`].
//!
//! Integer part: both sides sign-extended to i16 and `madd`-ed: exact for every byte pair
//! (including -128 × -128, which the `maddubs` sign trick would get wrong).

use core::arch::x86_64::*;

use super::avx2_legacy_lanes::{self as lanes, gather_f16, LegacyPairAvx2};
use crate::blocks::BlockQ8_0;

/// Marker for the Q8_0 × Q8_0 driver.
pub(crate) struct Q8_0Avx2;

impl LegacyPairAvx2 for Q8_0Avx2 {
    type W = BlockQ8_0;
    type A = BlockQ8_0;
    /// Activation quants 0..16 and 16..32 widened to i16.
    type Prepared = (__m256i, __m256i);
    /// Activation scales.
    type ActScales = __m256;

    #[inline(always)]
    unsafe fn prepare(a: &BlockQ8_0) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2; the load reads the block's 32 quants.
        unsafe {
            let y = lanes::load_i8x32(&a.qs);
            (
                _mm256_cvtepi8_epi16(_mm256_castsi256_si128(y)),
                _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(y)),
            )
        }
    }

    #[inline(always)]
    unsafe fn partials(w: &BlockQ8_0, a: &(__m256i, __m256i)) -> __m256i {
        // SAFETY: the caller guarantees AVX2; the load reads the block's 32 quants.
        unsafe {
            let x = lanes::load_i8x32(&w.qs);
            let lo = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(x)), a.0);
            let hi = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(x)), a.1);
            _mm256_add_epi32(lo, hi)
        }
    }

    #[inline(always)]
    unsafe fn act_scales(a: &[BlockQ8_0]) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { gather_f16(a, |b| b.d.to_bits()) }
    }

    #[inline(always)]
    unsafe fn terms(w: &[BlockQ8_0], dy: &__m256, isums: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C. (dx * dy) * isum, as the twin.
        unsafe {
            let dx = gather_f16(w, |b| b.d.to_bits());
            _mm256_mul_ps(_mm256_mul_ps(dx, *dy), isums)
        }
    }
}

/// AVX2 twin of [`crate::generic::vec_dot_q8_0_q8_0`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q8_0_q8_0_avx2(x: &[BlockQ8_0], y: &[BlockQ8_0]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe { lanes::vec_dot::<Q8_0Avx2>(x, y) }
}

/// AVX2 twin of [`crate::generic::gemv_q8_0_q8_0`], four rows at a time.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q8_0_q8_0_avx2(w: &[BlockQ8_0], act: &[BlockQ8_0], out: &mut [f32]) {
    // SAFETY: the caller guarantees the features.
    unsafe { lanes::gemv::<Q8_0Avx2>(w, act, out) }
}
