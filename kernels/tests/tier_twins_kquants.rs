//! The AVX2 and AVX-512 K-quant kernels against their scalar twins, and their gemv/gemm against
//! their own vec_dot.
//!
//! Both comparisons are exact: the kernels sum quant products in integers (exact in any order)
//! and repeat the scalar float sequence per block, so any difference is a bug. Data: random and
//! adversarial blocks (extreme quants and scales, zero/subnormal/infinite f16 scales), odd block
//! counts, rows starting at addresses that are not 32-byte (nor 4-byte) aligned.
//!
//! A tier this CPU lacks is skipped with a note on stderr (`--nocapture` shows it); the AVX-512
//! tests run on an AVX-512 VNNI machine or under the Bochs rig (`.ci/avx512-tests`).
#![cfg(target_arch = "x86_64")]

use bytemuck::{Pod, Zeroable};
use half::f16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort_kernels::blocks::{BlockQ2K, BlockQ3K, BlockQ4K, BlockQ5K, BlockQ6K, BlockQ8K};
use retort_kernels::generic::{q2_k, q3_k, q4_k, q5_k, q6_k, q8_k};
use retort_kernels::ggml_type::QK_K;
use retort_kernels::x86::avx2::{
    q2_k as avx2_q2_k, q3_k as avx2_q3_k, q4_k as avx2_q4_k, q5_k as avx2_q5_k, q6_k as avx2_q6_k,
    q8_k as avx2_q8_k,
};
use retort_kernels::x86::avx512::{
    q2_k as avx512_q2_k, q3_k as avx512_q3_k, q4_k as avx512_q4_k, q5_k as avx512_q5_k,
    q6_k as avx512_q6_k, q8_k as avx512_q8_k,
};
use retort_kernels::Tier;

fn avx2_available() -> bool {
    let ok = std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c");
    if !ok {
        eprintln!("this CPU lacks AVX2, FMA or F16C: the AVX2 kernels cannot run here");
    }
    ok
}

fn avx512_available() -> bool {
    let ok = Tier::Avx512.is_supported();
    if !ok {
        eprintln!(
            "skipped: this CPU lacks AVX-512 F/BW/VL/VNNI (with AVX2, FMA, F16C): the AVX-512 \
             kernels cannot run here (the Bochs rig .ci/avx512-tests runs them)"
        );
    }
    ok
}

type Dot<B> = fn(&[B], &[BlockQ8K]) -> f32;
type SimdDot<B> = unsafe fn(&[B], &[BlockQ8K]) -> f32;
type SimdGemv<B> = unsafe fn(&[B], &[BlockQ8K], &mut [f32]);
type SimdGemm<B> = unsafe fn(&[B], &[BlockQ8K], usize, &mut [f32]);

/// One K type's kernels of one tier under test.
struct Kernels<B> {
    name: &'static str,
    /// The tier's name in messages.
    tier: &'static str,
    /// Whether this CPU runs the tier (prints a skip note when not).
    available: fn() -> bool,
    scalar: Dot<B>,
    vec_dot: SimdDot<B>,
    gemv: SimdGemv<B>,
    gemm: SimdGemm<B>,
    set_scales: fn(&mut B, f16, f16),
}

fn scale_cases() -> Vec<(f16, f16)> {
    let b = f16::from_bits;
    vec![
        (f16::from_f32(0.0123), f16::from_f32(0.0071)),
        (f16::from_f32(0.0), f16::from_f32(0.0)),
        (f16::from_f32(-0.031), f16::from_f32(0.5)),
        (b(0x0001), b(0x03ff)),
        (f16::MAX, f16::MIN),
        (b(0x7c00), f16::from_f32(0.25)),
    ]
}

/// Blocks: mostly random with ordinary scales, then every byte pattern × scale case.
fn weight_blocks<B: Pod>(k: &Kernels<B>, rng: &mut ChaCha8Rng, n_random: usize) -> Vec<B> {
    let mut out = Vec::new();
    for _ in 0..n_random {
        let mut b = B::zeroed();
        rng.fill(bytemuck::bytes_of_mut(&mut b));
        let e = rng.random_range(-10..2);
        (k.set_scales)(
            &mut b,
            f16::from_f32(rng.random_range(-1.0f32..1.0) * 2f32.powi(e)),
            f16::from_f32(rng.random_range(-1.0f32..1.0) * 2f32.powi(e)),
        );
        out.push(b);
    }
    for fill in [0x00u8, 0xff, 0x55, 0xaa] {
        for (d, dmin) in scale_cases() {
            let mut b = B::zeroed();
            bytemuck::bytes_of_mut(&mut b).fill(fill);
            (k.set_scales)(&mut b, d, dmin);
            out.push(b);
        }
    }
    out
}

fn activation_blocks(rng: &mut ChaCha8Rng, nb: usize) -> Vec<BlockQ8K> {
    let x: Vec<f32> = (0..nb * QK_K)
        .map(|i| rng.random_range(-1.0f32..1.0) * if i % 89 == 3 { 30.0 } else { 1.0 })
        .collect();
    let mut a = vec![BlockQ8K::zeroed(); nb];
    q8_k::quantize_row_q8_k(&x, &mut a);
    // Extreme quants in a few blocks, sums kept consistent; in others, sums no quantizer makes
    // (both twins read `bsums` the same way, and must not overflow-panic on them).
    for (i, b) in a.iter_mut().enumerate() {
        if i % 7 == 4 {
            for (j, s) in b.bsums.iter_mut().enumerate() {
                *s = if j % 2 == 0 { i16::MIN } else { rng.random() };
            }
            continue;
        }
        if i % 5 == 2 {
            for (j, q) in b.qs.iter_mut().enumerate() {
                *q = if j % 2 == 0 { -128 } else { 127 };
            }
            for j in 0..QK_K / 16 {
                b.bsums[j] = b.qs[16 * j..16 * j + 16].iter().map(|&q| q as i16).sum();
            }
        }
    }
    a
}

/// Copies `blocks` into a byte buffer at `offset` bytes past an 8-aligned start and views it
/// back, so the kernels see a start address that is neither 32- nor 4-byte aligned.
fn misaligned<'s, B: Pod>(blocks: &[B], offset: usize, storage: &'s mut Vec<u64>) -> &'s [B] {
    let bytes = std::mem::size_of_val(blocks);
    storage.clear();
    storage.resize((bytes + offset).div_ceil(8) + 1, 0);
    let buf: &mut [u8] = bytemuck::cast_slice_mut(storage.as_mut_slice());
    buf[offset..offset + bytes].copy_from_slice(bytemuck::cast_slice(blocks));
    bytemuck::cast_slice(&buf[offset..offset + bytes])
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn check<B: Pod>(k: Kernels<B>) {
    if !(k.available)() {
        return;
    }
    check_wide_gemm(&k);
    let mut rng = ChaCha8Rng::seed_from_u64(0x7777 ^ k.name.len() as u64);
    let pool = weight_blocks(&k, &mut rng, 40);
    let align_w = std::mem::align_of::<B>();
    let mut wstore = Vec::new();
    let mut astore = Vec::new();
    for (case, nb) in [1usize, 2, 3, 5, 7, 8, 9, 17].into_iter().enumerate() {
        let rows = 5;
        let n_act = 6;
        let w: Vec<B> = (0..rows * nb)
            .map(|i| pool[(i * 7 + case) % pool.len()])
            .collect();
        let act = activation_blocks(&mut rng, n_act * nb);
        // Odd starts: the weight rows at 2 (or the type's alignment) bytes past 8-aligned,
        // activations at 4.
        let w = misaligned(&w, align_w.max(2), &mut wstore);
        let act = misaligned(&act, 4, &mut astore);

        let mut dots = vec![0.0f32; rows * n_act];
        for c in 0..n_act {
            let a = &act[c * nb..(c + 1) * nb];
            for r in 0..rows {
                let wr = &w[r * nb..(r + 1) * nb];
                let want = (k.scalar)(wr, a);
                // SAFETY: the tier's features were detected above.
                let got = unsafe { (k.vec_dot)(wr, a) };
                assert!(
                    same(got, want),
                    "{} {} vec_dot, n {} ({nb} blocks), row {r}, act {c}: {} {got:e} ({:#x}), \
                     scalar {want:e} ({:#x})",
                    k.name,
                    k.tier,
                    nb * QK_K,
                    k.tier,
                    got.to_bits(),
                    want.to_bits()
                );
                dots[c * rows + r] = got;
            }
            let mut gemv = vec![f32::NAN; rows];
            // SAFETY: the tier's features were detected above; `w` holds `rows` rows of `nb`
            // blocks.
            unsafe { (k.gemv)(w, a, &mut gemv) };
            for r in 0..rows {
                assert!(
                    same(gemv[r], dots[c * rows + r]),
                    "{} {} gemv, n {} ({nb} blocks), row {r}, act {c}: {:e} vs vec_dot {:e}",
                    k.name,
                    k.tier,
                    nb * QK_K,
                    gemv[r],
                    dots[c * rows + r]
                );
            }
        }
        for n in 1..=n_act {
            let mut gemm = vec![f32::NAN; rows * n];
            // SAFETY: the tier's features were detected above; `act` holds at least `n` rows.
            unsafe { (k.gemm)(w, &act[..n * nb], n, &mut gemm) };
            for (i, (g, d)) in gemm.iter().zip(&dots).enumerate() {
                assert!(
                    same(*g, *d),
                    "{} {} gemm ({n} activation rows), n {} ({nb} blocks), row {}, act {}: {g:e} \
                     vs vec_dot {d:e}",
                    k.name,
                    k.tier,
                    nb * QK_K,
                    i % rows,
                    i / rows
                );
            }
        }
    }
}

/// gemm over more activation rows than one column tile of the kernel (64), against vec_dot.
fn check_wide_gemm<B: Pod>(k: &Kernels<B>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0x3164);
    let pool = weight_blocks(k, &mut rng, 8);
    let (nb, rows, n_act) = (2, 3, 70);
    let w: Vec<B> = (0..rows * nb).map(|i| pool[i % pool.len()]).collect();
    let act = activation_blocks(&mut rng, n_act * nb);
    let mut gemm = vec![f32::NAN; rows * n_act];
    // SAFETY: the tier's features were detected by the caller.
    unsafe { (k.gemm)(&w, &act, n_act, &mut gemm) };
    for c in 0..n_act {
        for r in 0..rows {
            // SAFETY: as above.
            let d = unsafe { (k.vec_dot)(&w[r * nb..(r + 1) * nb], &act[c * nb..(c + 1) * nb]) };
            assert!(
                same(gemm[c * rows + r], d),
                "{} {} wide gemm, n {}, row {r}, act {c}: {:e} vs vec_dot {d:e}",
                k.name,
                k.tier,
                nb * QK_K,
                gemm[c * rows + r]
            );
        }
    }
}

#[test]
fn q2_k_avx2_matches_scalar() {
    check(Kernels::<BlockQ2K> {
        name: "Q2_K",
        tier: "avx2",
        available: avx2_available,
        scalar: q2_k::vec_dot_q2_k_q8_k,
        vec_dot: avx2_q2_k::vec_dot_q2_k_q8_k_avx2,
        gemv: avx2_q2_k::gemv_q2_k_q8_k_avx2,
        gemm: avx2_q2_k::gemm_q2_k_q8_k_avx2,
        set_scales: |b, d, m| {
            b.d = d;
            b.dmin = m;
        },
    });
}

#[test]
fn q3_k_avx2_matches_scalar() {
    check(Kernels::<BlockQ3K> {
        name: "Q3_K",
        tier: "avx2",
        available: avx2_available,
        scalar: q3_k::vec_dot_q3_k_q8_k,
        vec_dot: avx2_q3_k::vec_dot_q3_k_q8_k_avx2,
        gemv: avx2_q3_k::gemv_q3_k_q8_k_avx2,
        gemm: avx2_q3_k::gemm_q3_k_q8_k_avx2,
        set_scales: |b, d, _| b.d = d,
    });
}

#[test]
fn q4_k_avx2_matches_scalar() {
    check(Kernels::<BlockQ4K> {
        name: "Q4_K",
        tier: "avx2",
        available: avx2_available,
        scalar: q4_k::vec_dot_q4_k_q8_k,
        vec_dot: avx2_q4_k::vec_dot_q4_k_q8_k_avx2,
        gemv: avx2_q4_k::gemv_q4_k_q8_k_avx2,
        gemm: avx2_q4_k::gemm_q4_k_q8_k_avx2,
        set_scales: |b, d, m| {
            b.d = d;
            b.dmin = m;
        },
    });
}

#[test]
fn q5_k_avx2_matches_scalar() {
    check(Kernels::<BlockQ5K> {
        name: "Q5_K",
        tier: "avx2",
        available: avx2_available,
        scalar: q5_k::vec_dot_q5_k_q8_k,
        vec_dot: avx2_q5_k::vec_dot_q5_k_q8_k_avx2,
        gemv: avx2_q5_k::gemv_q5_k_q8_k_avx2,
        gemm: avx2_q5_k::gemm_q5_k_q8_k_avx2,
        set_scales: |b, d, m| {
            b.d = d;
            b.dmin = m;
        },
    });
}

#[test]
fn q6_k_avx2_matches_scalar() {
    check(Kernels::<BlockQ6K> {
        name: "Q6_K",
        tier: "avx2",
        available: avx2_available,
        scalar: q6_k::vec_dot_q6_k_q8_k,
        vec_dot: avx2_q6_k::vec_dot_q6_k_q8_k_avx2,
        gemv: avx2_q6_k::gemv_q6_k_q8_k_avx2,
        gemm: avx2_q6_k::gemm_q6_k_q8_k_avx2,
        set_scales: |b, d, _| b.d = d,
    });
}

#[test]
fn q2_k_avx512_matches_scalar() {
    check(Kernels::<BlockQ2K> {
        name: "Q2_K",
        tier: "avx512",
        available: avx512_available,
        scalar: q2_k::vec_dot_q2_k_q8_k,
        vec_dot: avx512_q2_k::vec_dot_q2_k_q8_k_avx512,
        gemv: avx512_q2_k::gemv_q2_k_q8_k_avx512,
        gemm: avx512_q2_k::gemm_q2_k_q8_k_avx512,
        set_scales: |b, d, m| {
            b.d = d;
            b.dmin = m;
        },
    });
}

#[test]
fn q3_k_avx512_matches_scalar() {
    check(Kernels::<BlockQ3K> {
        name: "Q3_K",
        tier: "avx512",
        available: avx512_available,
        scalar: q3_k::vec_dot_q3_k_q8_k,
        vec_dot: avx512_q3_k::vec_dot_q3_k_q8_k_avx512,
        gemv: avx512_q3_k::gemv_q3_k_q8_k_avx512,
        gemm: avx512_q3_k::gemm_q3_k_q8_k_avx512,
        set_scales: |b, d, _| b.d = d,
    });
}

#[test]
fn q4_k_avx512_matches_scalar() {
    check(Kernels::<BlockQ4K> {
        name: "Q4_K",
        tier: "avx512",
        available: avx512_available,
        scalar: q4_k::vec_dot_q4_k_q8_k,
        vec_dot: avx512_q4_k::vec_dot_q4_k_q8_k_avx512,
        gemv: avx512_q4_k::gemv_q4_k_q8_k_avx512,
        gemm: avx512_q4_k::gemm_q4_k_q8_k_avx512,
        set_scales: |b, d, m| {
            b.d = d;
            b.dmin = m;
        },
    });
}

#[test]
fn q5_k_avx512_matches_scalar() {
    check(Kernels::<BlockQ5K> {
        name: "Q5_K",
        tier: "avx512",
        available: avx512_available,
        scalar: q5_k::vec_dot_q5_k_q8_k,
        vec_dot: avx512_q5_k::vec_dot_q5_k_q8_k_avx512,
        gemv: avx512_q5_k::gemv_q5_k_q8_k_avx512,
        gemm: avx512_q5_k::gemm_q5_k_q8_k_avx512,
        set_scales: |b, d, m| {
            b.d = d;
            b.dmin = m;
        },
    });
}

#[test]
fn q6_k_avx512_matches_scalar() {
    check(Kernels::<BlockQ6K> {
        name: "Q6_K",
        tier: "avx512",
        available: avx512_available,
        scalar: q6_k::vec_dot_q6_k_q8_k,
        vec_dot: avx512_q6_k::vec_dot_q6_k_q8_k_avx512,
        gemv: avx512_q6_k::gemv_q6_k_q8_k_avx512,
        gemm: avx512_q6_k::gemm_q6_k_q8_k_avx512,
        set_scales: |b, d, _| b.d = d,
    });
}

/// Through `ops`: the AVX2 table really holds these kernels, agrees with the generic table bit
/// for bit, and its gemv/gemm equal its vec_dot element by element.
#[test]
fn ops_avx2_tier_matches_generic_tier() {
    if avx2_available() {
        ops_tier_matches_generic_tier(Tier::Avx2);
    }
}

/// The same through the AVX-512 table.
#[test]
fn ops_avx512_tier_matches_generic_tier() {
    if avx512_available() {
        ops_tier_matches_generic_tier(Tier::Avx512);
    }
}

fn ops_tier_matches_generic_tier(tier: Tier) {
    use retort_kernels::ops;
    use retort_kernels::GgmlType;
    let fast_ops = ops::for_tier(tier);
    assert_eq!(fast_ops.tier(), tier, "the {tier} table was not built");
    let generic = ops::for_tier(Tier::Generic);
    let mut rng = ChaCha8Rng::seed_from_u64(0x0b5);
    let (rows, n_act) = (6, 5);
    for ty in [
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
    ] {
        for nb in [1usize, 3, 4, 9] {
            let n = nb * QK_K;
            // Weights from the reference quantizer, activations from the Q8_K quantizer, in
            // u32 storage for alignment.
            let x: Vec<f32> = (0..rows * n)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect();
            let row_bytes = ty.row_bytes(n as u64).unwrap() as usize;
            let mut wstore = vec![0u32; (rows * row_bytes).div_ceil(4)];
            let w = &mut bytemuck::cast_slice_mut(&mut wstore)[..rows * row_bytes];
            generic.quantize_row(ty, &x, w).unwrap();
            let y: Vec<f32> = (0..n_act * n)
                .map(|_| rng.random_range(-2.0f32..2.0))
                .collect();
            let act_bytes = GgmlType::Q8_K.row_bytes(n as u64).unwrap() as usize;
            let mut astore = vec![0u32; (n_act * act_bytes).div_ceil(4)];
            let act = &mut bytemuck::cast_slice_mut(&mut astore)[..n_act * act_bytes];
            generic.quantize_row(GgmlType::Q8_K, &y, act).unwrap();
            let (w, act) = (&*w, &*act);

            let mut dots = vec![0.0f32; rows * n_act];
            for c in 0..n_act {
                let a = &act[c * act_bytes..(c + 1) * act_bytes];
                for r in 0..rows {
                    let wr = &w[r * row_bytes..(r + 1) * row_bytes];
                    let fast = fast_ops.vec_dot(ty, n, wr, a).unwrap();
                    let slow = generic.vec_dot(ty, n, wr, a).unwrap();
                    assert_eq!(
                        fast.to_bits(),
                        slow.to_bits(),
                        "{ty} {tier} vec_dot, n {n}, row {r}, act {c}: {fast:e} vs generic {slow:e}"
                    );
                    dots[c * rows + r] = fast;
                }
                let mut gv = vec![0.0f32; rows];
                fast_ops.gemv(ty, n, w, a, &mut gv).unwrap();
                for r in 0..rows {
                    assert_eq!(
                        gv[r].to_bits(),
                        dots[c * rows + r].to_bits(),
                        "{ty} {tier} gemv, n {n}, row {r}, act {c}: {:e} vs vec_dot {:e}",
                        gv[r],
                        dots[c * rows + r]
                    );
                }
            }
            let mut gm = vec![0.0f32; rows * n_act];
            fast_ops.gemm(ty, n, w, act, n_act, &mut gm).unwrap();
            for (i, (g, d)) in gm.iter().zip(&dots).enumerate() {
                assert_eq!(
                    g.to_bits(),
                    d.to_bits(),
                    "{ty} {tier} gemm, n {n}, row {}, act {}: {g:e} vs vec_dot {d:e}",
                    i % rows,
                    i / rows
                );
            }
        }
    }
}

/// Rows for the Q8_K quantizers: random scales, ties between `+max` and `-max`, zeros, NaN
/// (with payloads) and infinities inside blocks, maxima so small that `127 / max` overflows,
/// the largest finite values, negative zeros.
fn q8_k_rows(rng: &mut ChaCha8Rng) -> Vec<Vec<f32>> {
    let block = |f: &mut dyn FnMut(usize) -> f32| (0..QK_K).map(f).collect::<Vec<f32>>();
    let mut rows = Vec::new();
    for nb in [1usize, 2, 3, 7] {
        let e = rng.random_range(-20..20);
        rows.push(
            (0..nb * QK_K)
                .map(|_| rng.random_range(-1.0f32..1.0) * 2f32.powi(e))
                .collect(),
        );
    }
    rows.push(block(&mut |i| {
        if i == 9 {
            -2.0
        } else if i == 200 {
            2.0
        } else {
            0.5
        }
    }));
    rows.push(block(&mut |i| {
        if i == 9 {
            2.0
        } else if i == 200 {
            -2.0
        } else {
            0.5
        }
    }));
    rows.push(vec![0.0; QK_K]);
    rows.push(block(&mut |i| if i % 2 == 0 { -0.0 } else { 0.0 }));
    rows.push(block(&mut |i| match i % 5 {
        0 => f32::NAN,
        1 => f32::from_bits(0x7fc1_2345),
        2 => f32::from_bits(0xff80_0001),
        _ => i as f32 * 0.01,
    }));
    rows.push(block(&mut |i| {
        if i == 77 {
            f32::NEG_INFINITY
        } else {
            1.0
        }
    }));
    rows.push(block(&mut |i| (i as f32 - 128.0) * 1e-41));
    rows.push(block(&mut |i| (i as f32 - 128.0) * 1e-39));
    rows.push(block(&mut |i| if i == 3 { f32::MAX } else { -3e38 }));
    rows.push(block(&mut |i| (i as f32 * 0.37).sin() * 127.5));
    rows
}

#[test]
fn q8_k_quantize_avx2_matches_scalar() {
    if avx2_available() {
        check_q8_k_quantize(Tier::Avx2, avx2_q8_k::quantize_row_q8_k_avx2);
    }
}

#[test]
fn q8_k_quantize_avx512_matches_scalar() {
    if avx512_available() {
        check_q8_k_quantize(Tier::Avx512, avx512_q8_k::quantize_row_q8_k_avx512);
    }
}

/// A tier's Q8_K quantizer against the scalar twin, directly and through the tier's table.
fn check_q8_k_quantize(tier: Tier, quantize: unsafe fn(&[f32], &mut [BlockQ8K])) {
    let mut rng = ChaCha8Rng::seed_from_u64(0x08c);
    let mut store = Vec::new();
    for (r, row) in q8_k_rows(&mut rng).iter().enumerate() {
        // Source at 4 bytes past 8-aligned: never 32-byte aligned.
        let x = misaligned(row, 4, &mut store);
        let nb = x.len() / QK_K;
        let mut want = vec![BlockQ8K::zeroed(); nb];
        q8_k::quantize_row_q8_k(x, &mut want);
        let mut got = vec![BlockQ8K::zeroed(); nb];
        // SAFETY: the caller detected the tier's features.
        unsafe { quantize(x, &mut got) };
        for (b, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                bytemuck::bytes_of(g),
                bytemuck::bytes_of(w),
                "{tier} Q8_K quantize, row {r} block {b}: d {} vs scalar d {}",
                g.d,
                w.d
            );
        }
    }
    // And through the tables.
    use retort_kernels::{ops, GgmlType};
    let fast = ops::for_tier(tier);
    assert_eq!(fast.tier(), tier, "the {tier} table was not built");
    let generic = ops::for_tier(Tier::Generic);
    let x: Vec<f32> = (0..3 * QK_K)
        .map(|_| rng.random_range(-4.0f32..4.0))
        .collect();
    let bytes = GgmlType::Q8_K.row_bytes(x.len() as u64).unwrap() as usize;
    let (mut a, mut g) = (vec![0u32; bytes / 4], vec![0u32; bytes / 4]);
    fast.quantize_row(GgmlType::Q8_K, &x, bytemuck::cast_slice_mut(&mut a))
        .unwrap();
    generic
        .quantize_row(GgmlType::Q8_K, &x, bytemuck::cast_slice_mut(&mut g))
        .unwrap();
    assert_eq!(a, g, "{tier} Q8_K quantize through the table");
}
