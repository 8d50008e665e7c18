//! The legacy formats (F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1) against ggml itself, through
//! `ggml-sys` (llama.cpp b2757): dequantize and the reference quantizers bit for bit, dot
//! products within 1e-5 of the sum of the absolute products.
//!
//! BF16 is absent from that ggml release and Q8_1 has no `to_float` or `vec_dot` there; those
//! are covered by the crate's unit tests and `tier_twins_legacy.rs`.
#![cfg(target_arch = "x86_64")]

use std::ffi::c_void;
use std::sync::Once;

use ggml_sys as sys;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort_kernels::ops::{self, TierOps};
use retort_kernels::{GgmlType, Tier};

/// Bytes aligned for any block struct (ggml itself reads them through its own structs).
struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    fn zeroed(len: usize) -> Aligned {
        Aligned {
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }
    fn from_bytes(b: &[u8]) -> Aligned {
        let mut a = Aligned::zeroed(b.len());
        a.bytes_mut().copy_from_slice(b);
        a
    }
    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }
}

fn ggml_id(ty: GgmlType) -> sys::ggml_type {
    ty.id() as sys::ggml_type
}

fn traits(ty: GgmlType) -> sys::ggml_type_traits_t {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // ggml fills its f16 lookup tables in its first `ggml_init`.
        let params = sys::ggml_init_params {
            mem_size: 1 << 16,
            mem_buffer: std::ptr::null_mut(),
            no_alloc: true,
        };
        // SAFETY: plain C call with valid parameters; the context is freed at once.
        unsafe {
            let ctx = sys::ggml_init(params);
            assert!(!ctx.is_null());
            sys::ggml_free(ctx);
        }
    });
    // SAFETY: a lookup in ggml's static table for a type id ggml defines.
    unsafe { sys::ggml_internal_get_type_traits(ggml_id(ty)) }
}

fn ggml_to_float(ty: GgmlType, src: &[u8], n: usize) -> Vec<f32> {
    let f = traits(ty).to_float.expect("ggml has to_float");
    let src = Aligned::from_bytes(src);
    let mut out = vec![0.0f32; n];
    // SAFETY: `src` holds the `n / block_size` blocks ggml reads (checked by the caller's
    // row_bytes), `out` has room for `n` floats.
    unsafe {
        f(
            src.bytes().as_ptr() as *const c_void,
            out.as_mut_ptr(),
            n as i64,
        )
    };
    out
}

fn ggml_quantize(ty: GgmlType, x: &[f32], reference: bool) -> Vec<u8> {
    let t = traits(ty);
    let f = if reference {
        t.from_float_reference
    } else {
        t.from_float
    }
    .expect("ggml has a quantizer");
    let mut out = Aligned::zeroed(row_bytes(ty, x.len()));
    // SAFETY: `out` has room for the blocks of `x.len()` values (a multiple of the block size).
    unsafe {
        f(
            x.as_ptr(),
            out.bytes_mut().as_mut_ptr() as *mut c_void,
            x.len() as i64,
        )
    };
    out.bytes().to_vec()
}

fn ggml_vec_dot(ty: GgmlType, n: usize, w: &[u8], act: &[u8]) -> f32 {
    let f = traits(ty).vec_dot.expect("ggml has vec_dot");
    let w = Aligned::from_bytes(w);
    let act = Aligned::from_bytes(act);
    let mut s = 0.0f32;
    // SAFETY: one row each of `n` elements in ggml's layouts; nrc = 1 ignores the strides.
    unsafe {
        f(
            n as i32,
            &mut s,
            0,
            w.bytes().as_ptr() as *const c_void,
            0,
            act.bytes().as_ptr() as *const c_void,
            0,
            1,
        )
    };
    s
}

fn row_bytes(ty: GgmlType, n: usize) -> usize {
    ty.row_bytes(n as u64).unwrap() as usize
}

fn ours_dequantize(ty: GgmlType, src: &[u8], n: usize) -> Vec<f32> {
    let src = Aligned::from_bytes(src);
    let mut out = vec![0.0f32; n];
    ops::dequantize_row(ty, src.bytes(), &mut out).unwrap();
    out
}

fn ours_quantize(ty: GgmlType, x: &[f32]) -> Vec<u8> {
    let mut out = Aligned::zeroed(row_bytes(ty, x.len()));
    ops::quantize_row(ty, x, out.bytes_mut()).unwrap();
    out.bytes().to_vec()
}

fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Byte offsets of the f16 fields at the start of each block (`d`, then `m` or `s`).
fn scale_offsets(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q8_1 => &[0, 2],
        _ => &[0],
    }
}

/// An f16 scale drawn from ordinary values and the awkward ones.
fn scale_bits(rng: &mut ChaCha8Rng, allow_non_finite: bool) -> u16 {
    let kinds = if allow_non_finite { 10 } else { 8 };
    match rng.random_range(0..kinds) {
        0 => 0x0000,                               // +0
        1 => 0x8000,                               // -0
        2 => rng.random_range(1..0x0400),          // subnormal
        3 => 0x7bff,                               // largest finite
        4 => rng.random_range(1..0x0400) | 0x8000, // negative subnormal
        5..=7 => half::f16::from_f32(rng.random_range(-2.0f32..2.0)).to_bits(),
        8 => 0x7c00 | (rng.random::<u16>() & 0x8000), // ±inf
        _ => 0x7e00 | rng.random_range(0..0x200),     // NaN
    }
}

/// A row of `nb` blocks of random bytes with chosen scales; some rows adversarial.
fn random_blocks(
    ty: GgmlType,
    nb: usize,
    rng: &mut ChaCha8Rng,
    allow_non_finite: bool,
    style: u32,
) -> Vec<u8> {
    let ts = ty.type_size();
    let mut b = vec![0u8; nb * ts];
    match style {
        0 => rng.fill(&mut b[..]),
        1 => b.fill(0xff), // all-max nibbles, -1 quants
        2 => b.fill(0x00),
        3 => b.fill(0x88), // Q4 zero points, -120 as i8
        _ => b.fill(0x80), // -128 quants
    }
    for blk in b.chunks_exact_mut(ts) {
        for &off in scale_offsets(ty) {
            let s = scale_bits(rng, allow_non_finite);
            blk[off..off + 2].copy_from_slice(&s.to_le_bytes());
        }
    }
    b
}

const QUANTS: [GgmlType; 5] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
];

#[test]
fn dequantize_matches_ggml_bit_for_bit() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0001);
    for ty in QUANTS {
        for round in 0..40 {
            let nb = 1 + round % 9;
            let src = random_blocks(ty, nb, &mut rng, true, round as u32 % 5);
            let n = nb * ty.block_size();
            let want = ggml_to_float(ty, &src, n);
            let got = ours_dequantize(ty, &src, n);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    same_bits(*g, *w),
                    "{ty} round {round} element {i}: {g} vs ggml {w}"
                );
            }
        }
    }
    // F16 over every bit pattern; F32 (a copy) over random bits.
    let all: Vec<u8> = (0..=u16::MAX).flat_map(|h| h.to_le_bytes()).collect();
    let want = ggml_to_float(GgmlType::F16, &all, 1 << 16);
    let got = ours_dequantize(GgmlType::F16, &all, 1 << 16);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(same_bits(*g, *w), "f16 {i:#06x}: {g} vs ggml {w}");
    }
    let mut bits = vec![0u8; 4 * 1000];
    rng.fill(&mut bits[..]);
    let want: Vec<f32> = bits
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let got = ours_dequantize(GgmlType::F32, &bits, 1000);
    for (g, w) in got.iter().zip(&want) {
        assert!(same_bits(*g, *w));
    }
}

/// Rows of f32 values that exercise the quantizers: ordinary, tiny, huge, ties, constant blocks.
fn quantizer_inputs(rng: &mut ChaCha8Rng) -> Vec<Vec<f32>> {
    let mut rows = Vec::new();
    for scale in [1e-6f32, 1e-3, 0.1, 1.0, 37.0, 1e4] {
        rows.push(
            (0..256)
                .map(|_| rng.random_range(-1.0f32..1.0) * scale)
                .collect(),
        );
    }
    // Exact halves after scaling by id = 1 (amax = 127): roundf's ties go away from zero.
    rows.push(
        (0..64)
            .map(|i| {
                if i % 32 == 0 {
                    127.0
                } else {
                    (i % 32) as f32 - 16.5
                }
            })
            .collect(),
    );
    // Constant blocks (Q4_1/Q5_1 d = 0), zero blocks, one outlier, negative-max blocks.
    rows.push(vec![0.75; 64]);
    rows.push(vec![0.0; 64]);
    let mut v = vec![0.01f32; 64];
    v[5] = -300.0;
    v[40] = 1e-30;
    rows.push(v);
    rows.push((0..96).map(|i| -((i % 32) as f32) * 0.3).collect());
    // Subnormals.
    rows.push((0..32).map(|i| f32::from_bits(1 + i * 12345)).collect());
    // Values on Q4 step boundaries.
    rows.push((0..64).map(|i| (i % 32) as f32 * 0.5 - 8.0).collect());
    rows
}

#[test]
fn reference_quantizers_match_ggml_bit_for_bit() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0002);
    let inputs = quantizer_inputs(&mut rng);
    for ty in [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q8_1,
    ] {
        for (k, x) in inputs.iter().enumerate() {
            let want = ggml_quantize(ty, x, true);
            let got = ours_quantize(ty, x);
            let ts = ty.type_size();
            for (b, (g, w)) in got.chunks_exact(ts).zip(want.chunks_exact(ts)).enumerate() {
                assert_eq!(g, w, "{ty} input {k} block {b}");
            }
        }
    }
}

#[test]
fn f16_conversion_matches_ggml() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0003);
    let mut x: Vec<f32> = (0..4096)
        .map(|_| f32::from_bits(rng.random::<u32>()))
        .filter(|v| !v.is_nan())
        .collect();
    x.truncate(4000);
    x.extend([
        65504.0, 65520.0, 65519.99, 6.1e-5, 5.96e-8, 2.98e-8, 2.99e-8, -0.0,
    ]);
    let want = ggml_quantize(GgmlType::F16, &x, false);
    let got = ours_quantize(GgmlType::F16, &x);
    assert_eq!(got, want);
}

/// `sum |w_i * a_i|` over the dequantized rows: the scale of the rounding a dot may do.
fn abs_dot(ty: GgmlType, n: usize, w: &[u8], act: &[u8]) -> f64 {
    let at = ty.vec_dot_type();
    let wd = ours_dequantize(ty, w, n);
    let ad = ours_dequantize(at, act, n);
    wd.iter()
        .zip(&ad)
        .map(|(x, y)| (*x as f64 * *y as f64).abs())
        .sum()
}

#[test]
fn vec_dot_matches_ggml() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0004);
    let tiers: Vec<TierOps> = [Tier::Generic, ops::active_tier()]
        .into_iter()
        .map(ops::for_tier)
        .collect();
    for ty in QUANTS.into_iter().chain([GgmlType::F16, GgmlType::F32]) {
        let at = ty.vec_dot_type();
        for round in 0..30 {
            let n = if ty.block_size() == 1 {
                1 + round * 37
            } else {
                ty.block_size() * (1 + round % 11)
            };
            // Weights: from ggml's quantizer on random data, or random blocks with odd scales.
            let wf: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let w = if ty == GgmlType::F32 {
                bytemuck::cast_slice(&wf).to_vec()
            } else if round % 2 == 0 || ty.block_size() == 1 {
                ggml_quantize(ty, &wf, true)
            } else {
                random_blocks(ty, n / ty.block_size(), &mut rng, false, round as u32 % 5)
            };
            let af: Vec<f32> = (0..n).map(|_| rng.random_range(-3.0f32..3.0)).collect();
            let act = if at == GgmlType::F32 {
                bytemuck::cast_slice(&af).to_vec()
            } else {
                ggml_quantize(at, &af, false)
            };
            let want = ggml_vec_dot(ty, n, &w, &act);
            let tol = 1e-5 * abs_dot(ty, n, &w, &act);
            let wa = Aligned::from_bytes(&w);
            let aa = Aligned::from_bytes(&act);
            for t in &tiers {
                let got = t.vec_dot(ty, n, wa.bytes(), aa.bytes()).unwrap();
                assert!(
                    ((got - want) as f64).abs() <= tol,
                    "{ty} ({}) n={n} round {round}: {got} vs ggml {want} (tolerance {tol})",
                    t.tier()
                );
            }
        }
    }
}
