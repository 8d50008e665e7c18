//! AVX2 kernels for Q5_1 weights × Q8_1 activations, bit-identical to the scalar twins in
//! [`crate::generic::q5_1`].
//!
//! Integer part: `maddubs(q, a)` (unsigned 5-bit quants × signed activations, `|pair| <= 7936`).

use core::arch::x86_64::*;

use super::avx2_legacy_lanes::{self as lanes, gather_f16_pair, LegacyPairAvx2};
use crate::blocks::{BlockQ5_1, BlockQ8_1};

/// Marker for the Q5_1 × Q8_1 driver.
pub(crate) struct Q5_1Avx2;

impl LegacyPairAvx2 for Q5_1Avx2 {
    type W = BlockQ5_1;
    type A = BlockQ8_1;
    /// Activation quants.
    type Prepared = __m256i;
    /// Activation scales `d` and `s`.
    type ActScales = (__m256, __m256);

    #[inline(always)]
    unsafe fn prepare(a: &BlockQ8_1) -> __m256i {
        // SAFETY: the caller guarantees AVX2; the load reads the block's 32 quants.
        unsafe { lanes::load_i8x32(&a.qs) }
    }

    #[inline(always)]
    unsafe fn partials(w: &BlockQ5_1, a: &__m256i) -> __m256i {
        // SAFETY: the caller guarantees AVX2; the load reads the block's 16 nibble bytes.
        unsafe {
            let q = _mm256_or_si256(
                lanes::nibbles32(&w.qs),
                lanes::fifth_bits32(u32::from_le_bytes(w.qh)),
            );
            lanes::widen_pairs(_mm256_maddubs_epi16(q, *a))
        }
    }

    #[inline(always)]
    unsafe fn act_scales(a: &[BlockQ8_1]) -> (__m256, __m256) {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { gather_f16_pair(a, |b| (b.d.to_bits(), b.s.to_bits())) }
    }

    #[inline(always)]
    unsafe fn terms(w: &[BlockQ5_1], a: &(__m256, __m256), isums: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C. (dx * dy) * isum + m * s, unfused, as
        // the twin.
        unsafe {
            let (dx, mx) = gather_f16_pair(w, |b| (b.d.to_bits(), b.m.to_bits()));
            _mm256_add_ps(
                _mm256_mul_ps(_mm256_mul_ps(dx, a.0), isums),
                _mm256_mul_ps(mx, a.1),
            )
        }
    }
}

/// AVX2 twin of [`crate::generic::vec_dot_q5_1_q8_1`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q5_1_q8_1_avx2(x: &[BlockQ5_1], y: &[BlockQ8_1]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe { lanes::vec_dot::<Q5_1Avx2>(x, y) }
}

/// AVX2 twin of [`crate::generic::gemv_q5_1_q8_1`], four rows at a time.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q5_1_q8_1_avx2(w: &[BlockQ5_1], act: &[BlockQ8_1], out: &mut [f32]) {
    // SAFETY: the caller guarantees the features.
    unsafe { lanes::gemv::<Q5_1Avx2>(w, act, out) }
}
