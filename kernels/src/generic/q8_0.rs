//! Q8_0: 32 values per block, `x = d * q` with `q` in `-127..=127`, one f16 scale. The activation
//! format of Q4_0, Q5_0 and Q8_0 weights, and a weight format itself.
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as all its slices hold.

use half::f16;

use super::accumulate::BlockAccumulator;
use super::rounding::roundf_to_i8;
use crate::blocks::{BlockQ8_0, QK};

/// Dequantizes.
pub fn dequantize_row_q8_0(x: &[BlockQ8_0], y: &mut [f32]) {
    for (b, out) in x.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for (o, &q) in out.iter_mut().zip(b.qs.iter()) {
            *o = q as f32 * d;
        }
    }
}

/// The largest magnitude of a block as ggml's `MAX(amax, fabsf(v))` finds it (a NaN is kept
/// only until a later value replaces it).
#[inline(always)]
pub(crate) fn block_amax(src: &[f32]) -> f32 {
    let mut amax = 0.0f32;
    for &v in src {
        let a = v.abs();
        amax = if amax > a { amax } else { a };
    }
    amax
}

/// ggml's reference quantizer: `d = amax / 127`, `id = 1 / d` (0 for an all-zero block),
/// `q = roundf(x * id)` (half away from zero); the scale is stored as f16 but `id` comes from the
/// f32 `d`.
pub fn quantize_row_q8_0(x: &[f32], y: &mut [BlockQ8_0]) {
    for (src, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let d = block_amax(src) / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        for (q, &v) in b.qs.iter_mut().zip(src) {
            *q = roundf_to_i8(v * id);
        }
    }
}

/// The exact integer dot of one block pair.
#[inline(always)]
pub fn block_dot_q8_0_q8_0(x: &BlockQ8_0, y: &BlockQ8_0) -> i32 {
    x.qs.iter()
        .zip(y.qs.iter())
        .map(|(&a, &b)| a as i32 * b as i32)
        .sum()
}

/// One block's float term: `(dx * dy) * isum`.
#[inline(always)]
pub fn block_term_q8_0_q8_0(x: &BlockQ8_0, y: &BlockQ8_0, isum: i32) -> f32 {
    (x.d.to_f32() * y.d.to_f32()) * isum as f32
}

/// Dot product with Q8_0 activations, block terms summed in the 8-lane order.
pub fn vec_dot_q8_0_q8_0(x: &[BlockQ8_0], y: &[BlockQ8_0]) -> f32 {
    let mut acc = BlockAccumulator::new();
    for (i, (xb, yb)) in x.iter().zip(y).enumerate() {
        acc.add(i, block_term_q8_0_q8_0(xb, yb, block_dot_q8_0_q8_0(xb, yb)));
    }
    acc.finish()
}
