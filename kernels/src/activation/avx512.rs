//! AVX-512 gated activations, bit-identical to [`super::generic`] (and to the AVX2 kernels): the
//! same operations in the same order, sixteen elements at a time, multiply then add (never
//! fused); the tail by the AVX2 kernel (eight at a time) and its twin.

use core::arch::x86_64::*;

use super::avx2;
use super::generic::{GELU_2C, GELU_CUBIC};
use crate::attention::avx512::exp16;

/// Sixteen [`super::generic::sigmoid`]s: the AVX2 `sigmoid8`'s operations, lane for lane.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
unsafe fn sigmoid16(y: __m512) -> __m512 {
    // SAFETY: register arithmetic only; the caller guarantees AVX-512 F.
    unsafe {
        // `-|y|` by setting the sign bit (an integer or: the float form needs AVX-512 DQ).
        let neg = _mm512_or_si512(_mm512_castps_si512(y), _mm512_set1_epi32(i32::MIN));
        let e = exp16(_mm512_castsi512_ps(neg));
        // Ordered compare: NaN takes `e`, as the twin's `y >= 0.0` does.
        let pos = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(y, _mm512_setzero_ps());
        let num = _mm512_mask_mov_ps(e, pos, _mm512_set1_ps(1.0));
        _mm512_div_ps(num, _mm512_add_ps(_mm512_set1_ps(1.0), e))
    }
}

/// `g ← x · σ(arg(x)) · u` sixteen at a time; what is left over (fewer than sixteen) by `rest`.
///
/// # Safety
/// The CPU supports AVX-512 F and whatever `rest` needs.
#[inline(always)]
unsafe fn gated(
    g: &mut [f32],
    u: &[f32],
    arg: impl Fn(__m512) -> __m512,
    rest: unsafe fn(&mut [f32], &[f32]),
) {
    let n = g.len().min(u.len());
    let whole = n - n % 16;
    let (gp, up) = (g.as_mut_ptr(), u.as_ptr());
    let mut i = 0;
    while i < whole {
        // SAFETY: 16 floats at `i < whole <= n` of both slices; AVX-512 F by the caller.
        unsafe {
            let x = _mm512_loadu_ps(gp.add(i));
            let s = sigmoid16(arg(x));
            let y = _mm512_mul_ps(_mm512_mul_ps(x, s), _mm512_loadu_ps(up.add(i)));
            _mm512_storeu_ps(gp.add(i), y);
        }
        i += 16;
    }
    // SAFETY: the caller's features include `rest`'s.
    unsafe { rest(&mut g[whole..n], &u[whole..n]) };
}

/// AVX-512 twin of [`super::generic::silu_mul`].
///
/// # Safety
/// The CPU supports AVX-512 F, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn silu_mul_avx512(g: &mut [f32], u: &[f32]) {
    // SAFETY: forwarded.
    unsafe { gated(g, u, |x| x, avx2::silu_mul_avx2) }
}

/// AVX-512 twin of [`super::generic::gelu_tanh_mul`].
///
/// # Safety
/// The CPU supports AVX-512 F, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn gelu_tanh_mul_avx512(g: &mut [f32], u: &[f32]) {
    // Register arithmetic only, inside this function's AVX-512 context.
    let arg = |x: __m512| {
        let x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        let inner = _mm512_add_ps(x, _mm512_mul_ps(_mm512_set1_ps(GELU_CUBIC), x3));
        _mm512_mul_ps(_mm512_set1_ps(GELU_2C), inner)
    };
    // SAFETY: forwarded.
    unsafe { gated(g, u, arg, avx2::gelu_tanh_mul_avx2) }
}
