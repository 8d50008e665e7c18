//! F16 rows: IEEE half conversions (round to nearest even) and the dot product in the fixed
//! 32-lane order of [`accumulate`](super::accumulate).

use half::f16;

use super::accumulate::{FloatAccumulator, FLOAT_LANES};

/// Widens `x` into `y` (exact).
pub fn dequantize_row_f16(x: &[f16], y: &mut [f32]) {
    for (o, v) in y.iter_mut().zip(x) {
        *o = v.to_f32();
    }
}

/// Narrows `x` into `y`, rounding to nearest even (as ggml's `GGML_FP32_TO_FP16`).
pub fn quantize_row_f16(x: &[f32], y: &mut [f16]) {
    for (o, v) in y.iter_mut().zip(x) {
        *o = f16::from_f32(*v);
    }
}

/// `sum(x[i] * y[i])` in f32, lane `i % 32`. Each product of two halves is exact in f32.
pub fn vec_dot_f16(x: &[f16], y: &[f16]) -> f32 {
    let n = x.len().min(y.len());
    let mut lanes = [0.0f32; FLOAT_LANES];
    let whole = n - n % FLOAT_LANES;
    for (xc, yc) in x[..whole]
        .chunks_exact(FLOAT_LANES)
        .zip(y[..whole].chunks_exact(FLOAT_LANES))
    {
        for j in 0..FLOAT_LANES {
            lanes[j] += xc[j].to_f32() * yc[j].to_f32();
        }
    }
    let mut acc = FloatAccumulator::from_lanes(lanes);
    for i in whole..n {
        acc.add(i, x[i].to_f32() * y[i].to_f32());
    }
    acc.finish()
}
