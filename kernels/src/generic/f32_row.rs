//! F32 rows: copies, and the dot product in the fixed 32-lane order of
//! [`accumulate`](super::accumulate).

use super::accumulate::{FloatAccumulator, FLOAT_LANES};

/// Copies `x` into `y` (as many elements as both hold).
pub fn dequantize_row_f32(x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    y[..n].copy_from_slice(&x[..n]);
}

/// Copies `x` into `y` (as many elements as both hold).
pub fn quantize_row_f32(x: &[f32], y: &mut [f32]) {
    dequantize_row_f32(x, y);
}

/// `sum(x[i] * y[i])`, products rounded then added, lane `i % 32`.
pub fn vec_dot_f32(x: &[f32], y: &[f32]) -> f32 {
    let n = x.len().min(y.len());
    let mut lanes = [0.0f32; FLOAT_LANES];
    let whole = n - n % FLOAT_LANES;
    for (xc, yc) in x[..whole]
        .chunks_exact(FLOAT_LANES)
        .zip(y[..whole].chunks_exact(FLOAT_LANES))
    {
        for j in 0..FLOAT_LANES {
            lanes[j] += xc[j] * yc[j];
        }
    }
    let mut acc = FloatAccumulator::from_lanes(lanes);
    for i in whole..n {
        acc.add(i, x[i] * y[i]);
    }
    acc.finish()
}
