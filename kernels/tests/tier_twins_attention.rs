//! The attention kernels of every tier this CPU runs against their scalar twins, bit for bit
//! (NaN only as NaN), on random and adversarial data: block lengths around the SIMD widths,
//! scores far below the largest (exponentials that underflow to 0), NaN and infinite scores,
//! zero and extreme Q8_0 scales, head sizes that leave tails.
//!
//! On x86 this binary also runs inside Bochs as AVX-512 (`.ci/avx512-tests`), and on aarch64
//! under qemu as NEON, dotprod and i8mm (`.ci/arm-tests`).

use half::f16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort_kernels::attention::{self, generic, AttentionOps, KvType};
use retort_kernels::blocks::BlockQ8_0;
use retort_kernels::{KernelError, Tier};

/// The tiers to check: every supported tier but the generic one.
fn tiers() -> Vec<AttentionOps> {
    let tiers: Vec<AttentionOps> = Tier::ALL
        .into_iter()
        .filter(|t| *t != Tier::Generic && t.is_supported())
        .map(attention::for_tier)
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

fn check_softmax(ops: &AttentionOps, s: &[f32], scale: f32, what: &str) {
    let mut want = s.to_vec();
    let (wm, ws) = generic::softmax_block(&mut want, scale);
    let mut got = s.to_vec();
    let (gm, gs) = ops.softmax_block(&mut got, scale);
    assert!(
        same(gm, wm) && same(gs, ws),
        "{} {what}: ({gm}, {gs}) vs ({wm}, {ws})",
        ops.tier()
    );
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            same(*g, *w),
            "{} {what}: element {i}: {g} vs {w}",
            ops.tier()
        );
    }
}

#[test]
fn softmax_blocks_equal_their_twin() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for ops in tiers() {
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 100, 128, 255, 256] {
            for spread in [0.1f32, 5.0, 60.0, 400.0] {
                let s: Vec<f32> = (0..n).map(|_| rng.random_range(-spread..spread)).collect();
                check_softmax(&ops, &s, 0.125, &format!("n {n} spread {spread}"));
                check_softmax(&ops, &s, 1.0, &format!("n {n} spread {spread} scale 1"));
            }
        }
        // Largest values that are zeros of both signs (which one the twin keeps depends on
        // their order), in and past the kernels' steps.
        for trial in 0..200 {
            let n = rng.random_range(1..80);
            let s: Vec<f32> = (0..n)
                .map(|_| match rng.random_range(0..5) {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f32::NAN,
                    _ => -rng.random_range(0.5f32..4.0),
                })
                .collect();
            check_softmax(&ops, &s, 1.0, &format!("signed zeros, trial {trial}"));
        }
        let adversarial: [&[f32]; 5] = [
            &[f32::NAN, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, f32::NAN],
            &[
                f32::NEG_INFINITY,
                0.0,
                -1e30,
                1e-30,
                -87.0,
                -87.5,
                -86.9,
                0.5,
                3.0,
            ],
            &[f32::INFINITY, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            &[0.0; 24],
            &[-3.0e38, 3.0e38, 0.0, 1.0, -1.0, 2.0, -2.0, 4.0, -4.0, 8.0],
        ];
        for (k, s) in adversarial.iter().enumerate() {
            check_softmax(&ops, s, 1.0, &format!("adversarial {k}"));
        }
    }
}

fn q8_0_rows(rng: &mut ChaCha8Rng, n: usize, d: usize) -> Vec<BlockQ8_0> {
    (0..n * d / 32)
        .map(|b| BlockQ8_0 {
            d: match b % 7 {
                0 => f16::from_f32(0.0),
                1 => f16::MAX,
                2 => f16::from_f32(6.0e-8),
                _ => f16::from_f32(rng.random_range(-0.1..0.1)),
            },
            qs: std::array::from_fn(|i| match (b + i) % 11 {
                0 => -128,
                1 => 127,
                _ => rng.random_range(-127..=127),
            }),
        })
        .collect()
}

fn check_sum(ops: &AttentionOps, ty: KvType, rows: &[u8], w: &[f32], d: usize, what: &str) {
    let start: Vec<f32> = (0..d).map(|j| (j as f32 * 0.37).sin()).collect();
    let mut want = start.clone();
    attention::for_tier(Tier::Generic)
        .weighted_sum(ty, rows, w, &mut want)
        .unwrap();
    let mut got = start;
    ops.weighted_sum(ty, rows, w, &mut got).unwrap();
    for (j, (g, x)) in got.iter().zip(&want).enumerate() {
        assert!(
            same(*g, *x),
            "{} {ty:?} {what}: element {j}: {g} vs {x}",
            ops.tier()
        );
    }
}

#[test]
fn weighted_sums_equal_their_twin() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for ops in tiers() {
        for d in [32, 64, 96, 128, 256] {
            for n in [0, 1, 3, 8, 33, 128] {
                let mut w: Vec<f32> = (0..n).map(|_| rng.random_range(0.0..1.0)).collect();
                if n > 2 {
                    w[1] = 0.0;
                    w[2] = 1.0e-30;
                }
                let f: Vec<f32> = (0..n * d).map(|_| rng.random_range(-4.0..4.0)).collect();
                check_sum(&ops, KvType::F32, bytemuck::cast_slice(&f), &w, d, "random");
                let h: Vec<f16> = f.iter().map(|&x| f16::from_f32(x)).collect();
                check_sum(&ops, KvType::F16, bytemuck::cast_slice(&h), &w, d, "random");
                let q = q8_0_rows(&mut rng, n, d);
                check_sum(
                    &ops,
                    KvType::Q8_0,
                    bytemuck::cast_slice(&q),
                    &w,
                    d,
                    "random",
                );
            }
        }
        // Head sizes that leave a tail for the float types.
        for d in [1, 7, 12, 72, 100] {
            let n = 5;
            let w: Vec<f32> = (0..n).map(|_| rng.random_range(0.0..1.0)).collect();
            let f: Vec<f32> = (0..n * d).map(|_| rng.random_range(-4.0..4.0)).collect();
            check_sum(&ops, KvType::F32, bytemuck::cast_slice(&f), &w, d, "tail");
            let h: Vec<f16> = f.iter().map(|&x| f16::from_f32(x)).collect();
            check_sum(&ops, KvType::F16, bytemuck::cast_slice(&h), &w, d, "tail");
        }
    }
}

/// Several queries at once: every accumulator as the one-query twin leaves it, with weight rows
/// at a stride longer than the block (the caller's score rows), and the tile of four queries,
/// its remainders and several tiles.
#[test]
fn multi_query_weighted_sums_equal_the_one_query_twin() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let twin = attention::for_tier(Tier::Generic);
    let mut all = tiers();
    all.push(twin);
    for ops in all {
        for d in [7, 16, 24, 32, 64, 72, 128, 256] {
            for n in [0, 1, 5, 33, 128] {
                for n_q in 1..=9 {
                    let stride = n + 3;
                    let w: Vec<f32> = (0..n_q * stride)
                        .map(|_| rng.random_range(0.0..1.0))
                        .collect();
                    let f: Vec<f32> = (0..n * d).map(|_| rng.random_range(-4.0..4.0)).collect();
                    let h: Vec<f16> = f.iter().map(|&x| f16::from_f32(x)).collect();
                    let q = q8_0_rows(&mut rng, n, d);
                    let start: Vec<f32> = (0..n_q * d).map(|j| (j as f32 * 0.37).sin()).collect();
                    let cases: [(KvType, &[u8]); 3] = [
                        (KvType::F32, bytemuck::cast_slice(&f)),
                        (KvType::F16, bytemuck::cast_slice(&h)),
                        (KvType::Q8_0, bytemuck::cast_slice(&q)),
                    ];
                    for (ty, rows) in cases {
                        if ty == KvType::Q8_0 && d % 32 != 0 {
                            continue;
                        }
                        let mut want = start.clone();
                        for (k, a) in want.chunks_exact_mut(d).enumerate() {
                            twin.weighted_sum(ty, rows, &w[k * stride..][..n], a)
                                .unwrap();
                        }
                        let mut got = start.clone();
                        ops.weighted_sums(ty, rows, &w, stride, &mut got, d)
                            .unwrap();
                        for (j, (g, x)) in got.iter().zip(&want).enumerate() {
                            assert!(
                                same(*g, *x),
                                "{} {ty:?} d {d} n {n} queries {n_q}: element {j}: {g} vs {x}",
                                ops.tier()
                            );
                        }
                    }
                }
            }
        }
    }
    // Weights too short for the queries and the stride, and a stride shorter than the block.
    let ops = attention::for_tier(Tier::Generic);
    let rows = [0u8; 2 * 64 * 2];
    let mut acc = [0.0f32; 3 * 64];
    assert!(matches!(
        ops.weighted_sums(KvType::F16, &rows, &[1.0; 9], 4, &mut acc, 64),
        Err(KernelError::Length { given: 9, .. })
    ));
    assert!(ops
        .weighted_sums(KvType::F16, &rows, &[1.0; 10], 4, &mut acc, 64)
        .is_ok());
    assert!(matches!(
        ops.weighted_sums(KvType::F16, &rows, &[1.0; 10], 1, &mut acc, 64),
        Err(KernelError::Length { .. })
    ));
    assert!(matches!(
        ops.weighted_sums(KvType::F16, &rows, &[1.0; 10], 4, &mut acc[..100], 64),
        Err(KernelError::Length { given: 100, .. })
    ));
}

#[test]
fn the_twins_compute_what_they_say() {
    // softmax: exponentials relative to the largest scaled score, and their sum.
    let mut s = vec![0.0f32, 2.0, 4.0, -6.0, 1.0, 0.5, 3.0, 2.5, 1.5];
    let (m, sum) = generic::softmax_block(&mut s, 0.5);
    assert_eq!(m, 2.0);
    let want: Vec<f64> = [0.0f64, 2.0, 4.0, -6.0, 1.0, 0.5, 3.0, 2.5, 1.5]
        .iter()
        .map(|v| (v * 0.5 - 2.0).exp())
        .collect();
    for (g, w) in s.iter().zip(&want) {
        assert!((*g as f64 - w).abs() < 1e-6 * w.max(1e-3), "{g} vs {w}");
    }
    assert!((sum as f64 - want.iter().sum::<f64>()).abs() < 1e-5);
    // Weighted sums of Q8_0 rows are the sums of their dequantized values.
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let q = q8_0_rows(&mut rng, 3, 64);
    let w = [0.5f32, 0.25, 2.0];
    let mut acc = vec![1.0f32; 64];
    generic::weighted_sum_q8_0(&q, &w, &mut acc);
    for j in 0..64 {
        let mut want = 1.0f64;
        for (p, &wp) in w.iter().enumerate() {
            let b = &q[p * 2 + j / 32];
            want += wp as f64 * b.d.to_f64() * b.qs[j % 32] as f64;
        }
        assert!(
            (acc[j] as f64 - want).abs() <= 1e-4 * want.abs().max(1.0),
            "{j}"
        );
    }
}

#[test]
fn bad_rows_are_errors() {
    let ops = attention::for_tier(Tier::Generic);
    let mut acc = [0.0f32; 64];
    let short = [0u8; 100];
    assert!(matches!(
        ops.weighted_sum(KvType::F16, &short, &[1.0], &mut acc),
        Err(KernelError::Length {
            expected: 128,
            given: 100,
            ..
        })
    ));
    let mut odd = [0.0f32; 48];
    assert!(matches!(
        ops.weighted_sum(KvType::Q8_0, &[0u8; 34], &[1.0], &mut odd),
        Err(KernelError::NotBlockMultiple { n: 48, .. })
    ));
    let words = [0u32; 65];
    let bytes: &[u8] = bytemuck::cast_slice(&words);
    assert!(matches!(
        ops.weighted_sum(KvType::F32, &bytes[2..258], &[1.0], &mut acc),
        Err(KernelError::Misaligned { align: 4, .. })
    ));
    assert_eq!(KvType::from_name("Q8_0"), Some(KvType::Q8_0));
    assert_eq!(KvType::from_name("f8"), None);
}
