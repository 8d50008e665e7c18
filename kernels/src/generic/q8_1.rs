//! Q8_1: Q8_0 plus `s = d * sum(q)`, the activation format of Q4_1 and Q5_1 weights (whose
//! minimum term needs the activations' sum).
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as all its slices hold.

use half::f16;

use super::accumulate::BlockAccumulator;
use super::q8_0::block_amax;
use super::rounding::roundf_to_i8;
use crate::blocks::{BlockQ8_1, QK};

/// Dequantizes: `x = d * q` (`s` is redundant).
pub fn dequantize_row_q8_1(x: &[BlockQ8_1], y: &mut [f32]) {
    for (b, out) in x.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for (o, &q) in out.iter_mut().zip(b.qs.iter()) {
            *o = q as f32 * d;
        }
    }
}

/// ggml's reference quantizer: quants as Q8_0, then `s = f16(sum(q) * d)` with the f32 `d`.
pub fn quantize_row_q8_1(x: &[f32], y: &mut [BlockQ8_1]) {
    for (src, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let d = block_amax(src) / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        let mut sum = 0i32;
        for (q, &v) in b.qs.iter_mut().zip(src) {
            *q = roundf_to_i8(v * id);
            sum += *q as i32;
        }
        b.s = f16::from_f32(sum as f32 * d);
    }
}

/// The exact integer dot of one block pair.
#[inline(always)]
pub fn block_dot_q8_1_q8_1(x: &BlockQ8_1, y: &BlockQ8_1) -> i32 {
    x.qs.iter()
        .zip(y.qs.iter())
        .map(|(&a, &b)| a as i32 * b as i32)
        .sum()
}

/// Dot product of Q8_1 weights with Q8_1 activations: `(dx * dy) * isum` per block, in the
/// 8-lane order (ggml has no kernel for this pair; it follows from `x = d * q`).
pub fn vec_dot_q8_1_q8_1(x: &[BlockQ8_1], y: &[BlockQ8_1]) -> f32 {
    let mut acc = BlockAccumulator::new();
    for (i, (xb, yb)) in x.iter().zip(y).enumerate() {
        let term = (xb.d.to_f32() * yb.d.to_f32()) * block_dot_q8_1_q8_1(xb, yb) as f32;
        acc.add(i, term);
    }
    acc.finish()
}
