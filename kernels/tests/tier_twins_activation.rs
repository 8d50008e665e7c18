//! The gated activations of every tier this CPU runs against their scalar twins, bit for bit
//! (NaN only as NaN), on random rows of several scales, lengths around the SIMD widths (tails),
//! and edge values: zeros of both signs, arguments whose exponential underflows, huge and
//! infinite values, NaN, and an `up` factor of zero or infinity.
//!
//! On x86 this binary also runs inside Bochs as AVX-512 (`.ci/avx512-tests`), and on aarch64
//! under qemu as NEON, dotprod and i8mm (`.ci/arm-tests`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort_kernels::activation::{self, generic, ActivationOps};
use retort_kernels::Tier;

/// Every supported tier but the generic one.
fn tiers() -> Vec<ActivationOps> {
    let tiers: Vec<ActivationOps> = Tier::ALL
        .into_iter()
        .filter(|t| *t != Tier::Generic && t.is_supported())
        .map(activation::for_tier)
        .collect();
    for t in &tiers {
        assert_ne!(t.tier(), Tier::Generic);
    }
    if cfg!(target_arch = "aarch64") {
        assert!(!tiers.is_empty(), "every aarch64 CPU has NEON");
    }
    tiers
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

type Gated = fn(&mut [f32], &[f32]);
type TierGated = fn(&ActivationOps, &mut [f32], &[f32]);

fn check(ops: &ActivationOps, g: &[f32], u: &[f32], what: &str) {
    let kernels: [(&str, Gated, TierGated); 2] = [
        ("silu", generic::silu_mul, |o, g, u| o.silu_mul(g, u)),
        ("gelu", generic::gelu_tanh_mul, |o, g, u| {
            o.gelu_tanh_mul(g, u)
        }),
    ];
    for (name, twin, kernel) in kernels {
        let mut want = g.to_vec();
        twin(&mut want, u);
        let mut got = g.to_vec();
        kernel(ops, &mut got, u);
        for (i, (&w, &o)) in want.iter().zip(&got).enumerate() {
            assert!(
                same(w, o),
                "{:?} {name} {what}: element {i} of {} (g {}, u {}): twin {w:e}, kernel {o:e}",
                ops.tier(),
                g.len(),
                g[i],
                u.get(i).copied().unwrap_or(f32::NAN)
            );
        }
        // Past the shorter operand nothing is written.
        assert_eq!(&got[u.len().min(g.len())..], &g[u.len().min(g.len())..]);
    }
}

#[test]
fn gated_activations_equal_their_twins_on_random_rows() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x6e1);
    for ops in tiers() {
        for len in [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 640, 2048 + 5] {
            for scale in [1e-3f32, 1.0, 4.0, 30.0] {
                let g: Vec<f32> = (0..len).map(|_| rng.random_range(-scale..scale)).collect();
                let u: Vec<f32> = (0..len).map(|_| rng.random_range(-2.0..2.0)).collect();
                check(&ops, &g, &u, &format!("scale {scale}"));
            }
        }
    }
}

#[test]
fn gated_activations_equal_their_twins_on_edge_values() {
    let edges = [
        0.0f32,
        -0.0,
        1e-38,
        -1e-38,
        1e-45,
        5.0,
        -5.0,
        -9.9,
        -10.1,
        -86.9,
        -87.0,
        -87.1,
        87.0,
        88.0,
        100.0,
        -100.0,
        1e20,
        -1e20,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ];
    for ops in tiers() {
        // Every edge in every lane position, against ordinary, zero and infinite `up`.
        for shift in 0..8 {
            let g: Vec<f32> = (0..edges.len() + shift)
                .map(|i| if i < shift { 0.5 } else { edges[i - shift] })
                .collect();
            for u in [1.0f32, -0.0, f32::INFINITY] {
                check(
                    &ops,
                    &g,
                    &vec![u; g.len()],
                    &format!("edges, shift {shift}, u {u}"),
                );
            }
        }
        // Operands of different lengths: only the common prefix is computed.
        check(&ops, &[1.0; 19], &[2.0; 11], "g longer");
        check(&ops, &[1.0; 11], &[2.0; 19], "u longer");
    }
}
