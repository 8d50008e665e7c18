//! Scalar twins of the gated activations. Every tier follows these exactly: the same operations
//! in the same order, multiply then add (never fused), so a SIMD kernel equals its twin bit for
//! bit.
//!
//! Both activations are `x · σ(y)`: SiLU with `y = x`, GELU's tanh approximation with
//! `y = 2·√(2/π)·(x + 0.044715·x³)` (as `½·(1 + tanh z) = σ(2z)`). The logistic function takes
//! one exponential of a non-positive argument, [`crate::attention::generic::exp`]:
//! `e = exp(−|y|)`, then `σ(y) = 1 / (1 + e)` for `y ≥ 0` and `e / (1 + e)` otherwise, which
//! neither overflows nor loses the small values of a very negative `y`. NaN stays NaN.

use crate::attention::generic::exp;

/// `2·√(2/π)`, GELU's tanh-approximation factor doubled.
pub const GELU_2C: f32 = 1.595_769_2;
/// The cubic term's coefficient of GELU's tanh approximation.
pub const GELU_CUBIC: f32 = 0.044_715;

/// `σ(y)`, as the module documentation computes it.
#[inline(always)]
pub fn sigmoid(y: f32) -> f32 {
    let e = exp(f32::from_bits(y.to_bits() | 0x8000_0000));
    let num = if y >= 0.0 { 1.0 } else { e };
    num / (1.0 + e)
}

/// GELU's argument of `σ`: `2·√(2/π)·(x + 0.044715·x³)`.
#[inline(always)]
pub fn gelu_arg(x: f32) -> f32 {
    let x3 = x * x * x;
    GELU_2C * (x + GELU_CUBIC * x3)
}

/// SwiGLU's gate: `g[i] ← silu(g[i]) · u[i]` with `silu(x) = x·σ(x)`, over `min(len)` elements.
pub fn silu_mul(g: &mut [f32], u: &[f32]) {
    for (g, &u) in g.iter_mut().zip(u) {
        let x = *g;
        *g = x * sigmoid(x) * u;
    }
}

/// GeGLU's gate: `g[i] ← gelu(g[i]) · u[i]` with GELU's tanh approximation
/// `gelu(x) = x·σ(2·√(2/π)·(x + 0.044715·x³))`, over `min(len)` elements.
pub fn gelu_tanh_mul(g: &mut [f32], u: &[f32]) {
    for (g, &u) in g.iter_mut().zip(u) {
        let x = *g;
        *g = x * sigmoid(gelu_arg(x)) * u;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silu64(x: f64) -> f64 {
        x / (1.0 + (-x).exp())
    }

    /// `½·x·(1 + tanh z)`, written as `x / (1 + e^(−2z))`: the same number, without the
    /// cancellation of `1 + tanh z` for very negative `z` (which would make the reference wrong).
    fn gelu64(x: f64) -> f64 {
        let z = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3));
        x / (1.0 + (-2.0 * z).exp())
    }

    /// Worst error over a sweep, relative to the value (below 1e-20, to 1e-20: `exp` flushes
    /// arguments below −87 to 0, so `silu(−87.5)` is −0 rather than −1e-36), in units of the
    /// bound `4 ulp · (2 + |y|)`: `σ(y)` is only as exact as its argument `y`, rounded in f32
    /// (one ulp of `y = −80` moves `e^y` by 80 ulp), and the rest takes a few roundings.
    fn worst(f: fn(&mut [f32], &[f32]), arg: fn(f32) -> f32, want: fn(f64) -> f64) -> f64 {
        let xs: Vec<f32> = (-40_000..=40_000).map(|i| i as f32 * 0.0025).collect();
        let mut g = xs.clone();
        f(&mut g, &vec![1.0; xs.len()]);
        xs.iter()
            .zip(&g)
            .map(|(&x, &y)| {
                let w = want(x as f64);
                let err = ((y as f64 - w) / w.abs().max(1e-20)).abs();
                err / (4.0 * f64::from(f32::EPSILON / 2.0) * (2.0 + f64::from(arg(x).abs())))
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn silu_and_gelu_are_within_a_few_ulp_of_the_f64_formulas() {
        let s = worst(silu_mul, |x| x, silu64);
        assert!(s <= 1.0, "silu error {s} × the bound");
        let g = worst(gelu_tanh_mul, gelu_arg, gelu64);
        assert!(g <= 1.0, "gelu error {g} × the bound");
    }

    #[test]
    fn edges_and_the_up_factor() {
        let mut g = [
            0.0,
            -0.0,
            1e-30,
            100.0,
            -100.0,
            f32::INFINITY,
            f32::NAN,
            2.0,
        ];
        let u = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -3.0];
        silu_mul(&mut g, &u);
        assert_eq!(g[0], 0.0);
        assert_eq!(g[1], 0.0);
        assert_eq!(g[2], 5e-31);
        assert_eq!(g[3], 100.0);
        assert!(g[4] <= 0.0 && g[4] > -1e-40, "silu(-100) = {}", g[4]);
        assert_eq!(g[5], f32::INFINITY);
        assert!(g[6].is_nan());
        assert!((g[7] as f64 - (-3.0 * silu64(2.0))).abs() < 1e-6);

        let mut g = [1.0f32];
        silu_mul(&mut g, &[1.0]);
        assert!((g[0] - 0.731_058_6).abs() < 1e-7);
        let mut g = [1.0f32];
        gelu_tanh_mul(&mut g, &[1.0]);
        assert!((g[0] - 0.841_192).abs() < 1e-6);

        let mut g = [100.0f32, -100.0, 0.5];
        gelu_tanh_mul(&mut g, &[1.0, 1.0, 2.0]);
        assert_eq!(g[0], 100.0);
        assert_eq!(g[1], -0.0);
        assert!((g[2] as f64 - 2.0 * gelu64(0.5)).abs() < 1e-6);
    }
}
