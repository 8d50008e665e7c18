//! Q4_1: 32 weights per block, `x = d * q + m` with `q` in `0..16`, f16 scale and minimum.
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as all its slices hold.

use half::f16;

use super::accumulate::BlockAccumulator;
use super::rounding::trunc_to_i8;
use crate::blocks::{BlockQ4_1, BlockQ8_1, QK};

/// Dequantizes (nibble layout as Q4_0). `q * d` is exact in f32, so fused or not, `+ m` rounds once.
pub fn dequantize_row_q4_1(x: &[BlockQ4_1], y: &mut [f32]) {
    for (b, out) in x.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let m = b.m.to_f32();
        for (j, &q) in b.qs.iter().enumerate() {
            out[j] = (q & 0x0f) as f32 * d + m;
            out[j + QK / 2] = (q >> 4) as f32 * d + m;
        }
    }
}

/// ggml's reference quantizer: `d = (max - min) / 15`, `m = min`,
/// `q = min(15, trunc((x - min) / d + 0.5))`.
pub fn quantize_row_q4_1(x: &[f32], y: &mut [BlockQ4_1]) {
    for (src, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let mut min = f32::MAX;
        let mut max = -f32::MAX;
        for &v in src {
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        b.m = f16::from_f32(min);
        for j in 0..QK / 2 {
            let q0 = trunc_to_i8((src[j] - min) * id + 0.5).min(15) as u8;
            let q1 = trunc_to_i8((src[j + QK / 2] - min) * id + 0.5).min(15) as u8;
            b.qs[j] = q0 | (q1 << 4);
        }
    }
}

/// The exact integer dot of one block pair, `sum(q * a)`.
#[inline(always)]
pub fn block_dot_q4_1_q8_1(x: &BlockQ4_1, y: &BlockQ8_1) -> i32 {
    let mut sum = 0i32;
    for j in 0..QK / 2 {
        let lo = (x.qs[j] & 0x0f) as i32;
        let hi = (x.qs[j] >> 4) as i32;
        sum += lo * y.qs[j] as i32 + hi * y.qs[j + QK / 2] as i32;
    }
    sum
}

/// One block's float term: `(dx * dy) * isum + m * s` (`s = dy * sum(a)` from the Q8_1 block).
#[inline(always)]
pub fn block_term_q4_1_q8_1(x: &BlockQ4_1, y: &BlockQ8_1, isum: i32) -> f32 {
    (x.d.to_f32() * y.d.to_f32()) * isum as f32 + x.m.to_f32() * y.s.to_f32()
}

/// Dot product with Q8_1 activations, block terms summed in the 8-lane order.
pub fn vec_dot_q4_1_q8_1(x: &[BlockQ4_1], y: &[BlockQ8_1]) -> f32 {
    let mut acc = BlockAccumulator::new();
    for (i, (xb, yb)) in x.iter().zip(y).enumerate() {
        acc.add(i, block_term_q4_1_q8_1(xb, yb, block_dot_q4_1_q8_1(xb, yb)));
    }
    acc.finish()
}
