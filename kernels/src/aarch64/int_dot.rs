//! The one step that differs between the NEON and dotprod tiers: a signed-byte dot product of
//! 16 pairs accumulated into four i32 lanes.
//!
//! Only the *total* of the four lanes is meaningful (which pairs land in which lane differs
//! between the two implementations); kernels reduce the lanes exactly in integers before any
//! float work, so both tiers produce the same integers and hence the same floats.

use core::arch::aarch64::*;

use super::instructions::sdot;

/// A 16-pair signed-byte dot product step, compiled into the tier's `#[target_feature]` leaves.
pub(crate) trait IntDot {
    /// Returns `acc` plus the 16 products `a[i] · b[i]` spread over its four lanes.
    ///
    /// # Safety
    /// The CPU must have the implementation's feature (see each type).
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t;
}

/// Baseline NEON: widening multiplies (`smull`, `smull2`) into i16, then pairwise
/// add-accumulate into i32 (`sadalp`). Exact for every pair of i8 (|a·b| ≤ 2^14 fits i16).
pub(crate) struct NeonDot;

impl IntDot for NeonDot {
    #[inline(always)]
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        // SAFETY: NEON is baseline on aarch64; register-only intrinsics.
        unsafe {
            let lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
            let hi = vmull_high_s8(a, b);
            vpadalq_s16(vpadalq_s16(acc, lo), hi)
        }
    }
}

/// FEAT_DotProd: one `sdot`.
pub(crate) struct SdotDot;

impl IntDot for SdotDot {
    #[inline(always)]
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        // SAFETY: `SdotDot` is only instantiated inside `#[target_feature(enable = "dotprod")]`
        // leaves, which dispatch installs only when the CPU reports dotprod.
        unsafe { sdot(acc, a, b) }
    }
}
