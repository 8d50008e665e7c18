//! NEON building blocks of the row-interleaved (x8) products: eight rows in the 32-bit lanes of
//! two 128-bit registers (rows 0–3, rows 4–7), the integer step of each tier ([`RowDot`]:
//! widening multiplies on NEON, `sdot` on dotprod), activation words broadcast to every lane,
//! and the f16 scales of eight rows.
//!
//! Every function here is `#[inline(always)]`; those executing `sdot` are only instantiated in
//! `*_dotprod` leaves (see [`super::instructions`]).

use core::arch::aarch64::*;

use half::f16;

use super::instructions::{f16x4_to_f32, sdot};
use crate::blocks_x8::X8_ROWS;
use crate::x8_walk::RowLanes;

/// Eight rows' floats: rows 0–3 and rows 4–7.
#[derive(Clone, Copy)]
pub(crate) struct Rows8(pub(crate) [float32x4_t; 2]);

impl RowLanes for Rows8 {
    #[inline(always)]
    unsafe fn zero() -> Rows8 {
        // SAFETY: NEON is baseline on aarch64.
        unsafe { Rows8([vdupq_n_f32(0.0); 2]) }
    }

    #[inline(always)]
    unsafe fn add(self, other: Rows8) -> Rows8 {
        // SAFETY: NEON is baseline on aarch64.
        unsafe {
            Rows8([
                vaddq_f32(self.0[0], other.0[0]),
                vaddq_f32(self.0[1], other.0[1]),
            ])
        }
    }

    #[inline(always)]
    unsafe fn store(self, out: &mut [f32; X8_ROWS]) {
        // SAFETY: two 16-byte stores inside the 32-byte `out`.
        unsafe {
            vst1q_f32(out.as_mut_ptr(), self.0[0]);
            vst1q_f32(out.as_mut_ptr().add(4), self.0[1]);
        }
    }
}

/// The integer step of a tier: four rows' four quants (one 32-bit lane each) against the same
/// four activation quants in every lane, each row's products summed into its lane.
pub(crate) trait RowDot {
    /// Partial sums of four rows.
    type Acc: Copy;

    /// No products yet.
    ///
    /// # Safety
    /// The CPU has the tier's features (so for every method).
    unsafe fn zero() -> Self::Acc;

    /// `acc` plus the products of `w` (rows in 32-bit lanes) with `a`.
    ///
    /// # Safety
    /// As [`RowDot::zero`]; for [`NeonRowDot`], the products a lane sums from one `zero` to its
    /// `finish` must stay within ±32767 for each of the four quant positions (every caller
    /// says why its group of words does).
    unsafe fn step(acc: Self::Acc, w: int8x16_t, a: int8x16_t) -> Self::Acc;

    /// Each row's exact sum, row `r` in lane `r`.
    ///
    /// # Safety
    /// As [`RowDot::zero`].
    unsafe fn finish(acc: Self::Acc) -> int32x4_t;
}

/// Baseline NEON: `smlal`/`smlal2` into 16-bit sums per row and quant position, reduced with
/// `saddlp` and `addp` at the end of a group of words.
pub(crate) struct NeonRowDot;

impl RowDot for NeonRowDot {
    type Acc = [int16x8_t; 2];

    #[inline(always)]
    unsafe fn zero() -> [int16x8_t; 2] {
        // SAFETY: NEON is baseline on aarch64.
        unsafe { [vdupq_n_s16(0); 2] }
    }

    #[inline(always)]
    unsafe fn step(acc: [int16x8_t; 2], w: int8x16_t, a: int8x16_t) -> [int16x8_t; 2] {
        // SAFETY: NEON is baseline on aarch64; register-only intrinsics.
        unsafe {
            [
                vmlal_s8(acc[0], vget_low_s8(w), vget_low_s8(a)),
                vmlal_high_s8(acc[1], w, a),
            ]
        }
    }

    #[inline(always)]
    unsafe fn finish(acc: [int16x8_t; 2]) -> int32x4_t {
        // SAFETY: NEON is baseline on aarch64. Rows 0–1 sit in acc[0], rows 2–3 in acc[1]; two
        // rounds of pairwise sums leave row r in lane r.
        unsafe { vpaddq_s32(vpaddlq_s16(acc[0]), vpaddlq_s16(acc[1])) }
    }
}

/// FEAT_DotProd: one `sdot` per step (rows stay in their lanes by the instruction's design).
pub(crate) struct SdotRowDot;

impl RowDot for SdotRowDot {
    type Acc = int32x4_t;

    #[inline(always)]
    unsafe fn zero() -> int32x4_t {
        // SAFETY: NEON is baseline on aarch64.
        unsafe { vdupq_n_s32(0) }
    }

    #[inline(always)]
    unsafe fn step(acc: int32x4_t, w: int8x16_t, a: int8x16_t) -> int32x4_t {
        // SAFETY: `SdotRowDot` is only instantiated inside `*_dotprod` leaves, which dispatch
        // installs only when the CPU reports dotprod.
        unsafe { sdot(acc, w, a) }
    }

    #[inline(always)]
    unsafe fn finish(acc: int32x4_t) -> int32x4_t {
        acc
    }
}

/// A quant word of a stripe: rows 0–3 and rows 4–7 (32 bytes at `32w` of an interleave).
pub(crate) type Word = [int8x16_t; 2];

/// Word `w` of a word interleave.
///
/// # Safety
/// `bytes` holds at least `32w + 32` bytes.
#[inline(always)]
pub(crate) unsafe fn load_word<T>(bytes: &[T], w: usize) -> Word {
    debug_assert!(core::mem::size_of_val(bytes) >= 32 * w + 32);
    // SAFETY: two 16-byte loads inside `bytes` (the caller's promise).
    unsafe {
        let p = (bytes.as_ptr() as *const i8).add(32 * w);
        [vld1q_s8(p), vld1q_s8(p.add(16))]
    }
}

/// Activation quants `4g..4g+4` of `qs` in every lane.
///
/// # Safety
/// `qs` holds at least `4g + 4` bytes.
#[inline(always)]
pub(crate) unsafe fn word_in_lanes(qs: &[i8], g: usize) -> int8x16_t {
    debug_assert!(qs.len() >= 4 * g + 4);
    // SAFETY: a four-byte read inside `qs` (no alignment needed), then a register broadcast.
    unsafe {
        let v = core::ptr::read_unaligned(qs.as_ptr().add(4 * g) as *const i32);
        vreinterpretq_s8_s32(vdupq_n_s32(v))
    }
}

/// `Σ_j q[j]·a[first + j]` in each row's lane (rows 0–3, rows 4–7), one `zero`..`finish` group.
///
/// # Safety
/// The tier's features; `a` holds the words `first..first + N`; the [`RowDot::step`] bound
/// holds for the `N` words.
#[inline(always)]
pub(crate) unsafe fn dot_words<D: RowDot, const N: usize>(
    q: &[Word; N],
    a: &[i8],
    first: usize,
) -> [int32x4_t; 2] {
    // SAFETY: forwarded.
    unsafe {
        let mut lo = D::zero();
        let mut hi = D::zero();
        for (j, qj) in q.iter().enumerate() {
            let aw = word_in_lanes(a, first + j);
            lo = D::step(lo, qj[0], aw);
            hi = D::step(hi, qj[1], aw);
        }
        [D::finish(lo), D::finish(hi)]
    }
}

/// The f16 scales of eight rows widened to f32.
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
pub(crate) unsafe fn f16x8(v: &[f16; 8]) -> [float32x4_t; 2] {
    // SAFETY: two 8-byte loads of the 16-byte array; `fcvtl` is baseline NEON.
    unsafe {
        let p = v.as_ptr() as *const u16;
        [f16x4_to_f32(vld1_u16(p)), f16x4_to_f32(vld1_u16(p.add(4)))]
    }
}

/// `a·b` for both halves (unfused).
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
pub(crate) unsafe fn mul2(a: [float32x4_t; 2], b: [float32x4_t; 2]) -> [float32x4_t; 2] {
    // SAFETY: NEON is baseline on aarch64.
    unsafe { [vmulq_f32(a[0], b[0]), vmulq_f32(a[1], b[1])] }
}

/// `a·s` for both halves (unfused).
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
pub(crate) unsafe fn mul2_n(a: [float32x4_t; 2], s: f32) -> [float32x4_t; 2] {
    // SAFETY: NEON is baseline on aarch64.
    unsafe { [vmulq_n_f32(a[0], s), vmulq_n_f32(a[1], s)] }
}

/// The i32 lanes of both halves as f32 (exact below 2^24, rounded to nearest above, as `as f32`).
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
pub(crate) unsafe fn to_f32(v: [int32x4_t; 2]) -> [float32x4_t; 2] {
    // SAFETY: NEON is baseline on aarch64.
    unsafe { [vcvtq_f32_s32(v[0]), vcvtq_f32_s32(v[1])] }
}

/// Lane-wise sum of both halves.
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
pub(crate) unsafe fn add_i2(a: [int32x4_t; 2], b: [int32x4_t; 2]) -> [int32x4_t; 2] {
    // SAFETY: NEON is baseline on aarch64.
    unsafe { [vaddq_s32(a[0], b[0]), vaddq_s32(a[1], b[1])] }
}

/// Eight bytes (one per row) as i32 lanes of both halves, zero- or (`SIGNED`) sign-extended.
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
pub(crate) unsafe fn bytes_per_row<const SIGNED: bool>(b: &[u8; 8]) -> [int32x4_t; 2] {
    // SAFETY: one 8-byte load of `b`; register-only NEON afterwards.
    unsafe {
        let v = vld1_u8(b.as_ptr());
        if SIGNED {
            let w = vmovl_s8(vreinterpret_s8_u8(v));
            [vmovl_s16(vget_low_s16(w)), vmovl_high_s16(w)]
        } else {
            let w = vmovl_u8(v);
            [
                vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w))),
                vreinterpretq_s32_u32(vmovl_high_u16(w)),
            ]
        }
    }
}

/// The eight nibble words of a word-interleaved 4-bit block: word `i`'s low nibbles are values
/// `4i..4i+4` (`q[i]`), its high nibbles values `16+4i..` (`q[i + 4]`).
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
pub(crate) unsafe fn nibble_words(qs: &[u8; 128]) -> [Word; 8] {
    // SAFETY: each load reads 32 of the 128 bytes; register-only NEON otherwise.
    unsafe {
        let low = vdupq_n_u8(0x0f);
        let mut q = [[vdupq_n_s8(0); 2]; 8];
        for i in 0..4 {
            let v = load_word(qs, i);
            for h in 0..2 {
                let u = vreinterpretq_u8_s8(v[h]);
                q[i][h] = vreinterpretq_s8_u8(vandq_u8(u, low));
                q[i + 4][h] = vreinterpretq_s8_u8(vshrq_n_u8::<4>(u));
            }
        }
        q
    }
}

/// Where a K-quant x8 product reads a super-block's unpacked quant words (word `j`: values
/// `4j..4j+4` of the eight rows) and its sub-block scales (one per row lane): a ready copy
/// shared by many activation rows, or the x8 block itself for one.
pub(crate) trait KWords {
    /// Quant word `j`.
    ///
    /// # Safety
    /// None beyond NEON.
    unsafe fn word(&self, j: usize) -> Word;

    /// Sub-block `s`'s scale of each row.
    ///
    /// # Safety
    /// None beyond NEON.
    unsafe fn scale(&self, s: usize) -> [int32x4_t; 2];
}
