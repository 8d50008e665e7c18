//! Q5_0: 32 weights per block, `x = d * (q - 16)` with `q` in `0..32`; the low nibbles as in
//! Q4_0, the fifth bit of element `j` at bit `j` of the little-endian `qh`.
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as all its slices hold.

use half::f16;

use super::accumulate::BlockAccumulator;
use super::rounding::trunc_to_i8;
use crate::blocks::{BlockQ5_0, BlockQ8_0, QK};

/// The 5-bit quants of elements `j` and `j + 16` of a block with nibble byte `q` and bits `qh`.
#[inline(always)]
pub(crate) fn q5_pair(q: u8, qh: u32, j: usize) -> (i32, i32) {
    let lo = (q & 0x0f) as u32 | ((qh >> j) & 1) << 4;
    let hi = (q >> 4) as u32 | ((qh >> (j + QK / 2)) & 1) << 4;
    (lo as i32, hi as i32)
}

/// Dequantizes.
pub fn dequantize_row_q5_0(x: &[BlockQ5_0], y: &mut [f32]) {
    for (b, out) in x.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let qh = u32::from_le_bytes(b.qh);
        for (j, &q) in b.qs.iter().enumerate() {
            let (lo, hi) = q5_pair(q, qh, j);
            out[j] = (lo - 16) as f32 * d;
            out[j + QK / 2] = (hi - 16) as f32 * d;
        }
    }
}

/// ggml's reference quantizer: the value of largest magnitude maps to `-16`, `d = max / -16`,
/// `q = min(31, trunc(x / d + 16.5))`.
pub fn quantize_row_q5_0(x: &[f32], y: &mut [BlockQ5_0]) {
    for (src, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let mut amax = 0.0f32;
        let mut max = 0.0f32;
        for &v in src {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        let mut qh = 0u32;
        for j in 0..QK / 2 {
            let q0 = trunc_to_i8(src[j] * id + 16.5).min(31) as u8;
            let q1 = trunc_to_i8(src[j + QK / 2] * id + 16.5).min(31) as u8;
            b.qs[j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
            qh |= (((q0 & 0x10) >> 4) as u32) << j;
            qh |= (((q1 & 0x10) >> 4) as u32) << (j + QK / 2);
        }
        b.qh = qh.to_le_bytes();
    }
}

/// The exact integer dot of one block pair, `sum((q - 16) * a)`.
#[inline(always)]
pub fn block_dot_q5_0_q8_0(x: &BlockQ5_0, y: &BlockQ8_0) -> i32 {
    let qh = u32::from_le_bytes(x.qh);
    let mut sum = 0i32;
    for (j, &q) in x.qs.iter().enumerate() {
        let (lo, hi) = q5_pair(q, qh, j);
        sum += (lo - 16) * y.qs[j] as i32 + (hi - 16) * y.qs[j + QK / 2] as i32;
    }
    sum
}

/// One block's float term: `(dx * dy) * isum`.
#[inline(always)]
pub fn block_term_q5_0_q8_0(x: &BlockQ5_0, y: &BlockQ8_0, isum: i32) -> f32 {
    (x.d.to_f32() * y.d.to_f32()) * isum as f32
}

/// Dot product with Q8_0 activations, block terms summed in the 8-lane order.
pub fn vec_dot_q5_0_q8_0(x: &[BlockQ5_0], y: &[BlockQ8_0]) -> f32 {
    let mut acc = BlockAccumulator::new();
    for (i, (xb, yb)) in x.iter().zip(y).enumerate() {
        acc.add(i, block_term_q5_0_q8_0(xb, yb, block_dot_q5_0_q8_0(xb, yb)));
    }
    acc.finish()
}
