//! Q5_1: 32 weights per block, `x = d * q + m` with `q` in `0..32`; bits laid out as Q5_0.
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as all its slices hold.

use half::f16;

use super::accumulate::BlockAccumulator;
use super::q5_0::q5_pair;
use super::rounding::trunc_to_u8;
use crate::blocks::{BlockQ5_1, BlockQ8_1, QK};

/// Dequantizes. `q * d` is exact in f32, so fused or not, `+ m` rounds once.
pub fn dequantize_row_q5_1(x: &[BlockQ5_1], y: &mut [f32]) {
    for (b, out) in x.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let m = b.m.to_f32();
        let qh = u32::from_le_bytes(b.qh);
        for (j, &q) in b.qs.iter().enumerate() {
            let (lo, hi) = q5_pair(q, qh, j);
            out[j] = lo as f32 * d + m;
            out[j + QK / 2] = hi as f32 * d + m;
        }
    }
}

/// ggml's reference quantizer: `d = (max - min) / 31`, `m = min`,
/// `q = trunc((x - min) / d + 0.5)` (no clamp, as ggml).
pub fn quantize_row_q5_1(x: &[f32], y: &mut [BlockQ5_1]) {
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
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        b.m = f16::from_f32(min);
        let mut qh = 0u32;
        for j in 0..QK / 2 {
            let q0 = trunc_to_u8((src[j] - min) * id + 0.5);
            let q1 = trunc_to_u8((src[j + QK / 2] - min) * id + 0.5);
            b.qs[j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
            qh |= (((q0 & 0x10) >> 4) as u32) << j;
            qh |= (((q1 & 0x10) >> 4) as u32) << (j + QK / 2);
        }
        b.qh = qh.to_le_bytes();
    }
}

/// The exact integer dot of one block pair, `sum(q * a)`.
#[inline(always)]
pub fn block_dot_q5_1_q8_1(x: &BlockQ5_1, y: &BlockQ8_1) -> i32 {
    let qh = u32::from_le_bytes(x.qh);
    let mut sum = 0i32;
    for (j, &q) in x.qs.iter().enumerate() {
        let (lo, hi) = q5_pair(q, qh, j);
        sum += lo * y.qs[j] as i32 + hi * y.qs[j + QK / 2] as i32;
    }
    sum
}

/// One block's float term: `(dx * dy) * isum + m * s`.
#[inline(always)]
pub fn block_term_q5_1_q8_1(x: &BlockQ5_1, y: &BlockQ8_1, isum: i32) -> f32 {
    (x.d.to_f32() * y.d.to_f32()) * isum as f32 + x.m.to_f32() * y.s.to_f32()
}

/// Dot product with Q8_1 activations, block terms summed in the 8-lane order.
pub fn vec_dot_q5_1_q8_1(x: &[BlockQ5_1], y: &[BlockQ8_1]) -> f32 {
    let mut acc = BlockAccumulator::new();
    for (i, (xb, yb)) in x.iter().zip(y).enumerate() {
        acc.add(i, block_term_q5_1_q8_1(xb, yb, block_dot_q5_1_q8_1(xb, yb)));
    }
    acc.finish()
}
