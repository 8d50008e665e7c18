//! BF16 rows (the top half of an f32): conversions as ggml and the `gguf` Python package do them,
//! and the dot product in the fixed 32-lane order of [`accumulate`](super::accumulate).

use half::bf16;

use super::accumulate::{FloatAccumulator, FLOAT_LANES};

/// The f32 whose top half is `b` (exact).
#[inline(always)]
pub fn bf16_to_f32(b: bf16) -> f32 {
    f32::from_bits((b.to_bits() as u32) << 16)
}

/// Rounds to nearest even on the dropped half; a NaN stays a NaN, forced quiet.
#[inline(always)]
pub fn f32_to_bf16(x: f32) -> bf16 {
    let u = x.to_bits();
    if u & 0x7fff_ffff > 0x7f80_0000 {
        return bf16::from_bits(((u >> 16) | 0x40) as u16);
    }
    let rounded = u.wrapping_add(0x7fff + ((u >> 16) & 1));
    bf16::from_bits((rounded >> 16) as u16)
}

/// Widens `x` into `y` (exact).
pub fn dequantize_row_bf16(x: &[bf16], y: &mut [f32]) {
    for (o, v) in y.iter_mut().zip(x) {
        *o = bf16_to_f32(*v);
    }
}

/// Narrows `x` into `y` with [`f32_to_bf16`].
pub fn quantize_row_bf16(x: &[f32], y: &mut [bf16]) {
    for (o, v) in y.iter_mut().zip(x) {
        *o = f32_to_bf16(*v);
    }
}

/// `sum(x[i] * y[i])` in f32, lane `i % 32`. Each product of two bf16 values is exact in f32.
pub fn vec_dot_bf16(x: &[bf16], y: &[bf16]) -> f32 {
    let n = x.len().min(y.len());
    let mut lanes = [0.0f32; FLOAT_LANES];
    let whole = n - n % FLOAT_LANES;
    for (xc, yc) in x[..whole]
        .chunks_exact(FLOAT_LANES)
        .zip(y[..whole].chunks_exact(FLOAT_LANES))
    {
        for j in 0..FLOAT_LANES {
            lanes[j] += bf16_to_f32(xc[j]) * bf16_to_f32(yc[j]);
        }
    }
    let mut acc = FloatAccumulator::from_lanes(lanes);
    for i in whole..n {
        acc.add(i, bf16_to_f32(x[i]) * bf16_to_f32(y[i]));
    }
    acc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_to_nearest_even() {
        // 1 + 2^-8 is halfway between two bf16 values; ties go to the even one (1.0).
        assert_eq!(f32_to_bf16(1.0 + 1.0 / 256.0).to_bits(), 0x3f80);
        // 1 + 3 * 2^-8 rounds up to 1 + 2^-6.
        assert_eq!(f32_to_bf16(1.0 + 3.0 / 256.0).to_bits(), 0x3f82);
        assert_eq!(bf16_to_f32(bf16::from_bits(0x3f80)), 1.0);
        assert!(bf16_to_f32(f32_to_bf16(f32::from_bits(0x7f80_0001))).is_nan());
        assert_eq!(f32_to_bf16(f32::INFINITY).to_bits(), 0x7f80);
        for v in [0.0f32, -2.5, 3.0e38, 1.0e-39, -7.0e-45] {
            assert_eq!(f32_to_bf16(v), bf16::from_f32(v), "{v}");
        }
    }
}
