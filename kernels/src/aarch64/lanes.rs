//! Moving block fields into NEON lanes: f16 scales widened four at a time, the 32 quants of a
//! legacy block as two byte vectors, their exact integer dot (one tier step, or `smmla` for 2×2
//! tiles), and the fifth bits of Q5_0/Q5_1.

use core::arch::aarch64::*;

use half::f16;

use super::instructions::{f16x4_to_f32, smmla};
use super::int_dot::IntDot;

/// The f16 values `get(b)` of up to four blocks widened to f32, lane `k` for block `k`; lanes
/// past `blocks.len()` are `+0.0`.
#[inline(always)]
pub(crate) unsafe fn f16_lanes<T>(blocks: &[T], get: impl Fn(&T) -> f16) -> float32x4_t {
    let mut bits = [0u16; 4];
    for (o, b) in bits.iter_mut().zip(blocks) {
        *o = get(b).to_bits();
    }
    // SAFETY: `bits` is a live 4-element array; `fcvtl` is baseline NEON.
    unsafe { f16x4_to_f32(vld1_u16(bits.as_ptr())) }
}

/// `[a, a, b, b]` widened to f32: the weight-row side of a 2×2 tile.
#[inline(always)]
pub(crate) unsafe fn f16_rows(a: f16, b: f16) -> float32x4_t {
    let bits = [a.to_bits(), a.to_bits(), b.to_bits(), b.to_bits()];
    // SAFETY: as in `f16_lanes`.
    unsafe { f16x4_to_f32(vld1_u16(bits.as_ptr())) }
}

/// `[a, b, a, b]` widened to f32: the activation side of a 2×2 tile.
#[inline(always)]
pub(crate) unsafe fn f16_cols(a: f16, b: f16) -> float32x4_t {
    let bits = [a.to_bits(), b.to_bits(), a.to_bits(), b.to_bits()];
    // SAFETY: as in `f16_lanes`.
    unsafe { f16x4_to_f32(vld1_u16(bits.as_ptr())) }
}

/// The 32 signed quants of a Q8_0/Q8_1 block: elements 0–15 and 16–31.
#[inline(always)]
pub(crate) unsafe fn load_q8(qs: &[i8; 32]) -> [int8x16_t; 2] {
    // SAFETY: both 16-byte loads lie inside the 32-byte array (no alignment needed).
    unsafe { [vld1q_s8(qs.as_ptr()), vld1q_s8(qs.as_ptr().add(16))] }
}

/// The 32 nibbles of a legacy 4-bit block as bytes 0..16: low nibbles (elements 0–15), high
/// nibbles (elements 16–31).
#[inline(always)]
pub(crate) unsafe fn load_nibbles(qs: &[u8; 16]) -> [uint8x16_t; 2] {
    // SAFETY: one 16-byte load of a 16-byte array; register-only afterwards.
    unsafe {
        let v = vld1q_u8(qs.as_ptr());
        [vandq_u8(v, vdupq_n_u8(0x0f)), vshrq_n_u8::<4>(v)]
    }
}

/// `0x10` in byte `j` (of 32) where bit `j` of the little-endian `qh` is set, else 0: the fifth
/// bit of Q5_0/Q5_1 quants, elements 0–15 and 16–31.
#[inline(always)]
pub(crate) unsafe fn fifth_bits(qh: [u8; 4]) -> [uint8x16_t; 2] {
    const LO: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
    const HI: [u8; 16] = [2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3];
    const BIT: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    // SAFETY: loads of 16-byte constant arrays; register-only afterwards.
    unsafe {
        let h = vreinterpret_u8_u32(vdup_n_u32(u32::from_le_bytes(qh)));
        let h = vcombine_u8(h, h);
        let bit = vld1q_u8(BIT.as_ptr());
        let five = vdupq_n_u8(0x10);
        let lo = vqtbl1q_u8(h, vld1q_u8(LO.as_ptr()));
        let hi = vqtbl1q_u8(h, vld1q_u8(HI.as_ptr()));
        [
            vandq_u8(vtstq_u8(lo, bit), five),
            vandq_u8(vtstq_u8(hi, bit), five),
        ]
    }
}

/// Lanes totalling the exact dot of 32 signed weight quants with 32 signed activation quants.
///
/// # Safety
/// The CPU has `D`'s feature.
#[inline(always)]
pub(crate) unsafe fn dot32<D: IntDot>(x: [int8x16_t; 2], y: [int8x16_t; 2]) -> int32x4_t {
    // SAFETY: forwarded to `D::dot`.
    unsafe { D::dot(D::dot(vdupq_n_s32(0), x[0], y[0]), x[1], y[1]) }
}

/// Two rows of 16 bytes as `smmla` operands: `[a[0..8], b[0..8]]` and `[a[8..16], b[8..16]]`.
#[inline(always)]
pub(crate) unsafe fn zip_rows(a: int8x16_t, b: int8x16_t) -> [int8x16_t; 2] {
    // SAFETY: register-only NEON.
    unsafe {
        let (a, b) = (vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b));
        [
            vreinterpretq_s8_s64(vzip1q_s64(a, b)),
            vreinterpretq_s8_s64(vzip2q_s64(a, b)),
        ]
    }
}

/// `acc + [x0·y0, x0·y1, x1·y0, x1·y1]` over 16 quants per row, with `smmla`.
///
/// # Safety
/// The CPU has FEAT_I8MM.
#[inline(always)]
pub(crate) unsafe fn mmla16(
    acc: int32x4_t,
    x0: int8x16_t,
    x1: int8x16_t,
    y0: int8x16_t,
    y1: int8x16_t,
) -> int32x4_t {
    // SAFETY: register-only; i8mm is the caller's promise.
    unsafe {
        let xs = zip_rows(x0, x1);
        let ys = zip_rows(y0, y1);
        smmla(smmla(acc, xs[0], ys[0]), xs[1], ys[1])
    }
}

/// `[x0·y0, x0·y1, x1·y0, x1·y1]`, exact, for 32 quants per row.
///
/// # Safety
/// The CPU has FEAT_I8MM.
#[inline(always)]
pub(crate) unsafe fn mmla32(
    x0: [int8x16_t; 2],
    x1: [int8x16_t; 2],
    y0: [int8x16_t; 2],
    y1: [int8x16_t; 2],
) -> int32x4_t {
    // SAFETY: forwarded.
    unsafe {
        let acc = mmla16(vdupq_n_s32(0), x0[0], x1[0], y0[0], y1[0]);
        mmla16(acc, x0[1], x1[1], y0[1], y1[1])
    }
}
