//! Q8_K, the activation format paired with every K-quant weight type: 256 signed 8-bit quants,
//! one f32 scale and the sums of each 16 quants (`bsums`), which the min terms of Q2_K/Q4_K/Q5_K
//! use instead of re-adding the quants.
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as both slices hold.

use crate::blocks::BlockQ8K;
use crate::generic::scale_search::nearest_int;
use crate::ggml_type::QK_K;

/// Quantizes `x` (a multiple of 256 values) into `y`, exactly as ggml's reference does.
///
/// Per block: the value of largest magnitude `max` (keeping its sign; the first one on ties) sets
/// `iscale = -127 / max`; each quant is `min(127, nearest_int(iscale * x))`; `d = 1 / iscale`.
/// ggml moved from `-128` to `-127` so the product kernels never meet `-128 * -128` pairs
/// overflowing `maddubs`. An all-zero (or all-NaN) block stores `d = 0` and zero quants and sums.
pub fn quantize_row_q8_k(x: &[f32], y: &mut [BlockQ8K]) {
    debug_assert_eq!(x.len(), y.len() * QK_K);
    for (src, blk) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let mut max = 0.0f32;
        let mut amax = 0.0f32;
        for &v in src {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 {
            blk.d = 0.0;
            blk.qs = [0; QK_K];
            blk.bsums = [0; QK_K / 16];
            continue;
        }
        let iscale = -127.0f32 / max;
        for (q, &v) in blk.qs.iter_mut().zip(src) {
            // Truncating to i8 as C's int-to-int8 store does (|v| <= 127 for finite input).
            *q = nearest_int(iscale * v).min(127) as i8;
        }
        for (sum, group) in blk.bsums.iter_mut().zip(blk.qs.chunks_exact(16)) {
            *sum = group.iter().map(|&q| q as i16).sum();
        }
        blk.d = 1.0 / iscale;
    }
}

/// `Σ q·a` over two equally long runs of unsigned weight quants and Q8_K quants, exactly.
#[inline(always)]
pub fn dot_quants(q: &[u8], a: &[i8]) -> i32 {
    q.iter().zip(a).map(|(&q, &a)| q as i32 * a as i32).sum()
}

/// Dequantizes Q8_K blocks: `y = d * q`.
pub fn dequantize_row_q8_k(x: &[BlockQ8K], y: &mut [f32]) {
    debug_assert_eq!(y.len(), x.len() * QK_K);
    for (blk, out) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        for (o, &q) in out.iter_mut().zip(blk.qs.iter()) {
            *o = blk.d * q as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytemuck::Zeroable;

    #[test]
    fn largest_magnitude_maps_to_minus_127() {
        let mut x = [0.0f32; QK_K];
        for (i, v) in x.iter_mut().enumerate() {
            *v = (i as f32 - 100.0) * 0.5;
        }
        let mut y = [BlockQ8K::zeroed()];
        quantize_row_q8_k(&x, &mut y);
        // max is x[255] = 77.5 (positive), so it quantizes to -127 and d is negative.
        assert_eq!(y[0].qs[255], -127);
        assert!(y[0].d < 0.0);
        for (j, s) in y[0].bsums.iter().enumerate() {
            let want: i16 = y[0].qs[16 * j..16 * j + 16].iter().map(|&q| q as i16).sum();
            assert_eq!(*s, want);
        }
        let mut back = [0.0f32; QK_K];
        dequantize_row_q8_k(&y, &mut back);
        for (a, b) in x.iter().zip(back.iter()) {
            assert!((a - b).abs() <= 77.5 / 127.0 * 0.5 + 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn zero_block_is_all_zero() {
        let x = [0.0f32; QK_K];
        let mut y = [BlockQ8K::zeroed()];
        y[0].bsums = [7; 16];
        y[0].qs = [3; QK_K];
        quantize_row_q8_k(&x, &mut y);
        assert_eq!(y[0].d, 0.0);
        assert!(y[0].qs.iter().all(|&q| q == 0));
        assert!(y[0].bsums.iter().all(|&s| s == 0));
    }
}
