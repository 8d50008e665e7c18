//! K-quants against plain f32, with per-type error budgets, through the safe `ops` API and the
//! active tier (whatever this CPU runs).
//!
//! Data: 64 super-blocks of bell-shaped weights (sum of four uniforms, as trained weights look)
//! and uniform activations. Budgets sit about 25% above what ggml's reference quantizers reach
//! on such data (RMS error over RMS value: Q2_K 0.29, Q3_K 0.15, Q4_K 0.069, Q5_K 0.035,
//! Q6_K 0.017, Q8_K 0.006), so a quantizer or kernel that gets worse fails.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort_kernels::{ops, GgmlType};

const N: usize = 64 * 256;

/// A row of `ty` in u32 storage (block structs need 2- or 4-byte alignment).
fn quantized(ty: GgmlType, x: &[f32]) -> (Vec<u32>, usize) {
    let bytes = ty.row_bytes(x.len() as u64).unwrap() as usize;
    let mut storage = vec![0u32; bytes.div_ceil(4)];
    ops::quantize_row(ty, x, &mut bytemuck::cast_slice_mut(&mut storage)[..bytes])
        .unwrap_or_else(|e| panic!("{ty}: {e}"));
    (storage, bytes)
}

fn data() -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0xacc);
    let w = (0..N)
        .map(|_| (0..4).map(|_| rng.random_range(-0.5f32..0.5)).sum())
        .collect();
    let a = (0..N).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    (w, a)
}

#[test]
fn round_trip_error_within_budget() {
    let (w, _) = data();
    let rms = |v: &mut dyn Iterator<Item = f64>| (v.map(|e| e * e).sum::<f64>() / N as f64).sqrt();
    let scale = rms(&mut w.iter().map(|&v| v as f64));
    for (ty, budget) in [
        (GgmlType::Q2_K, 0.36),
        (GgmlType::Q3_K, 0.18),
        (GgmlType::Q4_K, 0.086),
        (GgmlType::Q5_K, 0.044),
        (GgmlType::Q6_K, 0.021),
        (GgmlType::Q8_K, 0.008),
    ] {
        let (storage, bytes) = quantized(ty, &w);
        let mut back = vec![0.0f32; N];
        ops::dequantize_row(ty, &bytemuck::cast_slice(&storage)[..bytes], &mut back).unwrap();
        let err = rms(&mut w.iter().zip(&back).map(|(a, b)| (a - b) as f64)) / scale;
        assert!(
            err <= budget,
            "{ty}: relative RMS error {err:.4} > {budget}"
        );
    }
}

#[test]
fn dot_error_within_budget() {
    let (w, a) = data();
    let exact: f64 = w.iter().zip(&a).map(|(x, y)| *x as f64 * *y as f64).sum();
    let magnitude: f64 = w
        .iter()
        .zip(&a)
        .map(|(x, y)| (*x as f64 * *y as f64).abs())
        .sum();
    let (act, act_bytes) = quantized(GgmlType::Q8_K, &a);
    let act = &bytemuck::cast_slice(&act)[..act_bytes];
    for (ty, budget) in [
        (GgmlType::Q2_K, 5e-3),
        (GgmlType::Q3_K, 2e-3),
        (GgmlType::Q4_K, 2e-3),
        (GgmlType::Q5_K, 2e-3),
        (GgmlType::Q6_K, 2e-3),
    ] {
        let (storage, bytes) = quantized(ty, &w);
        let got = ops::vec_dot(ty, N, &bytemuck::cast_slice(&storage)[..bytes], act).unwrap();
        let err = (got as f64 - exact).abs() / magnitude;
        assert!(
            err <= budget,
            "{ty} on {}: dot {got} vs exact {exact}, error {err:.2e} of Σ|w·a| > {budget:e}",
            ops::active_tier()
        );
    }
}
