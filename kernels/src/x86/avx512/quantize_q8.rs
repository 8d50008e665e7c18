//! AVX-512 activation quantizers for Q8_0 and Q8_1, bit-identical to the scalar twins in
//! [`crate::generic::q8_0`] / [`crate::generic::q8_1`] (and to the AVX2 ones): a block of 32 is
//! two registers. The steps are the AVX2 kernel's: a block holding NaN or infinity, or whose
//! `1 / d` overflows, goes through the twin; rounding is `roundf` (half away from zero) as
//! truncation plus a ±1 where the exact remainder reaches one half; the maximum and the quant
//! sum are order-free (non-negative finite floats, integers). The scales are narrowed to f16
//! with `vcvtps2ph` in the kernel (round to nearest even, as `half`), not by a call per block.

use core::arch::x86_64::*;

use half::f16;

use crate::blocks::{BlockQ8_0, BlockQ8_1, QK};
use crate::generic::{quantize_row_q8_0, quantize_row_q8_1};

/// One finite block: `(d, quants as i32 in two vectors of 16)`, or `None` when the block holds
/// a non-finite value or its `1 / d` overflows.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
unsafe fn quantize_block(src: &[f32; QK]) -> Option<(f32, [__m512i; 2])> {
    // SAFETY: the loads read the 32 floats of `src`; the caller guarantees the features.
    unsafe {
        let v = [
            _mm512_loadu_ps(src.as_ptr()),
            _mm512_loadu_ps(src.as_ptr().add(16)),
        ];
        let a = [_mm512_abs_ps(v[0]), _mm512_abs_ps(v[1])];
        // Non-finite (|v| >= inf, or NaN: the unordered compare is true).
        let inf = _mm512_set1_ps(f32::INFINITY);
        let bad = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(a[0], inf)
            | _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(a[1], inf);
        if bad != 0 {
            return None;
        }
        // Finite, non-negative values: max is order-free.
        let amax = _mm512_reduce_max_ps(_mm512_max_ps(a[0], a[1]));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        if !id.is_finite() {
            return None;
        }
        let idv = _mm512_set1_ps(id);
        let half = _mm512_set1_ps(0.5);
        let neg_half = _mm512_set1_ps(-0.5);
        let one = _mm512_set1_ps(1.0);
        let mut q = [_mm512_setzero_si512(); 2];
        for (qk, vk) in q.iter_mut().zip(v) {
            let p = _mm512_mul_ps(vk, idv);
            // |p| <= 127 * (1 + 2^-23): truncation and the remainder are exact.
            let t = _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(p);
            let frac = _mm512_sub_ps(p, t);
            let up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(frac, half);
            let down = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(frac, neg_half);
            let r = _mm512_mask_add_ps(t, up, t, one);
            let r = _mm512_mask_sub_ps(r, down, r, one);
            *qk = _mm512_cvttps_epi32(r);
        }
        Some((d, q))
    }
}

/// Stores 32 i32 quants (each within i8) as bytes, in order.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
unsafe fn pack_i8(q: &[__m512i; 2], out: &mut [i8; QK]) {
    // SAFETY: the stores write the 32 bytes of `out`; the caller guarantees AVX-512 F.
    unsafe {
        _mm_storeu_si128(out.as_mut_ptr().cast(), _mm512_cvtsepi32_epi8(q[0]));
        _mm_storeu_si128(out.as_mut_ptr().add(16).cast(), _mm512_cvtsepi32_epi8(q[1]));
    }
}

/// `x` narrowed to f16, rounding to nearest even (as `f16::from_f32`).
///
/// # Safety
/// The CPU supports F16C.
#[inline(always)]
unsafe fn to_f16(x: f32) -> f16 {
    // SAFETY: register-only F16C operations.
    unsafe {
        let h = _mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set_ss(x));
        f16::from_bits(_mm_cvtsi128_si32(h) as u16)
    }
}

/// AVX-512 twin of [`crate::generic::quantize_row_q8_0`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_0_avx512(x: &[f32], y: &mut [BlockQ8_0]) {
    for (src, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let Ok(src) = <&[f32; QK]>::try_from(src) else {
            continue; // unreachable: chunks_exact
        };
        // SAFETY: the caller guarantees the features.
        match unsafe { quantize_block(src) } {
            Some((d, q)) => {
                // SAFETY: as above.
                unsafe {
                    b.d = to_f16(d);
                    pack_i8(&q, &mut b.qs);
                }
            }
            None => quantize_row_q8_0(src, core::slice::from_mut(b)),
        }
    }
}

/// AVX-512 twin of [`crate::generic::quantize_row_q8_1`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_1_avx512(x: &[f32], y: &mut [BlockQ8_1]) {
    for (src, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let Ok(src) = <&[f32; QK]>::try_from(src) else {
            continue; // unreachable: chunks_exact
        };
        // SAFETY: the caller guarantees the features.
        match unsafe { quantize_block(src) } {
            Some((d, q)) => {
                // SAFETY: as above.
                unsafe {
                    b.d = to_f16(d);
                    pack_i8(&q, &mut b.qs);
                    let sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q[0], q[1]));
                    b.s = to_f16(sum as f32 * d);
                }
            }
            None => quantize_row_q8_1(src, core::slice::from_mut(b)),
        }
    }
}
