//! Q4_0: 32 weights per block, `x = d * (q - 8)` with `q` in `0..16`, one f16 scale.
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as all its slices hold.

use half::f16;

use super::accumulate::BlockAccumulator;
use super::rounding::trunc_to_i8;
use crate::blocks::{BlockQ4_0, BlockQ8_0, QK};

/// Dequantizes: element `j` from the low nibble of byte `j`, element `j + 16` from the high one.
pub fn dequantize_row_q4_0(x: &[BlockQ4_0], y: &mut [f32]) {
    for (b, out) in x.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for (j, &q) in b.qs.iter().enumerate() {
            out[j] = ((q & 0x0f) as i32 - 8) as f32 * d;
            out[j + QK / 2] = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// ggml's reference quantizer: the value of largest magnitude (its sign kept, the first on ties)
/// maps to `-8`, `d = max / -8`, `q = min(15, trunc(x / d + 8.5))`.
pub fn quantize_row_q4_0(x: &[f32], y: &mut [BlockQ4_0]) {
    for (src, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let mut amax = 0.0f32;
        let mut max = 0.0f32;
        for &v in src {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        for j in 0..QK / 2 {
            let q0 = trunc_to_i8(src[j] * id + 8.5).min(15) as u8;
            let q1 = trunc_to_i8(src[j + QK / 2] * id + 8.5).min(15) as u8;
            b.qs[j] = q0 | (q1 << 4);
        }
    }
}

/// The exact integer dot of one block pair, `sum((q - 8) * a)`.
#[inline(always)]
pub fn block_dot_q4_0_q8_0(x: &BlockQ4_0, y: &BlockQ8_0) -> i32 {
    let mut sum = 0i32;
    for j in 0..QK / 2 {
        let lo = (x.qs[j] & 0x0f) as i32 - 8;
        let hi = (x.qs[j] >> 4) as i32 - 8;
        sum += lo * y.qs[j] as i32 + hi * y.qs[j + QK / 2] as i32;
    }
    sum
}

/// One block's float term: `(dx * dy) * isum`.
#[inline(always)]
pub fn block_term_q4_0_q8_0(x: &BlockQ4_0, y: &BlockQ8_0, isum: i32) -> f32 {
    (x.d.to_f32() * y.d.to_f32()) * isum as f32
}

/// Dot product with Q8_0 activations, block terms summed in the 8-lane order.
pub fn vec_dot_q4_0_q8_0(x: &[BlockQ4_0], y: &[BlockQ8_0]) -> f32 {
    let mut acc = BlockAccumulator::new();
    for (i, (xb, yb)) in x.iter().zip(y).enumerate() {
        acc.add(i, block_term_q4_0_q8_0(xb, yb, block_dot_q4_0_q8_0(xb, yb)));
    }
    acc.finish()
}
