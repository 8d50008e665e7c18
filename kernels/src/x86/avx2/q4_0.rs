//! AVX2 kernels for Q4_0 weights × Q8_0 activations, bit-identical to the scalar twins in
//! [`crate::generic::q4_0`].
//!
//! Integer part: `sum((q - 8) * a) = maddubs(q, a) - maddubs(8, a)` per i16 pair (no saturation:
//! `|pair| <= 2 * 15 * 128`), exact for every activation byte including -128, unlike the
//! sign-flip trick. `maddubs(8, a)` depends on the activation only and is shared by all rows.

use core::arch::x86_64::*;

use super::legacy_lanes::{self as lanes, gather_f16_inserted};
use super::legacy_tiles::{self as tiles, LegacyPairAvx2};
use crate::blocks::{BlockQ4_0, BlockQ8_0};

/// Marker for the Q4_0 × Q8_0 driver.
pub(crate) struct Q4_0Avx2;

impl LegacyPairAvx2 for Q4_0Avx2 {
    type W = BlockQ4_0;
    type A = BlockQ8_0;
    /// The 32 nibbles as bytes.
    type WUnpacked = __m256i;
    /// Activation quants and `maddubs(8, a)`.
    type Prepared = (__m256i, __m256i);
    /// Weight scales.
    type WScales = __m256;
    /// Activation scales.
    type ActScales = __m256;

    #[inline(always)]
    unsafe fn unpack(w: &BlockQ4_0) -> __m256i {
        // SAFETY: the caller guarantees AVX2; the loads read the block's own quant arrays.
        unsafe { lanes::nibbles32(&w.qs) }
    }

    #[inline(always)]
    unsafe fn prepare(a: &BlockQ8_0) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2; the load reads the block's 32 quants.
        unsafe {
            let y = lanes::load_i8x32(&a.qs);
            (y, _mm256_maddubs_epi16(_mm256_set1_epi8(8), y))
        }
    }

    #[inline(always)]
    unsafe fn partials(w: &__m256i, a: &(__m256i, __m256i)) -> __m256i {
        // SAFETY: register-only AVX2 operations; the caller guarantees AVX2.
        unsafe { lanes::widen_pairs(_mm256_sub_epi16(_mm256_maddubs_epi16(*w, a.0), a.1)) }
    }

    #[inline(always)]
    unsafe fn w_scales(w: &[BlockQ4_0]) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { gather_f16_inserted(w, |b| b.d.to_bits()) }
    }

    #[inline(always)]
    unsafe fn act_scales(a: &[BlockQ8_0]) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { gather_f16_inserted(a, |b| b.d.to_bits()) }
    }

    #[inline(always)]
    unsafe fn terms(w: &__m256, a: &__m256, isums: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX2. (dx * dy) * isum, as the twin.
        unsafe { _mm256_mul_ps(_mm256_mul_ps(*w, *a), isums) }
    }
}

/// AVX2 twin of [`crate::generic::vec_dot_q4_0_q8_0`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q4_0_q8_0_avx2(x: &[BlockQ4_0], y: &[BlockQ8_0]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe { tiles::vec_dot::<Q4_0Avx2>(x, y) }
}

/// AVX2 twin of [`crate::generic::gemv_q4_0_q8_0`], four rows at a time.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q4_0_q8_0_avx2(w: &[BlockQ4_0], act: &[BlockQ8_0], out: &mut [f32]) {
    // SAFETY: the caller guarantees the features.
    unsafe { tiles::gemv::<Q4_0Avx2>(w, act, out) }
}

/// AVX2 twin of [`crate::generic::gemm_q4_0_q8_0`], in tiles of four rows × four activation rows.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q4_0_q8_0_avx2(
    w: &[BlockQ4_0],
    act: &[BlockQ8_0],
    n_act: usize,
    out: &mut [f32],
) {
    // SAFETY: the caller guarantees the features.
    unsafe { tiles::gemm::<Q4_0Avx2>(w, act, n_act, out) }
}
