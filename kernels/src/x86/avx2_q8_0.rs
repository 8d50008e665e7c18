//! AVX2 kernels for Q8_0 weights × Q8_0 activations, bit-identical to the scalar twins in
//! [`crate::generic::q8_0`].
//!
//! Integer part: both sides sign-extended to i16 and `madd`-ed: exact for every byte pair
//! (including -128 × -128, which the `maddubs` sign trick would get wrong).

use core::arch::x86_64::*;

use super::avx2_legacy_lanes::{self as lanes, gather_f16_packed};
use super::avx2_legacy_tiles::{self as tiles, LegacyPairAvx2};
use crate::blocks::BlockQ8_0;

/// Marker for the Q8_0 × Q8_0 driver.
pub(crate) struct Q8_0Avx2;

impl LegacyPairAvx2 for Q8_0Avx2 {
    type W = BlockQ8_0;
    type A = BlockQ8_0;
    /// Quants 0..16 and 16..32 widened to i16.
    type WUnpacked = (__m256i, __m256i);
    /// Quants 0..16 and 16..32 widened to i16.
    type Prepared = (__m256i, __m256i);
    /// Weight scales.
    type WScales = __m256;
    /// Activation scales.
    type ActScales = __m256;

    #[inline(always)]
    unsafe fn unpack(w: &BlockQ8_0) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2; the loads read the block's own quant arrays.
        unsafe { lanes::widen_i8x32(&w.qs) }
    }

    #[inline(always)]
    unsafe fn prepare(a: &BlockQ8_0) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2; the load reads the block's 32 quants.
        unsafe { lanes::widen_i8x32(&a.qs) }
    }

    #[inline(always)]
    unsafe fn partials(w: &(__m256i, __m256i), a: &(__m256i, __m256i)) -> __m256i {
        // SAFETY: register-only AVX2 operations; the caller guarantees AVX2.
        unsafe { _mm256_add_epi32(_mm256_madd_epi16(w.0, a.0), _mm256_madd_epi16(w.1, a.1)) }
    }

    #[inline(always)]
    unsafe fn w_scales(w: &[BlockQ8_0]) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { gather_f16_packed(w, |b| b.d.to_bits()) }
    }

    #[inline(always)]
    unsafe fn act_scales(a: &[BlockQ8_0]) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { gather_f16_packed(a, |b| b.d.to_bits()) }
    }

    #[inline(always)]
    unsafe fn terms(w: &__m256, a: &__m256, isums: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX2. (dx * dy) * isum, as the twin.
        unsafe { _mm256_mul_ps(_mm256_mul_ps(*w, *a), isums) }
    }
}

/// AVX2 twin of [`crate::generic::vec_dot_q8_0_q8_0`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q8_0_q8_0_avx2(x: &[BlockQ8_0], y: &[BlockQ8_0]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe { tiles::vec_dot::<Q8_0Avx2>(x, y) }
}

/// AVX2 twin of [`crate::generic::gemv_q8_0_q8_0`], four rows at a time.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q8_0_q8_0_avx2(w: &[BlockQ8_0], act: &[BlockQ8_0], out: &mut [f32]) {
    // SAFETY: the caller guarantees the features.
    unsafe { tiles::gemv::<Q8_0Avx2>(w, act, out) }
}

/// AVX2 twin of [`crate::generic::gemm_q8_0_q8_0`], in tiles of four rows × four activation rows.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q8_0_q8_0_avx2(
    w: &[BlockQ8_0],
    act: &[BlockQ8_0],
    n_act: usize,
    out: &mut [f32],
) {
    // SAFETY: the caller guarantees the features.
    unsafe { tiles::gemm::<Q8_0Avx2>(w, act, n_act, out) }
}
