//! F32, F16 and BF16 dot products on aarch64 (NEON; the dotprod and i8mm tiers reuse them, as
//! they add nothing to float arithmetic).
//!
//! Order: element `i`'s product goes into lane `i % 32` of 32 f32 lanes — eight `float32x4_t`,
//! vector `v` holding lanes `4v..4v + 4` — with a separate multiply and add (never fused), then
//! the lanes are reduced as [`crate::generic::accumulate::reduce32`] does. That is the scalar
//! twins' order, so the bits are theirs. A last partial group of 32 is zero-padded: a `+0.0`
//! product changes no lane, since no lane is ever `-0.0` (the argument of the block drivers).

use core::arch::aarch64::*;

use bytemuck::Zeroable;
use half::{bf16, f16};

use super::block_dot::reduce8;
use super::instructions::f16x4_to_f32;

/// An element type widened to f32 four at a time.
trait FloatElem: Copy + Zeroable {
    /// Four elements from `p` as f32, exactly.
    ///
    /// # Safety
    /// `p` points to four readable elements.
    unsafe fn load4(p: *const Self) -> float32x4_t;
}

impl FloatElem for f32 {
    #[inline(always)]
    unsafe fn load4(p: *const f32) -> float32x4_t {
        // SAFETY: the caller guarantees four readable f32.
        unsafe { vld1q_f32(p) }
    }
}

impl FloatElem for f16 {
    #[inline(always)]
    unsafe fn load4(p: *const f16) -> float32x4_t {
        // SAFETY: the caller guarantees four readable halves (`f16` is a `u16` in memory).
        unsafe { f16x4_to_f32(vld1_u16(p as *const u16)) }
    }
}

impl FloatElem for bf16 {
    #[inline(always)]
    unsafe fn load4(p: *const bf16) -> float32x4_t {
        // SAFETY: the caller guarantees four readable bf16 (`u16` in memory); a bf16 is the top
        // half of its f32.
        unsafe { vreinterpretq_f32_u32(vshll_n_u16::<16>(vld1_u16(p as *const u16))) }
    }
}

/// `acc[v] += x[4v..] * y[4v..]` for the 32 elements at `x`, `y`.
///
/// # Safety
/// `x` and `y` point to 32 readable elements.
#[inline(always)]
unsafe fn add32<T: FloatElem>(acc: &mut [float32x4_t; 8], x: *const T, y: *const T) {
    for (v, a) in acc.iter_mut().enumerate() {
        // SAFETY: `4v + 4 <= 32` elements past each pointer.
        unsafe {
            let p = vmulq_f32(T::load4(x.add(4 * v)), T::load4(y.add(4 * v)));
            *a = vaddq_f32(*a, p);
        }
    }
}

/// The dot product in the 32-lane order.
#[inline(always)]
unsafe fn dot<T: FloatElem>(x: &[T], y: &[T]) -> f32 {
    let n = x.len().min(y.len());
    let whole = n - n % 32;
    // SAFETY: NEON is baseline; every pointer passed to `add32` has 32 elements behind it
    // (`i + 32 <= whole <= n`, or the padded 32-element copies).
    unsafe {
        let mut acc = [vdupq_n_f32(0.0); 8];
        let mut i = 0;
        while i < whole {
            add32(&mut acc, x.as_ptr().add(i), y.as_ptr().add(i));
            i += 32;
        }
        if whole < n {
            let (mut xt, mut yt) = ([T::zeroed(); 32], [T::zeroed(); 32]);
            xt[..n - whole].copy_from_slice(&x[whole..n]);
            yt[..n - whole].copy_from_slice(&y[whole..n]);
            add32(&mut acc, xt.as_ptr(), yt.as_ptr());
        }
        // reduce32: s[j] = (a[j] + a[8 + j]) + (a[16 + j] + a[24 + j]), then reduce8.
        let lo = vaddq_f32(vaddq_f32(acc[0], acc[2]), vaddq_f32(acc[4], acc[6]));
        let hi = vaddq_f32(vaddq_f32(acc[1], acc[3]), vaddq_f32(acc[5], acc[7]));
        reduce8(lo, hi)
    }
}

/// `out[c * rows + r] = dot(row r of w, activation row c)` in row tiles of four.
#[inline(always)]
unsafe fn gemm<T: FloatElem>(w: &[T], act: &[T], n_act: usize, out: &mut [f32]) {
    if n_act == 0 || out.is_empty() {
        return;
    }
    let rows = out.len() / n_act;
    let n = act.len() / n_act;
    let mut r0 = 0;
    while r0 < rows {
        let r1 = (r0 + 4).min(rows);
        for c in 0..n_act {
            let a = &act[c * n..(c + 1) * n];
            for r in r0..r1 {
                // SAFETY: NEON is baseline.
                out[c * rows + r] = unsafe { dot(&w[r * n..(r + 1) * n], a) };
            }
        }
        r0 = r1;
    }
}

macro_rules! float_leaves {
    ($t:ty, $name:literal, $dot:ident, $gemm:ident) => {
        #[doc = concat!($name, " dot product, NEON (the twin's 32-lane order).")]
        ///
        /// # Safety
        /// None beyond running on aarch64 (NEON is baseline); `unsafe` as every table leaf.
        #[target_feature(enable = "neon")]
        pub unsafe fn $dot(x: &[$t], y: &[$t]) -> f32 {
            // SAFETY: NEON is baseline on aarch64.
            unsafe { dot(x, y) }
        }

        #[doc = concat!($name, " gemm, NEON: every element is [`", stringify!($dot), "`]'s.")]
        ///
        /// # Safety
        /// None beyond running on aarch64.
        #[target_feature(enable = "neon")]
        pub unsafe fn $gemm(w: &[$t], act: &[$t], n_act: usize, out: &mut [f32]) {
            // SAFETY: NEON is baseline on aarch64.
            unsafe { gemm(w, act, n_act, out) }
        }
    };
}

float_leaves!(f32, "F32", vec_dot_f32_neon, gemm_f32_neon);
float_leaves!(f16, "F16", vec_dot_f16_neon, gemm_f16_neon);
float_leaves!(bf16, "BF16", vec_dot_bf16_neon, gemm_bf16_neon);
