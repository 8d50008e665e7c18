//! The K-quant scalar kernels against ggml itself (crate `ggml-sys`, x86-64 only), through
//! `ggml_internal_get_type_traits`:
//! - `to_float` (dequantize) bit-exact, on random and adversarial blocks;
//! - Q8_K `from_float` bit-exact;
//! - the weight quantizers bit-exact against `from_float_reference`;
//! - `vec_dot` within 1e-5 of `Σ|w·a|` (ggml's own kernel on this machine is its AVX2 one, which
//!   orders its float sums differently).
//!
//! Bit-exact means: same bits, or both NaN (which NaN payload survives a product of two NaNs
//! depends on operand order, which C compilers may swap).
//!
//! The oracle must evaluate ggml's C as written. GCC with `-march=native` (ggml's default build)
//! fuses `a·b + c` into one FMA, rounding once where the C source rounds twice. Dequantizing is
//! immune (its products are exact: an f16 scale times a 6-bit sub-scale times a small quant), but
//! the weighted sums in the reference quantizers' scale searches are not, so the workspace builds
//! C with `-ffp-contract=off` (`.cargo/config.toml`, `[env]`). A bit-exact failure of only the
//! Q2_K/Q4_K/Q5_K quantizers points at a ggml-sys built without it (a cached build from before
//! the setting: remove its `build/ggml-sys-*` directory from the target dir).
#![cfg(target_arch = "x86_64")]

use std::sync::Once;

use bytemuck::{Pod, Zeroable};
use ggml_sys as g;
use half::f16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort_kernels::blocks::{BlockQ2K, BlockQ3K, BlockQ4K, BlockQ5K, BlockQ6K, BlockQ8K};
use retort_kernels::generic::{q2_k, q3_k, q4_k, q5_k, q6_k, q8_k};
use retort_kernels::ggml_type::QK_K;

fn traits(t: g::ggml_type) -> g::ggml_type_traits_t {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // ggml_init fills ggml's fp16 tables; the context itself is not needed.
        let params = g::ggml_init_params {
            mem_size: 1 << 16,
            mem_buffer: std::ptr::null_mut(),
            no_alloc: true,
        };
        // SAFETY: plain FFI call with valid parameters; the context is freed at once.
        unsafe { g::ggml_free(g::ggml_init(params)) };
    });
    // SAFETY: `t` is a valid ggml type id; the function only reads a static table.
    unsafe { g::ggml_internal_get_type_traits(t) }
}

/// A K-quant weight type under test.
trait KType: Pod {
    const NAME: &'static str;
    const GGML: g::ggml_type;
    /// Sets the super-block scales (`dmin` ignored by types without one).
    fn set_scales(&mut self, d: f16, dmin: f16);
    fn dequantize(x: &[Self], y: &mut [f32]);
    fn quantize(x: &[f32], y: &mut [Self]);
    fn vec_dot(x: &[Self], y: &[BlockQ8K]) -> f32;
}

macro_rules! ktype {
    ($b:ty, $name:literal, $gt:ident, $m:ident, $deq:ident, $q:ident, $dot:ident, min) => {
        impl KType for $b {
            const NAME: &'static str = $name;
            const GGML: g::ggml_type = g::$gt;
            fn set_scales(&mut self, d: f16, dmin: f16) {
                self.d = d;
                self.dmin = dmin;
            }
            fn dequantize(x: &[Self], y: &mut [f32]) {
                $m::$deq(x, y)
            }
            fn quantize(x: &[f32], y: &mut [Self]) {
                $m::$q(x, y)
            }
            fn vec_dot(x: &[Self], y: &[BlockQ8K]) -> f32 {
                $m::$dot(x, y)
            }
        }
    };
    ($b:ty, $name:literal, $gt:ident, $m:ident, $deq:ident, $q:ident, $dot:ident, sym) => {
        impl KType for $b {
            const NAME: &'static str = $name;
            const GGML: g::ggml_type = g::$gt;
            fn set_scales(&mut self, d: f16, _dmin: f16) {
                self.d = d;
            }
            fn dequantize(x: &[Self], y: &mut [f32]) {
                $m::$deq(x, y)
            }
            fn quantize(x: &[f32], y: &mut [Self]) {
                $m::$q(x, y)
            }
            fn vec_dot(x: &[Self], y: &[BlockQ8K]) -> f32 {
                $m::$dot(x, y)
            }
        }
    };
}

ktype!(
    BlockQ2K,
    "Q2_K",
    ggml_type_GGML_TYPE_Q2_K,
    q2_k,
    dequantize_row_q2_k,
    quantize_row_q2_k,
    vec_dot_q2_k_q8_k,
    min
);
ktype!(
    BlockQ3K,
    "Q3_K",
    ggml_type_GGML_TYPE_Q3_K,
    q3_k,
    dequantize_row_q3_k,
    quantize_row_q3_k,
    vec_dot_q3_k_q8_k,
    sym
);
ktype!(
    BlockQ4K,
    "Q4_K",
    ggml_type_GGML_TYPE_Q4_K,
    q4_k,
    dequantize_row_q4_k,
    quantize_row_q4_k,
    vec_dot_q4_k_q8_k,
    min
);
ktype!(
    BlockQ5K,
    "Q5_K",
    ggml_type_GGML_TYPE_Q5_K,
    q5_k,
    dequantize_row_q5_k,
    quantize_row_q5_k,
    vec_dot_q5_k_q8_k,
    min
);
ktype!(
    BlockQ6K,
    "Q6_K",
    ggml_type_GGML_TYPE_Q6_K,
    q6_k,
    dequantize_row_q6_k,
    quantize_row_q6_k,
    vec_dot_q6_k_q8_k,
    sym
);

/// Super-block scales worth testing: ordinary, zero, negative, subnormal, the largest f16,
/// infinities.
fn scale_cases() -> Vec<(f16, f16)> {
    let b = f16::from_bits;
    vec![
        (f16::from_f32(0.0123), f16::from_f32(0.0071)),
        (f16::from_f32(0.0), f16::from_f32(0.0)),
        (f16::from_f32(0.0), f16::from_f32(0.5)),
        (f16::from_f32(-0.031), f16::from_f32(-0.002)),
        (b(0x0001), b(0x03ff)),
        (b(0x8001), b(0x0200)),
        (b(0x0400), b(0x8400)),
        (f16::MAX, f16::MIN),
        (b(0x7c00), f16::from_f32(0.25)),
        (f16::from_f32(1.0), b(0xfc00)),
    ]
}

/// Quant-byte patterns: random, all zero, all ones (largest quants and scales), alternating.
fn fill_pattern<B: KType>(blk: &mut B, pattern: usize, rng: &mut ChaCha8Rng) {
    let bytes = bytemuck::bytes_of_mut(blk);
    for (i, v) in bytes.iter_mut().enumerate() {
        *v = match pattern {
            0 => rng.random(),
            1 => 0x00,
            2 => 0xff,
            3 => {
                if i % 2 == 0 {
                    0x55
                } else {
                    0xaa
                }
            }
            _ => 0x0f,
        };
    }
}

/// Random blocks with ordinary scales, then every pattern × scale case once.
fn weight_rows<B: KType>(rng: &mut ChaCha8Rng) -> Vec<Vec<B>> {
    let mut rows = Vec::new();
    for nb in [1usize, 3, 5, 7] {
        let row: Vec<B> = (0..nb)
            .map(|_| {
                let mut b = B::zeroed();
                fill_pattern(&mut b, 0, rng);
                let e = rng.random_range(-12..4);
                b.set_scales(
                    f16::from_f32(rng.random_range(-1.0f32..1.0) * 2f32.powi(e)),
                    f16::from_f32(rng.random_range(-1.0f32..1.0) * 2f32.powi(e)),
                );
                b
            })
            .collect();
        rows.push(row);
    }
    let mut adversarial = Vec::new();
    for pattern in 0..5 {
        for (d, dmin) in scale_cases() {
            let mut b = B::zeroed();
            fill_pattern(&mut b, pattern, rng);
            b.set_scales(d, dmin);
            adversarial.push(b);
        }
    }
    // Odd-sized rows of the adversarial blocks.
    for chunk in adversarial.chunks(7) {
        rows.push(chunk.to_vec());
    }
    rows
}

fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn ggml_dequantize<B: KType>(x: &[B]) -> Vec<f32> {
    let t = traits(B::GGML);
    let mut y = vec![0.0f32; x.len() * QK_K];
    // SAFETY: `x` holds `x.len()` blocks of the type's layout, `y` room for all their values.
    unsafe { t.to_float.unwrap()(x.as_ptr().cast(), y.as_mut_ptr(), y.len() as i64) };
    y
}

fn check_dequantize<B: KType>() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x4b71 + B::GGML as u64);
    for (r, row) in weight_rows::<B>(&mut rng).iter().enumerate() {
        let want = ggml_dequantize(row);
        let mut got = vec![0.0f32; row.len() * QK_K];
        B::dequantize(row, &mut got);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                same_bits(*a, *b),
                "{} row {r} value {i}: ours {a:e} ({:#x}), ggml {b:e} ({:#x})",
                B::NAME,
                a.to_bits(),
                b.to_bits()
            );
        }
    }
}

#[test]
fn dequantize_q2_k_matches_ggml() {
    check_dequantize::<BlockQ2K>();
}
#[test]
fn dequantize_q3_k_matches_ggml() {
    check_dequantize::<BlockQ3K>();
}
#[test]
fn dequantize_q4_k_matches_ggml() {
    check_dequantize::<BlockQ4K>();
}
#[test]
fn dequantize_q5_k_matches_ggml() {
    check_dequantize::<BlockQ5K>();
}
#[test]
fn dequantize_q6_k_matches_ggml() {
    check_dequantize::<BlockQ6K>();
}

fn random_activations(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let v: f32 = rng.random_range(-1.0f32..1.0);
            // A few outliers, as real activations have.
            if i % 97 == 5 {
                v * 40.0
            } else {
                v
            }
        })
        .collect()
}

fn ggml_quantize_q8_k(x: &[f32]) -> Vec<BlockQ8K> {
    let t = traits(g::ggml_type_GGML_TYPE_Q8_K);
    let mut y = vec![BlockQ8K::zeroed(); x.len() / QK_K];
    // SAFETY: `x` holds `x.len()` floats, `y` room for their blocks.
    unsafe { t.from_float.unwrap()(x.as_ptr(), y.as_mut_ptr().cast(), x.len() as i64) };
    y
}

fn q8_k_inputs(rng: &mut ChaCha8Rng) -> Vec<Vec<f32>> {
    let mut rows = vec![
        random_activations(rng, QK_K),
        random_activations(rng, 3 * QK_K),
        vec![0.0; QK_K],
        (0..QK_K)
            .map(|i| if i == 77 { -3.5 } else { 0.0 })
            .collect(),
        (0..QK_K)
            .map(|i| if i % 2 == 0 { 2.0 } else { -2.0 })
            .collect(),
        (0..QK_K).map(|i| (i as f32 - 128.0) * 1e-41).collect(),
        (0..QK_K).map(|i| (i as f32 - 128.0) * 1e36).collect(),
        (0..QK_K)
            .map(|i| if i == 3 { f32::INFINITY } else { 1.0 })
            .collect(),
        (0..QK_K).map(|i| (i as f32 * 0.37).sin() * 127.5).collect(),
    ];
    rows.push(rows[0].iter().map(|v| v.abs()).collect());
    rows
}

#[test]
fn quantize_q8_k_matches_ggml() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x08);
    for (r, x) in q8_k_inputs(&mut rng).iter().enumerate() {
        let want = ggml_quantize_q8_k(x);
        let mut got = vec![BlockQ8K::zeroed(); x.len() / QK_K];
        q8_k::quantize_row_q8_k(x, &mut got);
        for (b, (ours, theirs)) in got.iter().zip(&want).enumerate() {
            assert!(
                same_bits(ours.d, theirs.d),
                "row {r} block {b}: d {} vs {}",
                ours.d,
                theirs.d
            );
            assert_eq!(ours.qs, theirs.qs, "row {r} block {b}: quants");
            assert_eq!(ours.bsums, theirs.bsums, "row {r} block {b}: bsums");
        }
    }
}

/// Q8_K activation rows of `nb` blocks: quantized random values, plus extreme quants (±127,
/// -128) with matching `bsums`.
fn activation_rows(rng: &mut ChaCha8Rng, nb: usize) -> Vec<Vec<BlockQ8K>> {
    let mut rows = Vec::new();
    let x = random_activations(rng, nb * QK_K);
    let mut a = vec![BlockQ8K::zeroed(); nb];
    q8_k::quantize_row_q8_k(&x, &mut a);
    rows.push(a);
    for fill in [127i8, -128, -127] {
        let mut a = vec![BlockQ8K::zeroed(); nb];
        for (i, b) in a.iter_mut().enumerate() {
            b.d = if i % 2 == 0 { 0.013 } else { -0.27 };
            for (j, q) in b.qs.iter_mut().enumerate() {
                *q = if j % 3 == 0 {
                    fill
                } else {
                    fill.wrapping_neg().max(-127)
                };
            }
            fix_bsums(b);
        }
        rows.push(a);
    }
    rows
}

fn fix_bsums(b: &mut BlockQ8K) {
    for j in 0..QK_K / 16 {
        b.bsums[j] = b.qs[16 * j..16 * j + 16].iter().map(|&q| q as i16).sum();
    }
}

/// `Σ|w·a|` in f64 from the dequantized rows: the scale of a dot product's rounding error.
fn abs_dot<B: KType>(w: &[B], a: &[BlockQ8K]) -> f64 {
    let mut wf = vec![0.0f32; w.len() * QK_K];
    B::dequantize(w, &mut wf);
    let mut af = vec![0.0f32; a.len() * QK_K];
    q8_k::dequantize_row_q8_k(a, &mut af);
    wf.iter()
        .zip(&af)
        .map(|(x, y)| (*x as f64 * *y as f64).abs())
        .sum()
}

fn check_vec_dot<B: KType>() {
    let t = traits(B::GGML);
    assert_eq!(t.vec_dot_type, g::ggml_type_GGML_TYPE_Q8_K);
    let mut rng = ChaCha8Rng::seed_from_u64(0xd07 + B::GGML as u64);
    for (r, w) in weight_rows::<B>(&mut rng).iter().enumerate() {
        for (c, a) in activation_rows(&mut rng, w.len()).iter().enumerate() {
            let mut want = 0.0f32;
            // SAFETY: both rows hold `w.len()` blocks of `n` values; one result is written.
            unsafe {
                t.vec_dot.unwrap()(
                    (w.len() * QK_K) as i32,
                    &mut want,
                    0,
                    w.as_ptr().cast(),
                    0,
                    a.as_ptr().cast(),
                    0,
                    1,
                )
            };
            let got = B::vec_dot(w, a);
            let ctx = format!(
                "{} row {r} activations {c}: ours {got:e}, ggml {want:e}",
                B::NAME
            );
            if !want.is_finite() || !got.is_finite() {
                // Infinite scales: which lane meets `inf·0` first differs between kernels.
                assert!(!want.is_finite() && !got.is_finite(), "{ctx}");
                continue;
            }
            let bound = 1e-5 * abs_dot(w, a);
            assert!(
                ((got - want) as f64).abs() <= bound,
                "{ctx}, bound {bound:e}"
            );
        }
    }
}

#[test]
fn vec_dot_q2_k_matches_ggml() {
    check_vec_dot::<BlockQ2K>();
}
#[test]
fn vec_dot_q3_k_matches_ggml() {
    check_vec_dot::<BlockQ3K>();
}
#[test]
fn vec_dot_q4_k_matches_ggml() {
    check_vec_dot::<BlockQ4K>();
}
#[test]
fn vec_dot_q5_k_matches_ggml() {
    check_vec_dot::<BlockQ5K>();
}
#[test]
fn vec_dot_q6_k_matches_ggml() {
    check_vec_dot::<BlockQ6K>();
}

/// Inputs for the weight quantizers: smooth, uniform, skewed, with outliers, constant, zero
/// sub-blocks, tiny and subnormal values, large values.
fn weight_inputs(rng: &mut ChaCha8Rng) -> Vec<Vec<f32>> {
    let n = 4 * QK_K;
    let gauss = |rng: &mut ChaCha8Rng| -> f32 {
        (0..4).map(|_| rng.random_range(-1.0f32..1.0)).sum::<f32>() * 0.5
    };
    let mut rows: Vec<Vec<f32>> = vec![
        (0..n).map(|_| gauss(rng) * 0.02).collect(),
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
        (0..n).map(|_| rng.random_range(0.0f32..3.0)).collect(),
        (0..n).map(|_| rng.random_range(-3.0f32..-0.5)).collect(),
        (0..n)
            .map(|i| {
                if i % 61 == 7 {
                    gauss(rng) * 50.0
                } else {
                    gauss(rng) * 0.1
                }
            })
            .collect(),
        vec![0.75; n],
        vec![0.0; n],
        (0..n)
            .map(|i| if (i / 16) % 3 == 0 { 0.0 } else { gauss(rng) })
            .collect(),
        (0..n)
            .map(|i| if (i / 32) % 2 == 0 { 0.0 } else { gauss(rng) })
            .collect(),
        (0..n).map(|_| gauss(rng) * 1e-20).collect(),
        (0..n).map(|_| gauss(rng) * 1e-39).collect(),
        (0..n).map(|_| gauss(rng) * 3e3).collect(),
        (0..n).map(|i| ((i % 16) as f32 - 7.5) * 0.125).collect(),
        (0..n)
            .map(|i| if i % 256 == 9 { 1.0 } else { 0.0 })
            .collect(),
    ];
    for _ in 0..40 {
        rows.push((0..QK_K).map(|_| gauss(rng) * 0.05).collect());
    }
    rows
}

/// Real weights: the values of the golden rows (Gemma 3 270M, dequantized from Q4_K and Q6_K
/// by Python's `gguf`; see `golden/make_golden.py`).
fn real_weight_rows() -> Vec<Vec<f32>> {
    let files: [&[u8]; 2] = [
        include_bytes!("golden/gemma-3-270m-q4_k_m.Q4_K.golden"),
        include_bytes!("golden/gemma-3-270m-q4_k_m.Q6_K.golden"),
    ];
    files
        .iter()
        .map(|b| {
            let field = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
            let n = field(12) * field(16);
            b[b.len() - 4 * n..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        })
        .collect()
}

fn check_quantize<B: KType>() {
    let t = traits(B::GGML);
    let mut rng = ChaCha8Rng::seed_from_u64(0x9a + B::GGML as u64);
    let mut inputs = weight_inputs(&mut rng);
    inputs.extend(real_weight_rows());
    for (r, x) in inputs.iter().enumerate() {
        let nb = x.len() / QK_K;
        let mut want = vec![B::zeroed(); nb];
        // SAFETY: `x` holds `x.len()` floats, `want` room for their blocks.
        unsafe {
            t.from_float_reference.unwrap()(x.as_ptr(), want.as_mut_ptr().cast(), x.len() as i64)
        };
        let mut got = vec![B::zeroed(); nb];
        B::quantize(x, &mut got);
        for (b, (ours, theirs)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                bytemuck::bytes_of(ours),
                bytemuck::bytes_of(theirs),
                "{} input {r} block {b} (if only Q2_K/Q4_K/Q5_K differ, see the module docs on \
                 -ffp-contract=off)",
                B::NAME
            );
        }
    }
}

#[test]
fn quantize_q2_k_matches_ggml_reference() {
    check_quantize::<BlockQ2K>();
}
#[test]
fn quantize_q3_k_matches_ggml_reference() {
    check_quantize::<BlockQ3K>();
}
#[test]
fn quantize_q4_k_matches_ggml_reference() {
    check_quantize::<BlockQ4K>();
}
#[test]
fn quantize_q5_k_matches_ggml_reference() {
    check_quantize::<BlockQ5K>();
}
#[test]
fn quantize_q6_k_matches_ggml_reference() {
    check_quantize::<BlockQ6K>();
}
