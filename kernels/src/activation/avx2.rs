//! AVX2 gated activations, bit-identical to [`super::generic`]: the same operations in the same
//! order, eight elements at a time, multiply then add (never fused); the tail by the twin.

use core::arch::x86_64::*;

use super::generic::{self, GELU_2C, GELU_CUBIC};
use crate::attention::avx2::exp8;

/// Eight [`generic::sigmoid`]s.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn sigmoid8(y: __m256) -> __m256 {
    // SAFETY: register arithmetic only; the caller guarantees AVX2.
    unsafe {
        let e = exp8(_mm256_or_ps(y, _mm256_set1_ps(-0.0)));
        // Ordered compare: NaN takes `e`, as the twin's `y >= 0.0` does.
        let pos = _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GE_OQ);
        let num = _mm256_blendv_ps(e, _mm256_set1_ps(1.0), pos);
        _mm256_div_ps(num, _mm256_add_ps(_mm256_set1_ps(1.0), e))
    }
}

/// `g ← f(g) · u` eight at a time for `f(x) = x · σ(arg(x))`, the tail by `twin`.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn gated(
    g: &mut [f32],
    u: &[f32],
    arg: impl Fn(__m256) -> __m256,
    twin: fn(&mut [f32], &[f32]),
) {
    let n = g.len().min(u.len());
    let whole = n - n % 8;
    let (gp, up) = (g.as_mut_ptr(), u.as_ptr());
    let mut i = 0;
    while i < whole {
        // SAFETY: 8 floats at `i < whole <= n` of both slices; AVX2 by the caller.
        unsafe {
            let x = _mm256_loadu_ps(gp.add(i));
            let s = sigmoid8(arg(x));
            let y = _mm256_mul_ps(_mm256_mul_ps(x, s), _mm256_loadu_ps(up.add(i)));
            _mm256_storeu_ps(gp.add(i), y);
        }
        i += 8;
    }
    twin(&mut g[whole..n], &u[whole..n]);
}

/// AVX2 twin of [`generic::silu_mul`].
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn silu_mul_avx2(g: &mut [f32], u: &[f32]) {
    // SAFETY: forwarded.
    unsafe { gated(g, u, |x| x, generic::silu_mul) }
}

/// AVX2 twin of [`generic::gelu_tanh_mul`].
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn gelu_tanh_mul_avx2(g: &mut [f32], u: &[f32]) {
    // Register arithmetic only, inside this function's AVX2 context.
    let arg = |x: __m256| {
        let x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        let inner = _mm256_add_ps(x, _mm256_mul_ps(_mm256_set1_ps(GELU_CUBIC), x3));
        _mm256_mul_ps(_mm256_set1_ps(GELU_2C), inner)
    };
    // SAFETY: forwarded.
    unsafe { gated(g, u, arg, generic::gelu_tanh_mul) }
}
