//! Inline-assembly wrappers for the instructions whose `core::arch::aarch64` intrinsics are still
//! unstable on the pinned compiler (rustc 1.96: `vdotq_s32` needs `stdarch_neon_dotprod`,
//! `vmmlaq_s32` needs `stdarch_neon_i8mm`, and `vcvt_f32_f16` needs the unstable `f16` type).
//!
//! Each wrapper is `#[inline(always)]` and must only be inlined into a function compiled with the
//! feature it names (a `#[target_feature]` leaf that dispatch calls only on a CPU which has it):
//! the assembler accepts `sdot`/`smmla` only there, and a CPU without the feature would trap.

use core::arch::aarch64::{float32x4_t, int32x4_t, int8x16_t, uint16x4_t};
use core::arch::asm;

/// `acc[i] += Σ_{k<4} a[4i + k] · b[4i + k]` (signed bytes): the `sdot` instruction.
///
/// # Safety
/// The CPU must implement FEAT_DotProd; call only from `#[target_feature(enable = "dotprod")]`
/// code that dispatch runs after detecting it.
#[inline(always)]
pub(crate) unsafe fn sdot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: register-only arithmetic (no memory, stack or flags touched); the caller
    // guarantees the CPU has FEAT_DotProd, so the instruction is defined.
    unsafe {
        asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// `smmla`: with `a` two rows `a0 = a[0..8]`, `a1 = a[8..16]` and `b` two rows `b0`, `b1`
/// (signed bytes), adds `[a0·b0, a0·b1, a1·b0, a1·b1]` to `acc`.
///
/// # Safety
/// The CPU must implement FEAT_I8MM; call only from `#[target_feature(enable = "i8mm")]` code
/// that dispatch runs after detecting it.
#[inline(always)]
pub(crate) unsafe fn smmla(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: register-only arithmetic; the caller guarantees FEAT_I8MM.
    unsafe {
        asm!(
            "smmla {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// Four IEEE half-precision bit patterns widened to f32 (`fcvtl`), exactly, subnormals and
/// infinities included (Linux runs user code with FPCR.FZ16 clear).
///
/// # Safety
/// None beyond NEON, which every aarch64 CPU has; `unsafe` only because it is inline assembly.
#[inline(always)]
pub(crate) unsafe fn f16x4_to_f32(h: uint16x4_t) -> float32x4_t {
    let out: float32x4_t;
    // SAFETY: `fcvtl` is baseline Advanced SIMD; register-only.
    unsafe {
        asm!(
            "fcvtl {out:v}.4s, {h:v}.4h",
            out = lateout(vreg) out,
            h = in(vreg) h,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}
