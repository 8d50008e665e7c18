//! The AVX2 and AVX-512 kernels of the legacy formats against their scalar twins, and the
//! determinism invariant (gemv/gemm elements equal vec_dot bit for bit) in every tier.
//!
//! The AVX-512 tier runs only where `Tier::Avx512.is_supported()` (otherwise its tests print a
//! note and return); `.ci/avx512-tests` runs this binary on an emulated AVX-512 VNNI CPU.
//!
//! The kernels follow one accumulation order in every tier (see
//! `retort_kernels::generic::accumulate`), so the AVX2 results must equal the scalar ones
//! exactly, not merely closely. NaN results only need to be NaN on both sides: which NaN payload
//! x86 returns depends on operand order, which the compiler may commute.
#![cfg(target_arch = "x86_64")]

use std::process::Command;

use half::f16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort_kernels::blocks::{BlockQ4_0, BlockQ8_0};
use retort_kernels::ops::{self, TierOps};
use retort_kernels::{generic, x86, GgmlType, Tier};

const TYPES: [GgmlType; 7] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
];

fn avx2() -> TierOps {
    assert!(
        Tier::Avx2.is_supported(),
        "this test needs an x86-64 CPU with AVX2, FMA and F16C"
    );
    let t = ops::for_tier(Tier::Avx2);
    assert_eq!(t.tier(), Tier::Avx2);
    t
}

/// Types with kernels of their own in the AVX-512 tier (BF16 has none in AVX2).
const TYPES_AVX512: [GgmlType; 8] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
];

/// The AVX-512 tier's ops, or `None` (with a note on stdout) when this CPU lacks AVX-512 VNNI.
fn avx512(test: &str) -> Option<TierOps> {
    if !Tier::Avx512.is_supported() {
        println!("{test}: skipped, this CPU lacks AVX-512 F/BW/VL + VNNI (see .ci/avx512-tests)");
        return None;
    }
    let t = ops::for_tier(Tier::Avx512);
    assert_eq!(t.tier(), Tier::Avx512);
    Some(t)
}

fn generic_ops() -> TierOps {
    let t = ops::for_tier(Tier::Generic);
    assert_eq!(t.tier(), Tier::Generic);
    t
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// A 4-aligned byte buffer; rows are placed at an offset inside it.
struct Buf {
    words: Vec<u32>,
}

impl Buf {
    fn new(len: usize) -> Buf {
        Buf {
            words: vec![0; len.div_ceil(4) + 2],
        }
    }
    fn bytes(&self) -> &[u8] {
        bytemuck::cast_slice(&self.words)
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        bytemuck::cast_slice_mut(&mut self.words)
    }
}

/// Offsets of the f16 fields at the start of a block (`d`, then `m` or `s`).
fn scale_offsets(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q8_1 => &[0, 2],
        _ => &[0],
    }
}

fn scale_bits(rng: &mut ChaCha8Rng) -> u16 {
    match rng.random_range(0..12) {
        0 => 0x0000,
        1 => 0x8000,
        2 => rng.random_range(1..0x0400),
        3 => rng.random_range(1..0x0400) | 0x8000,
        4 => 0x7bff,
        5 => 0x7c00,
        6 => 0xfc00,
        7 => 0x7e00,
        _ => f16::from_f32(rng.random_range(-1.0f32..1.0)).to_bits(),
    }
}

/// `rows` rows of `n` elements of `ty`, written `offset` bytes into a fresh buffer.
/// Styles: 0 quantized random floats, 1 random bytes with odd scales, 2 all 0xff, 3 all 0x80.
fn make_rows(
    ty: GgmlType,
    n: usize,
    rows: usize,
    offset: usize,
    style: u32,
    rng: &mut ChaCha8Rng,
) -> (Buf, usize) {
    let rb = ty.row_bytes(n as u64).unwrap() as usize;
    let mut buf = Buf::new(offset + rows * rb);
    {
        let bytes = &mut buf.bytes_mut()[offset..offset + rows * rb];
        match style {
            0 => {
                for r in 0..rows {
                    let x: Vec<f32> = (0..n)
                        .map(|_| {
                            rng.random_range(-1.0f32..1.0) * 10f32.powi(rng.random_range(-3..3))
                        })
                        .collect();
                    ops::quantize_row(ty, &x, &mut bytes[r * rb..(r + 1) * rb]).unwrap();
                }
            }
            1 => rng.fill(bytes),
            2 => bytes.fill(0xff),
            _ => bytes.fill(0x80),
        }
        if style != 0 && ty.block_size() > 1 {
            for blk in bytes.chunks_exact_mut(ty.type_size()) {
                for &off in scale_offsets(ty) {
                    blk[off..off + 2].copy_from_slice(&scale_bits(rng).to_le_bytes());
                }
            }
        }
        if style == 1 && ty == GgmlType::F16 {
            // Random halves include infinities and NaNs; keep some but not most.
            for h in bytes.chunks_exact_mut(2) {
                if rng.random_range(0..8) != 0 {
                    let v = f16::from_f32(rng.random_range(-4.0f32..4.0));
                    h.copy_from_slice(&v.to_bits().to_le_bytes());
                }
            }
        }
        if style == 1 && ty == GgmlType::BF16 {
            // Random bits are NaN too often; mostly values over a wide range (products that
            // overflow or underflow f32 included), some raw bit patterns.
            for h in bytes.chunks_exact_mut(2) {
                if rng.random_range(0..8) != 0 {
                    let v = rng.random_range(-4.0f32..4.0) * 10f32.powi(rng.random_range(-25..25));
                    h.copy_from_slice(&half::bf16::from_f32(v).to_bits().to_le_bytes());
                }
            }
        }
        if style == 1 && ty == GgmlType::F32 {
            for f in bytes.chunks_exact_mut(4) {
                let v: f32 = rng.random_range(-1e3f32..1e3);
                f.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    (buf, rb)
}

fn element_counts(ty: GgmlType) -> Vec<usize> {
    if ty.block_size() == 1 {
        // 32·k up to 512 and past it: the widths F16 gemms widen on the stack, and the next.
        vec![1, 7, 31, 32, 33, 64, 100, 256, 257, 512, 544, 1000]
    } else {
        // Every short-group length 1..=7 (alone and after whole groups of eight), whole groups.
        [
            1usize, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 33, 64,
        ]
        .iter()
        .map(|b| b * ty.block_size())
        .collect()
    }
}

/// Every type of `types` in `fast` against the scalar twins (vec_dot) and against its own vec_dot
/// (gemv, gemm), over element counts around the 8-block groups and every tile shape.
fn check_tier_against_twins(fast: &TierOps, types: &[GgmlType], seed: u64) {
    let slow = generic_ops();
    let name = fast.tier().name();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for &ty in types {
        let at = ty.vec_dot_type();
        for n in element_counts(ty) {
            for style in 0..4u32 {
                let rows = 1 + rng.random_range(0..9usize);
                // Up to 9 × 7 so the 4 × 4 tiles and every remainder shape run.
                let cols = 1 + rng.random_range(0..7usize);
                // Rows start 2 (or 4, for F32) bytes into their buffer: inside a larger
                // mapping, not at its start.
                let off = if ty == GgmlType::F32 { 4 } else { 2 };
                let (wbuf, wrb) = make_rows(ty, n, rows, off, style, &mut rng);
                // Activations at a different offset from the weights.
                let aoff = if at == GgmlType::F32 { 8 } else { 6 };
                let (abuf, arb) = make_rows(at, n, cols, aoff, style % 2, &mut rng);
                let w = &wbuf.bytes()[off..off + rows * wrb];
                let a = &abuf.bytes()[aoff..aoff + cols * arb];
                for (tname, t) in [("generic", &slow), (name, fast)] {
                    let mut out = vec![0.0f32; rows * cols];
                    t.gemm(ty, n, w, a, cols, &mut out).unwrap();
                    for c in 0..cols {
                        let ac = &a[c * arb..(c + 1) * arb];
                        let mut col = vec![0.0f32; rows];
                        t.gemv(ty, n, w, ac, &mut col).unwrap();
                        for r in 0..rows {
                            let wr = &w[r * wrb..(r + 1) * wrb];
                            let d = t.vec_dot(ty, n, wr, ac).unwrap();
                            let twin = slow.vec_dot(ty, n, wr, ac).unwrap();
                            let ctx = format!(
                                "{ty} {tname} n={n} style={style} rows={rows} cols={cols} \
                                 r={r} c={c}"
                            );
                            assert!(
                                same(d, twin),
                                "{ctx}: vec_dot {d:e} ({:#010x}) vs scalar twin {twin:e} ({:#010x})",
                                d.to_bits(),
                                twin.to_bits()
                            );
                            let g = col[r];
                            assert!(
                                same(d, g),
                                "{ctx}: gemv {g:e} ({:#010x}) vs vec_dot {d:e} ({:#010x})",
                                g.to_bits(),
                                d.to_bits()
                            );
                            let m = out[c * rows + r];
                            assert!(
                                same(d, m),
                                "{ctx}: gemm {m:e} ({:#010x}) vs vec_dot {d:e} ({:#010x})",
                                m.to_bits(),
                                d.to_bits()
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn avx2_equals_the_scalar_twin_and_gemv_gemm_equal_vec_dot() {
    check_tier_against_twins(&avx2(), &TYPES, 0x7471_0001);
}

#[test]
fn avx512_equals_the_scalar_twin_and_gemv_gemm_equal_vec_dot() {
    let Some(fast) = avx512("avx512_equals_the_scalar_twin_and_gemv_gemm_equal_vec_dot") else {
        return;
    };
    check_tier_against_twins(&fast, &TYPES_AVX512, 0x7471_0005);
}

/// Constant quant patterns with unit scales in `fast` against the scalar twins: all-max nibbles
/// against -128 activations (the sign-flip trick would overflow here), -128 × -128 and friends.
fn check_extreme_quants(fast: &TierOps) {
    let slow = generic_ops();
    let name = fast.tier().name();
    let n = 9 * 32;
    for ty in [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
    ] {
        let at = ty.vec_dot_type();
        for (wfill, afill) in [
            (0xffu8, 0x80u8),
            (0x00, 0x80),
            (0x80, 0x80),
            (0xff, 0x7f),
            (0x88, 0x81),
            // -128 weights against ±127: the largest pairs the sign trick sees (no -128 there).
            (0x80, 0x81),
            (0x80, 0x7f),
        ] {
            let mut w = Buf::new(ty.row_bytes(n as u64).unwrap() as usize);
            let mut a = Buf::new(at.row_bytes(n as u64).unwrap() as usize);
            let wl = ty.row_bytes(n as u64).unwrap() as usize;
            let al = at.row_bytes(n as u64).unwrap() as usize;
            w.bytes_mut()[..wl].fill(wfill);
            a.bytes_mut()[..al].fill(afill);
            // Scale 1.0 everywhere so the result is the integer dot itself.
            for blk in w.bytes_mut()[..wl].chunks_exact_mut(ty.type_size()) {
                for &off in scale_offsets(ty) {
                    blk[off..off + 2].copy_from_slice(&f16::ONE.to_bits().to_le_bytes());
                }
            }
            for blk in a.bytes_mut()[..al].chunks_exact_mut(at.type_size()) {
                for &off in scale_offsets(at) {
                    blk[off..off + 2].copy_from_slice(&f16::ONE.to_bits().to_le_bytes());
                }
            }
            let got = fast
                .vec_dot(ty, n, &w.bytes()[..wl], &a.bytes()[..al])
                .unwrap();
            let want = slow
                .vec_dot(ty, n, &w.bytes()[..wl], &a.bytes()[..al])
                .unwrap();
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{ty} {name} n={n} weights {wfill:#x} activations {afill:#x}: {got} vs twin {want}"
            );
        }
    }
}

#[test]
fn avx2_is_exact_on_extreme_quants() {
    check_extreme_quants(&avx2());
    // And one value worked out by hand: Q8_0 all -128 by all -128, 9 blocks, unit scales.
    let w = vec![
        BlockQ8_0 {
            d: f16::ONE,
            qs: [-128; 32]
        };
        9
    ];
    // SAFETY: `avx2()` checked the CPU features.
    let got = unsafe { x86::avx2::q8_0::vec_dot_q8_0_q8_0_avx2(&w, &w) };
    assert_eq!(got, (9 * 32 * 128 * 128) as f32);
    assert_eq!(generic::vec_dot_q8_0_q8_0(&w, &w), got);
}

#[test]
fn avx512_is_exact_on_extreme_quants() {
    let Some(fast) = avx512("avx512_is_exact_on_extreme_quants") else {
        return;
    };
    check_extreme_quants(&fast);
    // The hand-worked value through the typed leaf: Q8_0 all -128 by all -128, 9 blocks (one
    // full group of eight and a short one), unit scales.
    let w = vec![
        BlockQ8_0 {
            d: f16::ONE,
            qs: [-128; 32]
        };
        9
    ];
    // SAFETY: `avx512()` checked the CPU features.
    let got = unsafe { x86::avx512::q8_0::vec_dot_q8_0_q8_0_avx512(&w, &w) };
    assert_eq!(got, (9 * 32 * 128 * 128) as f32);
}

#[test]
fn typed_twins_agree() {
    let _ = avx2();
    let mut rng = ChaCha8Rng::seed_from_u64(0x7471_0002);
    let nb = 13;
    let rows = 6;
    let w: Vec<BlockQ4_0> = (0..nb * rows)
        .map(|_| BlockQ4_0 {
            d: f16::from_f32(rng.random_range(-0.1f32..0.1)),
            qs: rng.random(),
        })
        .collect();
    let a: Vec<BlockQ8_0> = (0..nb)
        .map(|_| BlockQ8_0 {
            d: f16::from_f32(rng.random_range(-0.1f32..0.1)),
            qs: rng.random(),
        })
        .collect();
    let mut slow = vec![0.0f32; rows];
    let mut fast = vec![0.0f32; rows];
    generic::gemv_q4_0_q8_0(&w, &a, &mut slow);
    // SAFETY: `avx2()` checked the CPU features.
    unsafe { x86::avx2::q4_0::gemv_q4_0_q8_0_avx2(&w, &a, &mut fast) };
    assert_eq!(slow, fast);
    for r in 0..rows {
        let row = &w[r * nb..(r + 1) * nb];
        // SAFETY: as above.
        let d = unsafe { x86::avx2::q4_0::vec_dot_q4_0_q8_0_avx2(row, &a) };
        assert_eq!(d.to_bits(), fast[r].to_bits());
    }
    // gemm with five activation rows (one 4-wide tile and a remainder column).
    let mut acts: Vec<BlockQ8_0> = Vec::new();
    for _ in 0..5 {
        for b in &a {
            let shift: i8 = rng.random_range(0..3);
            acts.push(BlockQ8_0 {
                d: b.d,
                qs: b.qs.map(|q| q.wrapping_add(shift)),
            });
        }
    }
    let mut slow = vec![0.0f32; rows * 5];
    let mut fast = vec![0.0f32; rows * 5];
    generic::gemm_q4_0_q8_0(&w, &acts, 5, &mut slow);
    // SAFETY: as above.
    unsafe { x86::avx2::q4_0::gemm_q4_0_q8_0_avx2(&w, &acts, 5, &mut fast) };
    assert_eq!(slow, fast);
}

/// More activation rows than one pass over the weights takes (64), with remainders; nine blocks
/// per row (a full group of eight and a short one).
fn check_wide_gemm(fast: &TierOps) {
    let slow = generic_ops();
    let name = fast.tier().name();
    let mut rng = ChaCha8Rng::seed_from_u64(0x7471_0004);
    for ty in [GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q8_0] {
        let at = ty.vec_dot_type();
        let (n, rows, cols) = (9 * 32, 7, 70);
        let (wbuf, wrb) = make_rows(ty, n, rows, 2, 0, &mut rng);
        let (abuf, arb) = make_rows(at, n, cols, 2, 0, &mut rng);
        let w = &wbuf.bytes()[2..2 + rows * wrb];
        let a = &abuf.bytes()[2..2 + cols * arb];
        let mut out = vec![0.0f32; rows * cols];
        fast.gemm(ty, n, w, a, cols, &mut out).unwrap();
        for c in 0..cols {
            for r in 0..rows {
                let want = slow
                    .vec_dot(
                        ty,
                        n,
                        &w[r * wrb..(r + 1) * wrb],
                        &a[c * arb..(c + 1) * arb],
                    )
                    .unwrap();
                assert_eq!(
                    out[c * rows + r].to_bits(),
                    want.to_bits(),
                    "{ty} {name} n={n} gemm r={r} c={c}: {} vs twin vec_dot {want}",
                    out[c * rows + r]
                );
            }
        }
    }
}

#[test]
fn wide_gemm_crosses_activation_blocks() {
    check_wide_gemm(&avx2());
}

#[test]
fn avx512_wide_gemm_crosses_activation_blocks() {
    if let Some(fast) = avx512("avx512_wide_gemm_crosses_activation_blocks") {
        check_wide_gemm(&fast);
    }
}

/// F16 gemms of attention's shapes: head sizes short and long, odd and even (the AVX-512 gemm
/// transposes sixteen rows at a time for eight or more activation rows, up to 256 elements;
/// below eight it pairs rows in a register, for multiples of 32 elements up to 256),
/// row counts around the groups of sixteen, activation counts around the passes of four and past one
/// widened batch (8192 floats), random halves and the style-1 extremes (infinities, NaN).
fn check_f16_gemm_shapes(fast: &TierOps) {
    let slow = generic_ops();
    let name = fast.tier().name();
    let ty = GgmlType::F16;
    let mut rng = ChaCha8Rng::seed_from_u64(0x7471_0016);
    for (n, rows, cols) in [
        (64, 128, 48),
        (64, 17, 7),
        (32, 16, 6),
        (2, 3, 9),
        (40, 33, 13),
        (100, 15, 8),
        (256, 31, 40),
        (256, 5, 33),
        (258, 20, 8),
        (63, 18, 8),
        // Passes of four activation rows and their remainders of two and three.
        (64, 20, 10),
        (128, 24, 11),
        // Few queries (a decode step's KV group): two key rows a register, up to four queries
        // a pass; odd and short last groups.
        (64, 128, 3),
        (64, 37, 1),
        (64, 45, 2),
        (128, 33, 4),
        (256, 129, 5),
        (96, 20, 3),
        (64, 1, 3),
        (288, 17, 2),
    ] {
        for style in [0, 1] {
            let (wbuf, wrb) = make_rows(ty, n, rows, 2, style, &mut rng);
            let (abuf, arb) = make_rows(ty, n, cols, 6, style % 2, &mut rng);
            let w = &wbuf.bytes()[2..2 + rows * wrb];
            let a = &abuf.bytes()[6..6 + cols * arb];
            let mut out = vec![0.0f32; rows * cols];
            fast.gemm(ty, n, w, a, cols, &mut out).unwrap();
            for c in 0..cols {
                for r in 0..rows {
                    let want = slow
                        .vec_dot(
                            ty,
                            n,
                            &w[r * wrb..(r + 1) * wrb],
                            &a[c * arb..(c + 1) * arb],
                        )
                        .unwrap();
                    let got = out[c * rows + r];
                    assert!(
                        same(got, want),
                        "F16 {name} n={n} rows={rows} cols={cols} style={style} r={r} c={c}: \
                         gemm {got:e} ({:#010x}) vs twin vec_dot {want:e} ({:#010x})",
                        got.to_bits(),
                        want.to_bits()
                    );
                }
            }
        }
    }
}

#[test]
fn f16_gemm_of_attention_shapes_equals_the_twin() {
    check_f16_gemm_shapes(&avx2());
}

#[test]
fn avx512_f16_gemm_of_attention_shapes_equals_the_twin() {
    if let Some(fast) = avx512("avx512_f16_gemm_of_attention_shapes_equals_the_twin") {
        check_f16_gemm_shapes(&fast);
    }
}

/// Q8_0 activations our quantizer made (all in [-127, 127]) with one quant set to -128, in a
/// whole group of eight, in the short last group, or in several rows of a gemm: the kernels that
/// take the `maddubs` sign trick for such activations must notice and give the exact sums still.
/// Weights are random bytes, negative ones included, so a wrong sign shows.
fn check_lone_min_activation(fast: &TierOps) {
    let slow = generic_ops();
    let name = fast.tier().name();
    let ty = GgmlType::Q8_0;
    let mut rng = ChaCha8Rng::seed_from_u64(0x7471_0006);
    for nb in [1usize, 3, 8, 9, 17] {
        let n = nb * 32;
        let (rows, cols) = (5, 3);
        let (wbuf, wrb) = make_rows(ty, n, rows, 2, 1, &mut rng);
        let w = &wbuf.bytes()[2..2 + rows * wrb];
        for &blk in &[0, nb / 2, nb - 1] {
            for &pos in &[0usize, 17, 31] {
                let (mut abuf, arb) = make_rows(ty, n, cols, 6, 0, &mut rng);
                // The chosen quant of activation row 1 (and of the others in every other case).
                let spots: Vec<usize> = if (blk + pos) % 2 == 0 {
                    vec![1]
                } else {
                    vec![0, 1, 2]
                };
                for &c in &spots {
                    let at = 6 + c * arb + blk * ty.type_size() + 2 + pos;
                    abuf.bytes_mut()[at] = 0x80;
                }
                let a = &abuf.bytes()[6..6 + cols * arb];
                let mut out = vec![0.0f32; rows * cols];
                fast.gemm(ty, n, w, a, cols, &mut out).unwrap();
                for c in 0..cols {
                    let ac = &a[c * arb..(c + 1) * arb];
                    let mut col = vec![0.0f32; rows];
                    fast.gemv(ty, n, w, ac, &mut col).unwrap();
                    for r in 0..rows {
                        let wr = &w[r * wrb..(r + 1) * wrb];
                        let want = slow.vec_dot(ty, n, wr, ac).unwrap();
                        let ctx = format!("{name} nb={nb} block={blk} quant={pos} r={r} c={c}");
                        let got = fast.vec_dot(ty, n, wr, ac).unwrap();
                        assert!(same(got, want), "{ctx}: vec_dot {got:e} vs twin {want:e}");
                        assert!(
                            same(col[r], want),
                            "{ctx}: gemv {:e} vs twin {want:e}",
                            col[r]
                        );
                        let m = out[c * rows + r];
                        assert!(same(m, want), "{ctx}: gemm {m:e} vs twin {want:e}");
                    }
                }
            }
        }
    }
}

#[test]
fn avx2_is_exact_with_a_lone_min_activation() {
    check_lone_min_activation(&avx2());
}

#[test]
fn avx512_is_exact_with_a_lone_min_activation() {
    if let Some(fast) = avx512("avx512_is_exact_with_a_lone_min_activation") {
        check_lone_min_activation(&fast);
    }
}

/// The Q8_0/Q8_1/F16 activation quantizers of `fast` against the scalar twins, byte for byte.
fn check_activation_quantizers(fast: &TierOps) {
    let slow = generic_ops();
    let name = fast.tier().name();
    let mut rng = ChaCha8Rng::seed_from_u64(0x7471_0003);
    let mut rows: Vec<Vec<f32>> = Vec::new();
    for _ in 0..200 {
        let scale = 10f32.powf(rng.random_range(-6.0..6.0));
        rows.push(
            (0..96)
                .map(|_| rng.random_range(-1.0f32..1.0) * scale)
                .collect(),
        );
    }
    // Ties after scaling by id = 1 (amax 127), zeros, signed zeros, subnormals, non-finite.
    rows.push(
        (0..64)
            .map(|i| {
                if i % 32 == 0 {
                    -127.0
                } else {
                    (i % 32) as f32 - 15.5
                }
            })
            .collect(),
    );
    rows.push(vec![0.0; 64]);
    rows.push(
        (0..64)
            .map(|i| if i % 2 == 0 { -0.0 } else { 0.0 })
            .collect(),
    );
    rows.push((0..64).map(|i| f32::from_bits(1 + i * 977)).collect());
    let mut v: Vec<f32> = (0..96).map(|i| i as f32 * 0.1).collect();
    v[3] = f32::NAN;
    v[40] = f32::INFINITY;
    v[70] = f32::NEG_INFINITY;
    v[71] = f32::NAN;
    rows.push(v);
    // F16 only (no blocks): every tail length, and values where narrowing rounds to even,
    // saturates to infinity (65520 is the tie between 65504 and infinity) or lands among the
    // half subnormals.
    let mut f16_rows = rows.clone();
    for len in 1..=19 {
        f16_rows.push(
            (0..len)
                .map(|i| {
                    [65504.0, 65519.99, 65520.0, -1.0e6, 2.0f32.powi(-24) * 1.5][i % 5]
                        * if i % 2 == 0 { 1.0 } else { -1.0 }
                        + (i as f32) * 2.0f32.powi(-26)
                })
                .collect(),
        );
    }
    f16_rows.push(
        (0..40)
            .map(|i| 1.0 + (i as f32) * 2.0f32.powi(-11))
            .collect(),
    );
    for (ty, rows) in [
        (GgmlType::Q8_0, &rows),
        (GgmlType::Q8_1, &rows),
        (GgmlType::F16, &f16_rows),
    ] {
        for (k, x) in rows.iter().enumerate() {
            let len = ty.row_bytes(x.len() as u64).unwrap() as usize;
            let mut a = Buf::new(len + 2);
            let mut b = Buf::new(len + 2);
            // Unaligned by 2 bytes inside the buffer, as a row inside a larger one.
            fast.quantize_row(ty, x, &mut a.bytes_mut()[2..2 + len])
                .unwrap();
            slow.quantize_row(ty, x, &mut b.bytes_mut()[2..2 + len])
                .unwrap();
            assert_eq!(
                a.bytes()[2..2 + len],
                b.bytes()[2..2 + len],
                "{ty} {name} quantize row {k} ({} values)",
                x.len()
            );
        }
    }
}

#[test]
fn avx2_activation_quantizers_equal_the_scalar_twins() {
    check_activation_quantizers(&avx2());
}

#[test]
fn avx512_activation_quantizers_equal_the_scalar_twins() {
    if let Some(fast) = avx512("avx512_activation_quantizers_equal_the_scalar_twins") {
        check_activation_quantizers(&fast);
    }
}

/// Runs `child` (an ignored test of this binary) with `RETORT_CPU_TIER` set, so the process-wide
/// tier is decided under that cap.
fn run_child_with_tier(child: &str, tier: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--ignored", "--exact", child, "--test-threads=1"])
        .env("RETORT_CPU_TIER", tier)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {child} with RETORT_CPU_TIER={tier} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn env_cap_avx2_selects_the_avx2_table() {
    assert!(
        Tier::Avx2.is_supported(),
        "this test needs AVX2, FMA and F16C"
    );
    run_child_with_tier("child_expects_avx2", "avx2");
}

#[test]
fn env_cap_avx512_selects_the_avx512_table() {
    if !Tier::Avx512.is_supported() {
        println!("env_cap_avx512_selects_the_avx512_table: skipped, this CPU lacks AVX-512 VNNI");
        return;
    }
    run_child_with_tier("child_expects_avx512", "avx512");
}

#[test]
fn env_cap_generic_selects_the_generic_table() {
    run_child_with_tier("child_expects_generic", "generic");
}

#[test]
#[ignore = "run in a child process by env_cap_avx2_selects_the_avx2_table"]
fn child_expects_avx2() {
    assert_eq!(std::env::var("RETORT_CPU_TIER").as_deref(), Ok("avx2"));
    assert_eq!(ops::active_tier(), Tier::Avx2);
    // And the table in use really runs: a one-block Q4_0 dot through `ops`.
    let w = BlockQ4_0 {
        d: f16::ONE,
        qs: [0x9a; 16], // 10 and 9: q - 8 = 2 and 1
    };
    let a = BlockQ8_0 {
        d: f16::ONE,
        qs: [3; 32],
    };
    let got = ops::vec_dot(
        GgmlType::Q4_0,
        32,
        bytemuck::bytes_of(&w),
        bytemuck::bytes_of(&a),
    );
    assert_eq!(got, Ok((16 * 2 * 3 + 16 * 3) as f32));
}

#[test]
#[ignore = "run in a child process by env_cap_avx512_selects_the_avx512_table"]
fn child_expects_avx512() {
    assert_eq!(std::env::var("RETORT_CPU_TIER").as_deref(), Ok("avx512"));
    assert_eq!(ops::active_tier(), Tier::Avx512);
    // The table in use runs: nine Q4_0 blocks (a group of eight and a short one) through `ops`.
    let w = [BlockQ4_0 {
        d: f16::ONE,
        qs: [0x9a; 16], // 10 and 9: q - 8 = 2 and 1
    }; 9];
    let a = [BlockQ8_0 {
        d: f16::ONE,
        qs: [3; 32],
    }; 9];
    let got = ops::vec_dot(
        GgmlType::Q4_0,
        9 * 32,
        bytemuck::cast_slice(&w),
        bytemuck::cast_slice(&a),
    );
    assert_eq!(got, Ok((9 * (16 * 2 * 3 + 16 * 3)) as f32));
}

#[test]
#[ignore = "run in a child process by env_cap_generic_selects_the_generic_table"]
fn child_expects_generic() {
    assert_eq!(std::env::var("RETORT_CPU_TIER").as_deref(), Ok("generic"));
    assert_eq!(ops::active_tier(), Tier::Generic);
}
