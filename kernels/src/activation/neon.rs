//! NEON gated activations, bit-identical to [`super::generic`]: the same operations in the same
//! order, four elements at a time, multiply then add (never fused); the tail by the twin.

use core::arch::aarch64::*;

use super::generic::{self, GELU_2C, GELU_CUBIC};
use crate::attention::neon::exp4;

/// Four [`generic::sigmoid`]s.
///
/// # Safety
/// NEON (every aarch64 CPU).
#[inline(always)]
unsafe fn sigmoid4(y: float32x4_t) -> float32x4_t {
    // SAFETY: register arithmetic only.
    unsafe {
        let neg = vreinterpretq_f32_u32(vorrq_u32(
            vreinterpretq_u32_f32(y),
            vdupq_n_u32(0x8000_0000),
        ));
        let e = exp4(neg);
        // A NaN compares false and takes `e`, as the twin's `y >= 0.0` does.
        let pos = vcgeq_f32(y, vdupq_n_f32(0.0));
        let num = vbslq_f32(pos, vdupq_n_f32(1.0), e);
        vdivq_f32(num, vaddq_f32(vdupq_n_f32(1.0), e))
    }
}

/// `g ← f(g) · u` four at a time for `f(x) = x · σ(arg(x))`, the tail by `twin`.
///
/// # Safety
/// NEON (every aarch64 CPU).
#[inline(always)]
unsafe fn gated(
    g: &mut [f32],
    u: &[f32],
    arg: impl Fn(float32x4_t) -> float32x4_t,
    twin: fn(&mut [f32], &[f32]),
) {
    let n = g.len().min(u.len());
    let whole = n - n % 4;
    let (gp, up) = (g.as_mut_ptr(), u.as_ptr());
    let mut i = 0;
    while i < whole {
        // SAFETY: 4 floats at `i < whole <= n` of both slices.
        unsafe {
            let x = vld1q_f32(gp.add(i));
            let s = sigmoid4(arg(x));
            vst1q_f32(gp.add(i), vmulq_f32(vmulq_f32(x, s), vld1q_f32(up.add(i))));
        }
        i += 4;
    }
    twin(&mut g[whole..n], &u[whole..n]);
}

/// NEON twin of [`generic::silu_mul`].
///
/// # Safety
/// NEON (every aarch64 CPU).
#[target_feature(enable = "neon")]
pub unsafe fn silu_mul_neon(g: &mut [f32], u: &[f32]) {
    // SAFETY: forwarded.
    unsafe { gated(g, u, |x| x, generic::silu_mul) }
}

/// NEON twin of [`generic::gelu_tanh_mul`].
///
/// # Safety
/// NEON (every aarch64 CPU).
#[target_feature(enable = "neon")]
pub unsafe fn gelu_tanh_mul_neon(g: &mut [f32], u: &[f32]) {
    // Register arithmetic only, inside this function's NEON context.
    let arg = |x: float32x4_t| {
        let x3 = vmulq_f32(vmulq_f32(x, x), x);
        let inner = vaddq_f32(x, vmulq_f32(vdupq_n_f32(GELU_CUBIC), x3));
        vmulq_f32(vdupq_n_f32(GELU_2C), inner)
    };
    // SAFETY: forwarded.
    unsafe { gated(g, u, arg, generic::gelu_tanh_mul) }
}
