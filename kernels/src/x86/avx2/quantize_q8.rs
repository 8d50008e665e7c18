//! AVX2 activation quantizers for Q8_0 and Q8_1, bit-identical to ggml's reference quantizers
//! and to the scalar twins in [`crate::generic::q8_0`] / [`crate::generic::q8_1`].
//!
//! Rounding is `roundf` (half away from zero), done as truncation plus a ±1 where the exact
//! remainder reaches one half, exactly as the twin does it. A block holding NaN or infinity,
//! or whose maximum is so small that `1 / d` overflows, goes through the scalar twin: there
//! the reference's order-dependent `MAX` and its float-to-int conversions of infinities and NaN
//! are what they are, which SIMD lanes would not reproduce.

use core::arch::x86_64::*;

use half::f16;

use crate::blocks::{BlockQ8_0, BlockQ8_1, QK};
use crate::generic::{quantize_row_q8_0, quantize_row_q8_1};

/// One finite block: `(d, quants as i32 in four vectors of 8)`, or `None` when the block holds
/// a non-finite value.
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[inline(always)]
unsafe fn quantize_block(src: &[f32; QK]) -> Option<(f32, [__m256i; 4])> {
    // SAFETY: the loads read the 32 floats of `src`; the caller guarantees the features.
    unsafe {
        let v: [__m256; 4] = [
            _mm256_loadu_ps(src.as_ptr()),
            _mm256_loadu_ps(src.as_ptr().add(8)),
            _mm256_loadu_ps(src.as_ptr().add(16)),
            _mm256_loadu_ps(src.as_ptr().add(24)),
        ];
        let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
        let a: [__m256; 4] = [
            _mm256_and_ps(v[0], abs_mask),
            _mm256_and_ps(v[1], abs_mask),
            _mm256_and_ps(v[2], abs_mask),
            _mm256_and_ps(v[3], abs_mask),
        ];
        // Non-finite (|v| >= inf, or NaN: the unordered compare is true).
        let inf = _mm256_set1_ps(f32::INFINITY);
        let mut bad = _mm256_setzero_ps();
        for ak in a {
            bad = _mm256_or_ps(bad, _mm256_cmp_ps::<_CMP_NLT_UQ>(ak, inf));
        }
        if _mm256_movemask_ps(bad) != 0 {
            return None;
        }
        // Finite, non-negative values: max is order-free, so lanes may reduce in any order.
        let m = _mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3]));
        let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        let m = _mm_max_ss(m, _mm_shuffle_ps::<0b01>(m, m));
        let amax = _mm_cvtss_f32(m);
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        if !id.is_finite() {
            // A subnormal maximum: `1 / d` overflows and the products are infinite or NaN.
            return None;
        }
        let idv = _mm256_set1_ps(id);
        let half = _mm256_set1_ps(0.5);
        let neg_half = _mm256_set1_ps(-0.5);
        let one = _mm256_set1_ps(1.0);
        let mut q = [_mm256_setzero_si256(); 4];
        for (qk, vk) in q.iter_mut().zip(v) {
            let p = _mm256_mul_ps(vk, idv);
            // |p| <= 127 * (1 + 2^-23): truncation and the remainder are exact.
            let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(p);
            let frac = _mm256_sub_ps(p, t);
            let up = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(frac, half), one);
            let down = _mm256_and_ps(_mm256_cmp_ps::<_CMP_LE_OQ>(frac, neg_half), one);
            *qk = _mm256_cvttps_epi32(_mm256_sub_ps(_mm256_add_ps(t, up), down));
        }
        Some((d, q))
    }
}

/// Packs 32 i32 quants (each within i8) into bytes, in order.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn pack_i8(q: &[__m256i; 4], out: &mut [i8; QK]) {
    // SAFETY: the store writes the 32 bytes of `out`; the caller guarantees AVX2.
    unsafe {
        let a = _mm256_packs_epi32(q[0], q[1]);
        let b = _mm256_packs_epi32(q[2], q[3]);
        let bytes = _mm256_packs_epi16(a, b);
        // The packs work per 128-bit half; put the 4-byte groups back in element order.
        let ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, ordered);
    }
}

/// Sum of 32 i32 quants.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn sum_i32(q: &[__m256i; 4]) -> i32 {
    // SAFETY: register-only AVX2 operations; the caller guarantees AVX2.
    unsafe {
        let s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        let s = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }
}

/// AVX2 twin of [`crate::generic::quantize_row_q8_0`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_0_avx2(x: &[f32], y: &mut [BlockQ8_0]) {
    for (src, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let Ok(src) = <&[f32; QK]>::try_from(src) else {
            continue; // unreachable: chunks_exact
        };
        // SAFETY: the caller guarantees the features.
        match unsafe { quantize_block(src) } {
            Some((d, q)) => {
                b.d = f16::from_f32(d);
                // SAFETY: as above.
                unsafe { pack_i8(&q, &mut b.qs) };
            }
            None => quantize_row_q8_0(src, core::slice::from_mut(b)),
        }
    }
}

/// AVX2 twin of [`crate::generic::quantize_row_q8_1`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_1_avx2(x: &[f32], y: &mut [BlockQ8_1]) {
    for (src, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let Ok(src) = <&[f32; QK]>::try_from(src) else {
            continue; // unreachable: chunks_exact
        };
        // SAFETY: the caller guarantees the features.
        match unsafe { quantize_block(src) } {
            Some((d, q)) => {
                b.d = f16::from_f32(d);
                // SAFETY: as above.
                let sum = unsafe {
                    pack_i8(&q, &mut b.qs);
                    sum_i32(&q)
                };
                b.s = f16::from_f32(sum as f32 * d);
            }
            None => quantize_row_q8_1(src, core::slice::from_mut(b)),
        }
    }
}
