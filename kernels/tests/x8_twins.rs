//! Row-interleaved (x8) weights in every tier this CPU has: repacking loses nothing, and every
//! output of `gemm_x8` has the bits of the plain scalar `vec_dot` on the original row — for every
//! row count (padded last stripes included, alone or paired with a whole one), activation count
//! (one row, tiles, several column blocks), row length and output stride, on quantized and
//! adversarial data.
//!
//! Runs on x86-64 and aarch64 alike; `.ci/avx512-tests` runs it on an emulated AVX-512 VNNI CPU
//! and `.ci/arm-tests` under qemu as three aarch64 CPUs. With `RETORT_EXPECT_TIER` set (as those
//! scripts do) it fails unless that tier was among the tiers checked.

use half::f16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort_kernels::ops::{self, TierOps};
use retort_kernels::{GgmlType, KernelError, Tier};

const X8_TYPES: [GgmlType; 5] = [
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
];

/// Every supported tier's ops (the generic one included), each confirmed to be that tier.
fn tiers() -> Vec<TierOps> {
    let mut out = Vec::new();
    for tier in Tier::ALL {
        if tier.is_supported() {
            let t = ops::for_tier(tier);
            if t.tier() == tier {
                out.push(t);
            }
        }
    }
    if let Ok(expect) = std::env::var("RETORT_EXPECT_TIER") {
        let expect = Tier::from_name(&expect).expect("RETORT_EXPECT_TIER names a tier");
        assert!(
            out.iter().any(|t| t.tier() == expect),
            "RETORT_EXPECT_TIER={expect} but this CPU's tiers are {:?}",
            out.iter().map(|t| t.tier()).collect::<Vec<_>>()
        );
    }
    out
}

fn generic() -> TierOps {
    ops::for_tier(Tier::Generic)
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// An 8-aligned byte buffer.
struct Buf(Vec<u64>);

impl Buf {
    fn new(len: usize) -> Buf {
        Buf(vec![0; len.div_ceil(8) + 1])
    }
    fn bytes(&self, len: usize) -> &[u8] {
        &bytemuck::cast_slice(&self.0)[..len]
    }
    fn bytes_mut(&mut self, len: usize) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.0)[..len]
    }
}

/// Byte offsets of a block's f16 scale fields (weights and activations).
fn f16_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_1 | GgmlType::Q8_1 => &[0, 2],
        GgmlType::Q5_0 | GgmlType::Q8_0 => &[0],
        GgmlType::Q4_K => &[0, 2],
        GgmlType::Q6_K => &[208],
        _ => &[],
    }
}

fn scale_bits(rng: &mut ChaCha8Rng) -> u16 {
    match rng.random_range(0..16) {
        0 => 0x0000,
        1 => 0x8000,
        2 => rng.random_range(1..0x0400),
        3 => 0x7bff,
        4 => 0x7c00,
        5 => 0x7e00,
        _ => f16::from_f32(rng.random_range(-1.0f32..1.0)).to_bits(),
    }
}

/// `rows` rows of `n` elements of `ty`. Styles: 0 quantized random floats; 1 random bytes with
/// odd and ordinary scales; 2 all 0xff quants; 3 all 0x80 quants (2 and 3 with unit scales).
fn weight_rows(ty: GgmlType, n: usize, rows: usize, style: u32, rng: &mut ChaCha8Rng) -> Buf {
    let rb = ty.row_bytes(n as u64).unwrap() as usize;
    let mut buf = Buf::new(rows * rb);
    let bytes = buf.bytes_mut(rows * rb);
    match style {
        0 => {
            for r in 0..rows {
                let x: Vec<f32> = (0..n)
                    .map(|_| rng.random_range(-1.0f32..1.0) * 10f32.powi(rng.random_range(-2..2)))
                    .collect();
                ops::quantize_row(ty, &x, &mut bytes[r * rb..(r + 1) * rb]).unwrap();
            }
        }
        1 => rng.fill(bytes),
        2 => bytes.fill(0xff),
        _ => bytes.fill(0x80),
    }
    if style != 0 {
        for blk in bytes.chunks_exact_mut(ty.type_size()) {
            for &off in f16_fields(ty) {
                let bits = if style == 1 {
                    scale_bits(rng)
                } else {
                    f16::ONE.to_bits()
                };
                blk[off..off + 2].copy_from_slice(&bits.to_le_bytes());
            }
        }
    }
    buf
}

/// `n_act` activation rows for `ty`'s products: quantized random floats, or (`extreme`) quants
/// of ±127 and -128 with unit scales and matching Q8_K block sums.
fn activation_rows(
    ty: GgmlType,
    n: usize,
    n_act: usize,
    extreme: bool,
    rng: &mut ChaCha8Rng,
) -> Buf {
    let at = ty.vec_dot_type();
    let rb = at.row_bytes(n as u64).unwrap() as usize;
    let mut buf = Buf::new(n_act * rb);
    let bytes = buf.bytes_mut(n_act * rb);
    for r in 0..n_act {
        let x: Vec<f32> = (0..n)
            .map(|_| {
                if extreme {
                    [-1.0f32, 1.0][rng.random_range(0..2)]
                } else {
                    rng.random_range(-1.0f32..1.0) * 10f32.powi(rng.random_range(-2..2))
                }
            })
            .collect();
        ops::quantize_row(at, &x, &mut bytes[r * rb..(r + 1) * rb]).unwrap();
    }
    if extreme {
        // Some -128s (which no quantizer of ours makes, but a caller may), sums kept right.
        let qs_at = match at {
            GgmlType::Q8_0 => 2,
            GgmlType::Q8_1 => 4,
            _ => 4,
        };
        for blk in bytes.chunks_exact_mut(at.type_size()) {
            let nq = at.block_size();
            for q in &mut blk[qs_at..qs_at + nq] {
                if rng.random_range(0..4) == 0 {
                    *q = 0x80;
                }
            }
            if at == GgmlType::Q8_K {
                let sums: Vec<i16> = blk[4..4 + 256]
                    .chunks_exact(16)
                    .map(|c| c.iter().map(|&q| q as i8 as i16).sum())
                    .collect();
                for (g, s) in sums.iter().enumerate() {
                    blk[260 + 2 * g..262 + 2 * g].copy_from_slice(&s.to_le_bytes());
                }
            }
        }
    }
    buf
}

/// The x8 stripes of `rows` rows (one `repack_x8` call per eight).
fn repack(t: &TierOps, ty: GgmlType, n: usize, w: &[u8], rows: usize) -> Buf {
    let rb = ty.row_bytes(n as u64).unwrap() as usize;
    let sb = ops::x8_stripe_bytes(ty, n).unwrap();
    let stripes = rows.div_ceil(8);
    let mut buf = Buf::new(stripes * sb);
    let out = buf.bytes_mut(stripes * sb);
    for s in 0..stripes {
        let r1 = (8 * s + 8).min(rows);
        t.repack_x8(
            ty,
            n,
            &w[8 * s * rb..r1 * rb],
            &mut out[s * sb..(s + 1) * sb],
        )
        .unwrap();
    }
    buf
}

/// `t`'s x8 products of `ty` against the scalar `vec_dot` of the original rows, and the rows
/// given back by `unpack_x8_row`, on one shape.
#[allow(clippy::too_many_arguments)]
fn check_shape(
    t: &TierOps,
    ty: GgmlType,
    nb: usize,
    rows: usize,
    n_act: usize,
    style: u32,
    extreme_acts: bool,
    rng: &mut ChaCha8Rng,
) {
    let n = nb * ty.block_size();
    let at = ty.vec_dot_type();
    let rb = ty.row_bytes(n as u64).unwrap() as usize;
    let arb = at.row_bytes(n as u64).unwrap() as usize;
    let wbuf = weight_rows(ty, n, rows, style, rng);
    let w = wbuf.bytes(rows * rb);
    let abuf = activation_rows(ty, n, n_act, extreme_acts, rng);
    let a = abuf.bytes(n_act * arb);
    let sbuf = repack(t, ty, n, w, rows);
    let sb = ops::x8_stripe_bytes(ty, n).unwrap();
    let stripes = sbuf.bytes(rows.div_ceil(8) * sb);
    let ctx = format!(
        "{ty} tier {} nb={nb} rows={rows} n_act={n_act} style={style} extreme={extreme_acts}",
        t.tier()
    );

    // Every row comes back unchanged.
    let mut back = Buf::new(rb);
    for r in 0..rows {
        let stripe = &stripes[(r / 8) * sb..(r / 8 + 1) * sb];
        t.unpack_x8_row(ty, n, stripe, r % 8, back.bytes_mut(rb))
            .unwrap();
        assert_eq!(
            back.bytes(rb),
            &w[r * rb..(r + 1) * rb],
            "{ctx}: row {r} unpacked"
        );
    }

    // Outputs in a wider matrix (stride `ld`) whose other elements must stay untouched.
    let ld = rows + 3;
    let sentinel = f32::from_bits(0x7fc0_1234);
    let mut out = vec![sentinel; n_act * ld];
    t.gemm_x8(ty, n, stripes, a, n_act, &mut out, ld, rows)
        .unwrap();
    let slow = generic();
    for c in 0..n_act {
        for r in 0..ld {
            let got = out[c * ld + r];
            if r >= rows {
                assert_eq!(
                    got.to_bits(),
                    sentinel.to_bits(),
                    "{ctx}: wrote r={r} c={c}"
                );
                continue;
            }
            let want = slow
                .vec_dot(ty, n, &w[r * rb..(r + 1) * rb], &a[c * arb..(c + 1) * arb])
                .unwrap();
            assert!(
                same(got, want),
                "{ctx}: r={r} c={c}: x8 {got:e} ({:#010x}) vs vec_dot {want:e} ({:#010x})",
                got.to_bits(),
                want.to_bits()
            );
        }
    }
}

fn block_counts(ty: GgmlType) -> &'static [usize] {
    if ty.block_size() == 256 {
        &[1, 2, 3, 9]
    } else {
        &[1, 3, 7, 8, 9, 18, 20]
    }
}

#[test]
fn x8_products_equal_vec_dot_in_every_tier() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x78_3801);
    for t in tiers() {
        for ty in X8_TYPES {
            for &nb in block_counts(ty) {
                for (rows, n_act) in [
                    (8, 1),
                    (13, 1),
                    (3, 2),
                    (16, 5),
                    (13, 3),
                    (21, 33),
                    (29, 40),
                    (32, 2),
                    (53, 9),
                ] {
                    for style in 0..4 {
                        check_shape(&t, ty, nb, rows, n_act, style, style == 3, &mut rng);
                    }
                }
            }
        }
    }
}

/// Enough activation rows for several column blocks and tiles of the x86 walk (its column block
/// holds 192 KB of activations), on long rows, over two and over seven stripes.
#[test]
fn x8_products_over_many_activation_rows() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x78_3802);
    for t in tiers() {
        for ty in X8_TYPES {
            let nb = if ty.block_size() == 256 { 19 } else { 152 };
            // Two stripes (one two-stripe tile on AVX-512), and seven (four, two, one).
            check_shape(&t, ty, nb, 16, 70, 0, false, &mut rng);
            check_shape(&t, ty, nb, 53, 70, 1, false, &mut rng);
        }
    }
}

/// -128 activation quants (the sign trick of the Q8_0 products cannot take them) in one row of
/// many, in every tier.
#[test]
fn x8_products_with_minus_128_activations() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x78_3803);
    for t in tiers() {
        for ty in X8_TYPES {
            for n_act in [1, 2, 9] {
                check_shape(&t, ty, 4, 8, n_act, 0, true, &mut rng);
                check_shape(&t, ty, 4, 8, n_act, 1, true, &mut rng);
                check_shape(&t, ty, 4, 21, n_act, 0, true, &mut rng);
            }
        }
    }
}

#[test]
fn x8_calls_check_their_operands() {
    let ty = GgmlType::Q4_1;
    let n = 64;
    let rb = ty.row_bytes(n as u64).unwrap() as usize;
    let sb = ops::x8_stripe_bytes(ty, n).unwrap();
    assert_eq!(sb, 8 * rb);
    let rows = Buf::new(9 * rb);
    let mut stripe = Buf::new(sb + 2);
    // Nine rows are too many for a stripe; half a row is not a row.
    assert!(matches!(
        ops::repack_x8(ty, n, rows.bytes(9 * rb), stripe.bytes_mut(sb)),
        Err(KernelError::Length { .. })
    ));
    assert!(matches!(
        ops::repack_x8(ty, n, &rows.bytes(rb)[..rb / 2], stripe.bytes_mut(sb)),
        Err(KernelError::Length { .. })
    ));
    assert!(matches!(
        ops::repack_x8(ty, n, rows.bytes(rb), &mut stripe.bytes_mut(sb + 1)[1..]),
        Err(KernelError::Misaligned { .. })
    ));
    assert!(matches!(
        ops::x8_stripe_bytes(GgmlType::Q5_1, n),
        Err(KernelError::Unsupported { .. })
    ));
    assert!(matches!(
        ops::x8_stripe_bytes(ty, 33),
        Err(KernelError::NotBlockMultiple { .. })
    ));
    ops::repack_x8(ty, n, rows.bytes(8 * rb), stripe.bytes_mut(sb)).unwrap();
    let arb = GgmlType::Q8_1.row_bytes(n as u64).unwrap() as usize;
    let acts = Buf::new(2 * arb);
    let mut out = vec![0.0f32; 20];
    // Nine rows need two stripes.
    assert!(matches!(
        ops::gemm_x8(
            ty,
            n,
            stripe.bytes(sb),
            acts.bytes(2 * arb),
            2,
            &mut out,
            9,
            9
        ),
        Err(KernelError::Length { .. })
    ));
    // A stride shorter than the rows, an output too short for the last activation row.
    assert!(matches!(
        ops::gemm_x8(
            ty,
            n,
            stripe.bytes(sb),
            acts.bytes(2 * arb),
            2,
            &mut out,
            7,
            8
        ),
        Err(KernelError::InterleavedShape { .. })
    ));
    assert!(matches!(
        ops::gemm_x8(
            ty,
            n,
            stripe.bytes(sb),
            acts.bytes(2 * arb),
            2,
            &mut out[..15],
            8,
            8
        ),
        Err(KernelError::Length { .. })
    ));
    assert!(matches!(
        ops::gemm_x8(ty, n, stripe.bytes(sb), acts.bytes(arb), 2, &mut out, 8, 8),
        Err(KernelError::Length { .. })
    ));
    ops::gemm_x8(
        ty,
        n,
        stripe.bytes(sb),
        acts.bytes(2 * arb),
        2,
        &mut out,
        10,
        8,
    )
    .unwrap();
    let mut row = Buf::new(rb);
    assert!(matches!(
        ops::unpack_x8_row(ty, n, stripe.bytes(sb), 8, row.bytes_mut(rb)),
        Err(KernelError::InterleavedShape { .. })
    ));
}
