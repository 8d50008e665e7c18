//! The aarch64 leaves (NEON, dotprod, i8mm) against their scalar twins in
//! `retort_kernels::generic`, and each tier's gemm against the same tier's vec_dot.
//!
//! Both comparisons are exact: the leaves repeat the twins' documented float order
//! (`generic::accumulate`) on exact integer block sums, so anything but identical bits (or NaN
//! for NaN) is a bug. Data: random blocks (random bytes, so scales include NaN, infinities and
//! subnormals), random quants with ordinary scales, and adversarial fills (all-max nibbles and
//! fifth bits, quants at -128/127, zero/negative/subnormal/infinite f16 scales), with 1 block, odd
//! counts and counts around the 4- and 8-block groups, rows and activation rows that start at odd
//! block offsets, and gemm shapes with odd rows and columns (the i8mm 2×2 tiles' leftovers).
//!
//! A tier's leaves run only when `Tier::is_supported` says the CPU has it; `.ci/arm-tests` runs
//! this file under qemu as Cortex-A72 (NEON), Cortex-A76 (dotprod) and `max` (i8mm) and sets
//! `RETORT_EXPECT_TIER`, which [`expected_tier_is_active`] and [`tiers_exercised`] check, so a
//! run that silently fell back to a lower tier fails.
#![cfg(target_arch = "aarch64")]

use bytemuck::Pod;
use half::{bf16, f16};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort_kernels::aarch64::{
    float_dot, q2_k, q3_k, q4_0, q4_1, q4_k, q5_0, q5_1, q5_k, q6_k, q8_0,
};
use retort_kernels::blocks::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K,
    BlockQ8K, BlockQ8_0, BlockQ8_1,
};
use retort_kernels::{generic, ops, table, tier, GgmlType, Tier};

/// The aarch64 tiers, lowest first.
const ARM_TIERS: [Tier; 3] = [Tier::Neon, Tier::Dotprod, Tier::I8mm];

/// The tier `.ci/arm-tests` expects for the emulated CPU, if it set one.
fn expected_tier() -> Option<Tier> {
    let v = std::env::var("RETORT_EXPECT_TIER").ok()?;
    Some(Tier::from_name(&v).unwrap_or_else(|| panic!("RETORT_EXPECT_TIER={v:?} names no tier")))
}

#[test]
fn expected_tier_is_active() {
    // The table `ops` uses must be the one of the detected tier (its overlay ran and recorded it).
    assert_eq!(ops::active_tier(), tier::active());
    assert!(
        ARM_TIERS.contains(&ops::active_tier()),
        "{}",
        ops::active_tier()
    );
    if let Some(t) = expected_tier() {
        assert_eq!(ops::active_tier(), t, "RETORT_EXPECT_TIER={t}");
        for lower in ARM_TIERS.iter().filter(|l| **l <= t) {
            assert!(
                lower.is_supported(),
                "{lower} should be supported under {t}"
            );
        }
        for higher in ARM_TIERS.iter().filter(|h| **h > t) {
            assert!(
                !higher.is_supported(),
                "{higher} must not be detected under {t}"
            );
        }
    }
}

#[test]
fn tiers_exercised() {
    let run: Vec<Tier> = ARM_TIERS.into_iter().filter(|t| t.is_supported()).collect();
    assert!(run.contains(&Tier::Neon));
    if let Some(t) = expected_tier() {
        let want: Vec<Tier> = ARM_TIERS.into_iter().filter(|x| *x <= t).collect();
        assert_eq!(run, want, "tiers whose leaves the twin tests run");
    }
}

/// Identical bits, or NaN for NaN (NaN payloads may differ between instruction sequences).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Block types whose f16 scale fields a test can set.
trait Scales: Pod {
    /// Sets every f16 field (scale, minimum, activation sum) from `next`.
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16);
}

impl Scales for BlockQ4_0 {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
    }
}
impl Scales for BlockQ4_1 {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
        self.m = next();
    }
}
impl Scales for BlockQ5_0 {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
    }
}
impl Scales for BlockQ5_1 {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
        self.m = next();
    }
}
impl Scales for BlockQ8_0 {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
    }
}
impl Scales for BlockQ8_1 {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
        self.s = next();
    }
}

impl Scales for BlockQ2K {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
        self.dmin = next();
    }
}
impl Scales for BlockQ3K {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
    }
}
impl Scales for BlockQ4K {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
        self.dmin = next();
    }
}
impl Scales for BlockQ5K {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
        self.dmin = next();
    }
}
impl Scales for BlockQ6K {
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next();
    }
}
impl Scales for BlockQ8K {
    /// The f32 scale takes the f16 values (infinities and NaN included).
    fn set_scales(&mut self, next: &mut dyn FnMut() -> f16) {
        self.d = next().to_f32();
    }
}

/// Blocks made of random bytes: every field, f16 scales included, takes arbitrary bit patterns.
fn random_blocks<T: Pod>(rng: &mut ChaCha8Rng, n: usize) -> Vec<T> {
    let mut v = vec![T::zeroed(); n];
    rng.fill_bytes(bytemuck::cast_slice_mut(&mut v));
    v
}

/// Random quants with ordinary scales (normal f16 values of both signs).
fn random_ordinary<T: Scales>(rng: &mut ChaCha8Rng, n: usize) -> Vec<T> {
    let mut v: Vec<T> = random_blocks(rng, n);
    for b in &mut v {
        b.set_scales(&mut || f16::from_f32(rng.random_range(-2.0f32..2.0)));
    }
    v
}

/// Every quant byte `fill`, every f16 field from `scales` in turn.
fn filled<T: Scales>(n: usize, fill: u8, scales: &[f16]) -> Vec<T> {
    let mut v = vec![T::zeroed(); n];
    bytemuck::cast_slice_mut::<T, u8>(&mut v).fill(fill);
    let mut i = 0;
    for b in &mut v {
        b.set_scales(&mut || {
            let s = scales[i % scales.len()];
            i += 1;
            s
        });
    }
    v
}

/// Quant fills: all-zero, all-ones bits (max nibbles, all fifth bits, q8 = -1), q8 = 127,
/// q8 = -128, nibbles 8 (zero after centring).
const FILLS: [u8; 5] = [0x00, 0xff, 0x7f, 0x80, 0x88];

/// Adversarial f16 values: zero, negative zero, negative, smallest and largest subnormal,
/// largest finite, infinities, NaN, and ordinary values.
fn odd_scales() -> Vec<Vec<f16>> {
    let b = f16::from_bits;
    vec![
        vec![f16::ZERO],
        vec![b(0x8000), f16::from_f32(-0.75)],
        vec![b(0x0001), b(0x03ff), f16::from_f32(1.5)],
        vec![f16::MAX, f16::from_f32(-3.0), f16::MIN],
        vec![f16::INFINITY, f16::from_f32(0.5)],
        vec![f16::NEG_INFINITY, f16::INFINITY, f16::ZERO],
        vec![f16::NAN, f16::ONE],
        vec![f16::from_f32(0.25), f16::from_f32(-0.125)],
    ]
}

/// Block counts: 1, odd counts, and counts around the 4-block groups and 8 lanes.
const COUNTS: [usize; 10] = [1, 2, 3, 4, 5, 7, 8, 9, 13, 17];

/// vec_dot and gemm leaves of one tier for one block pair.
struct Leaves<W, A> {
    tier: Tier,
    vec_dot: unsafe fn(&[W], &[A]) -> f32,
    gemm: unsafe fn(&[W], &[A], usize, &mut [f32]),
}

/// One weight matrix (`rows` rows) and one activation matrix (`n_act` rows), `nb` blocks per row,
/// each placed at `offset` blocks into its buffer (odd offsets give rows that start off any
/// 16-byte boundary).
struct Case<W, A> {
    w: Vec<W>,
    a: Vec<A>,
    rows: usize,
    n_act: usize,
    nb: usize,
    offset: usize,
}

impl<W: Pod, A: Pod> Case<W, A> {
    fn w(&self) -> &[W] {
        &self.w[self.offset..self.offset + self.rows * self.nb]
    }
    fn a(&self) -> &[A] {
        &self.a[self.offset..self.offset + self.n_act * self.nb]
    }
    fn w_row(&self, r: usize) -> &[W] {
        &self.w()[r * self.nb..(r + 1) * self.nb]
    }
    fn a_row(&self, c: usize) -> &[A] {
        &self.a()[c * self.nb..(c + 1) * self.nb]
    }
}

/// Checks every supported tier's leaves on `case`: vec_dot against the twin, gemm against
/// vec_dot, both exactly. Returns how many tiers ran.
fn check_case<W: Pod, A: Pod>(
    what: &str,
    case: &Case<W, A>,
    twin: fn(&[W], &[A]) -> f32,
    leaves: &[Leaves<W, A>],
) -> usize {
    let mut ran = 0;
    for l in leaves.iter().filter(|l| l.tier.is_supported()) {
        ran += 1;
        let mut out = vec![f32::from_bits(0x7fc0_dead); case.rows * case.n_act];
        // SAFETY: the CPU supports `l.tier` (checked above); `w` holds `rows` rows and `a`
        // `n_act` rows of `nb` blocks, `out` `rows * n_act` elements.
        unsafe { (l.gemm)(case.w(), case.a(), case.n_act, &mut out) };
        for r in 0..case.rows {
            for c in 0..case.n_act {
                let want = twin(case.w_row(r), case.a_row(c));
                // SAFETY: as above; one row and one activation row of `nb` blocks each.
                let got = unsafe { (l.vec_dot)(case.w_row(r), case.a_row(c)) };
                assert!(
                    same(got, want),
                    "{what} {} vec_dot: nb {} r {r} c {c}: {got:e} ({:#x}) vs twin {want:e} ({:#x})",
                    l.tier,
                    case.nb,
                    got.to_bits(),
                    want.to_bits()
                );
                let g = out[c * case.rows + r];
                assert!(
                    same(g, got),
                    "{what} {} gemm {}x{} nb {}: element r {r} c {c} {g:e} ({:#x}) vs vec_dot {got:e} ({:#x})",
                    l.tier,
                    case.rows,
                    case.n_act,
                    case.nb,
                    g.to_bits(),
                    got.to_bits()
                );
            }
        }
    }
    ran
}

/// Runs the random and adversarial cases for one block pair.
fn check_pair<W: Scales, A: Scales>(
    what: &str,
    seed: u64,
    twin: fn(&[W], &[A]) -> f32,
    leaves: &[Leaves<W, A>],
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = 0;
    // Shapes: (rows, n_act) — 2×2 tiles, odd leftovers on either side, a single element.
    let shapes = [(1, 1), (2, 2), (3, 1), (1, 3), (3, 5), (4, 2), (5, 3)];
    for (i, &nb) in COUNTS.iter().enumerate() {
        for (j, &(rows, n_act)) in shapes.iter().enumerate() {
            let offset = (i + j) % 2;
            let (w, a) = if (i + j) % 3 == 0 {
                (
                    random_blocks(&mut rng, offset + rows * nb),
                    random_blocks(&mut rng, offset + n_act * nb),
                )
            } else {
                (
                    random_ordinary(&mut rng, offset + rows * nb),
                    random_ordinary(&mut rng, offset + n_act * nb),
                )
            };
            let case = Case {
                w,
                a,
                rows,
                n_act,
                nb,
                offset,
            };
            assert!(check_case(what, &case, twin, leaves) >= 1);
            cases += 1;
        }
    }
    for scales in odd_scales() {
        for &fw in &FILLS {
            for &fa in &FILLS {
                for &(nb, rows, n_act) in &[(1, 2, 2), (3, 3, 3), (9, 2, 1)] {
                    let case = Case {
                        w: filled(rows * nb, fw, &scales),
                        a: filled(n_act * nb, fa, &scales),
                        rows,
                        n_act,
                        nb,
                        offset: 0,
                    };
                    check_case(what, &case, twin, leaves);
                    cases += 1;
                }
            }
        }
    }
    // Mixed: adversarial weights against random activations.
    for &fw in &FILLS {
        let nb = 11;
        let case = Case {
            w: filled(
                3 * nb + 1,
                fw,
                &[f16::from_f32(-1.0), f16::from_bits(0x0200)],
            ),
            a: random_blocks(&mut rng, 2 * nb + 1),
            rows: 3,
            n_act: 2,
            nb,
            offset: 1,
        };
        check_case(what, &case, twin, leaves);
        cases += 1;
    }
    assert!(cases > 300, "{what}: only {cases} cases");
}

/// The three tiers' leaves of a block pair: NEON vec_dot and gemm, dotprod vec_dot and gemm,
/// and i8mm's gemm with the dotprod vec_dot.
macro_rules! leaves {
    ($m:ident :: { $dn:ident, $dd:ident, $gn:ident, $gd:ident, $gi:ident }) => {
        [
            Leaves {
                tier: Tier::Neon,
                vec_dot: $m::$dn,
                gemm: $m::$gn,
            },
            Leaves {
                tier: Tier::Dotprod,
                vec_dot: $m::$dd,
                gemm: $m::$gd,
            },
            Leaves {
                tier: Tier::I8mm,
                vec_dot: $m::$dd,
                gemm: $m::$gi,
            },
        ]
    };
}

#[test]
fn q8_0_leaves_match_twin() {
    let l = leaves!(q8_0::{
        vec_dot_q8_0_q8_0_neon,
        vec_dot_q8_0_q8_0_dotprod,
        gemm_q8_0_q8_0_neon,
        gemm_q8_0_q8_0_dotprod,
        gemm_q8_0_q8_0_i8mm
    });
    check_pair::<BlockQ8_0, BlockQ8_0>("Q8_0", 80, generic::vec_dot_q8_0_q8_0, &l);
}

#[test]
fn q4_0_leaves_match_twin() {
    let l = leaves!(q4_0::{
        vec_dot_q4_0_q8_0_neon,
        vec_dot_q4_0_q8_0_dotprod,
        gemm_q4_0_q8_0_neon,
        gemm_q4_0_q8_0_dotprod,
        gemm_q4_0_q8_0_i8mm
    });
    check_pair::<BlockQ4_0, BlockQ8_0>("Q4_0", 40, generic::vec_dot_q4_0_q8_0, &l);
}

#[test]
fn q4_1_leaves_match_twin() {
    let l = leaves!(q4_1::{
        vec_dot_q4_1_q8_1_neon,
        vec_dot_q4_1_q8_1_dotprod,
        gemm_q4_1_q8_1_neon,
        gemm_q4_1_q8_1_dotprod,
        gemm_q4_1_q8_1_i8mm
    });
    check_pair::<BlockQ4_1, BlockQ8_1>("Q4_1", 41, generic::vec_dot_q4_1_q8_1, &l);
}

#[test]
fn q5_0_leaves_match_twin() {
    let l = leaves!(q5_0::{
        vec_dot_q5_0_q8_0_neon,
        vec_dot_q5_0_q8_0_dotprod,
        gemm_q5_0_q8_0_neon,
        gemm_q5_0_q8_0_dotprod,
        gemm_q5_0_q8_0_i8mm
    });
    check_pair::<BlockQ5_0, BlockQ8_0>("Q5_0", 50, generic::vec_dot_q5_0_q8_0, &l);
}

#[test]
fn q5_1_leaves_match_twin() {
    let l = leaves!(q5_1::{
        vec_dot_q5_1_q8_1_neon,
        vec_dot_q5_1_q8_1_dotprod,
        gemm_q5_1_q8_1_neon,
        gemm_q5_1_q8_1_dotprod,
        gemm_q5_1_q8_1_i8mm
    });
    check_pair::<BlockQ5_1, BlockQ8_1>("Q5_1", 51, generic::vec_dot_q5_1_q8_1, &l);
}

#[test]
fn q2_k_leaves_match_twin() {
    let l = leaves!(q2_k::{
        vec_dot_q2_k_q8_k_neon,
        vec_dot_q2_k_q8_k_dotprod,
        gemm_q2_k_q8_k_neon,
        gemm_q2_k_q8_k_dotprod,
        gemm_q2_k_q8_k_i8mm
    });
    check_pair::<BlockQ2K, BlockQ8K>("Q2_K", 2, generic::vec_dot_q2_k_q8_k, &l);
}

#[test]
fn q3_k_leaves_match_twin() {
    let l = leaves!(q3_k::{
        vec_dot_q3_k_q8_k_neon,
        vec_dot_q3_k_q8_k_dotprod,
        gemm_q3_k_q8_k_neon,
        gemm_q3_k_q8_k_dotprod,
        gemm_q3_k_q8_k_i8mm
    });
    check_pair::<BlockQ3K, BlockQ8K>("Q3_K", 3, generic::vec_dot_q3_k_q8_k, &l);
}

#[test]
fn q4_k_leaves_match_twin() {
    let l = leaves!(q4_k::{
        vec_dot_q4_k_q8_k_neon,
        vec_dot_q4_k_q8_k_dotprod,
        gemm_q4_k_q8_k_neon,
        gemm_q4_k_q8_k_dotprod,
        gemm_q4_k_q8_k_i8mm
    });
    check_pair::<BlockQ4K, BlockQ8K>("Q4_K", 4, generic::vec_dot_q4_k_q8_k, &l);
}

#[test]
fn q5_k_leaves_match_twin() {
    let l = leaves!(q5_k::{
        vec_dot_q5_k_q8_k_neon,
        vec_dot_q5_k_q8_k_dotprod,
        gemm_q5_k_q8_k_neon,
        gemm_q5_k_q8_k_dotprod,
        gemm_q5_k_q8_k_i8mm
    });
    check_pair::<BlockQ5K, BlockQ8K>("Q5_K", 5, generic::vec_dot_q5_k_q8_k, &l);
}

#[test]
fn q6_k_leaves_match_twin() {
    let l = leaves!(q6_k::{
        vec_dot_q6_k_q8_k_neon,
        vec_dot_q6_k_q8_k_dotprod,
        gemm_q6_k_q8_k_neon,
        gemm_q6_k_q8_k_dotprod,
        gemm_q6_k_q8_k_i8mm
    });
    check_pair::<BlockQ6K, BlockQ8K>("Q6_K", 6, generic::vec_dot_q6_k_q8_k, &l);
}

/// Float rows: random bit patterns (NaN, infinities, subnormals included) and ordinary values,
/// lengths around the 32 lanes, odd row starts.
fn check_float<T: Pod>(
    what: &str,
    seed: u64,
    twin: fn(&[T], &[T]) -> f32,
    leaves: &[Leaves<T, T>],
    ordinary: fn(f32) -> T,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (i, &n) in [1usize, 3, 5, 31, 32, 33, 64, 95, 100, 257]
        .iter()
        .enumerate()
    {
        for &(rows, n_act) in &[(1, 1), (3, 2), (2, 3), (5, 1)] {
            let offset = i % 2;
            let (w, a) = if i % 3 == 0 {
                (
                    random_blocks(&mut rng, offset + rows * n),
                    random_blocks(&mut rng, offset + n_act * n),
                )
            } else {
                let mut gen = |len: usize| -> Vec<T> {
                    (0..len)
                        .map(|_| ordinary(rng.random_range(-4.0f32..4.0)))
                        .collect()
                };
                (gen(offset + rows * n), gen(offset + n_act * n))
            };
            let case = Case {
                w,
                a,
                rows,
                n_act,
                nb: n,
                offset,
            };
            assert_eq!(check_case(what, &case, twin, leaves), 1);
        }
    }
}

#[test]
fn float_leaves_match_twins() {
    let f32_leaves = [Leaves {
        tier: Tier::Neon,
        vec_dot: float_dot::vec_dot_f32_neon,
        gemm: float_dot::gemm_f32_neon,
    }];
    check_float::<f32>("F32", 32, generic::vec_dot_f32, &f32_leaves, |v| v);
    let f16_leaves = [Leaves {
        tier: Tier::Neon,
        vec_dot: float_dot::vec_dot_f16_neon,
        gemm: float_dot::gemm_f16_neon,
    }];
    check_float::<f16>("F16", 16, generic::vec_dot_f16, &f16_leaves, f16::from_f32);
    let bf16_leaves = [Leaves {
        tier: Tier::Neon,
        vec_dot: float_dot::vec_dot_bf16_neon,
        gemm: float_dot::gemm_bf16_neon,
    }];
    check_float::<bf16>(
        "BF16",
        17,
        generic::vec_dot_bf16,
        &bf16_leaves,
        bf16::from_f32,
    );
}

/// Through the public `ops` API (the active tier's table) and through every supported aarch64
/// tier's table: vec_dot equals the generic twin, gemv and gemm equal vec_dot, on byte rows that
/// start off 16-byte boundaries (each at its blocks' alignment — 2, or 4 for F32 and Q8_K — past a
/// 4-byte boundary).
#[test]
fn tables_dispatch_to_exact_kernels() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let types = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q8_0,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
    ];
    let (n, rows, n_act) = (256 * 3, 3, 3);
    for ty in types {
        let act_ty = ty.vec_dot_type();
        let src_w: Vec<f32> = (0..n * rows)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let src_a: Vec<f32> = (0..n * n_act)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let (wr, ar) = (
            ty.row_bytes(n as u64).unwrap() as usize,
            act_ty.row_bytes(n as u64).unwrap() as usize,
        );
        // u32 storage, then an offset of the blocks' alignment.
        let a_off = ops::block_align(act_ty);
        let mut wbuf = vec![0u32; (wr * rows + 8) / 4];
        let mut abuf = vec![0u32; (ar * n_act + 8) / 4];
        let w_off = ops::block_align(ty);
        let w = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut wbuf)[w_off..w_off + wr * rows];
        for r in 0..rows {
            ops::quantize_row(ty, &src_w[r * n..(r + 1) * n], &mut w[r * wr..(r + 1) * wr])
                .unwrap();
        }
        let a = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut abuf)[a_off..a_off + ar * n_act];
        for c in 0..n_act {
            ops::quantize_row(
                act_ty,
                &src_a[c * n..(c + 1) * n],
                &mut a[c * ar..(c + 1) * ar],
            )
            .unwrap();
        }
        let (w, a) = (&*w, &*a);
        let twin = table::generic();
        let twin_dot = twin.get(ty).dot.unwrap().vec_dot;
        let mut gemm_out = vec![0.0f32; rows * n_act];
        ops::gemm(ty, n, w, a, n_act, &mut gemm_out).unwrap();
        for c in 0..n_act {
            let a_row = &a[c * ar..(c + 1) * ar];
            let mut gemv_out = vec![0.0f32; rows];
            ops::gemv(ty, n, w, a_row, &mut gemv_out).unwrap();
            for r in 0..rows {
                let w_row = &w[r * wr..(r + 1) * wr];
                let d = ops::vec_dot(ty, n, w_row, a_row).unwrap();
                // SAFETY: the generic table runs anywhere; the rows are whole blocks of `n` elements,
                // aligned for their block structs (checked by `ops` above).
                let want = unsafe { twin_dot(w_row, a_row) };
                assert_eq!(d.to_bits(), want.to_bits(), "{ty} ops::vec_dot r{r} c{c}");
                assert_eq!(
                    gemv_out[r].to_bits(),
                    d.to_bits(),
                    "{ty} ops::gemv r{r} c{c}"
                );
                assert_eq!(
                    gemm_out[c * rows + r].to_bits(),
                    d.to_bits(),
                    "{ty} ops::gemm r{r} c{c}"
                );
                for tier in ARM_TIERS.into_iter().filter(|t| t.is_supported()) {
                    let t = table::for_tier(tier);
                    assert_eq!(t.tier, tier);
                    let k = t.get(ty).dot.unwrap();
                    // SAFETY: `tier` is supported; operands as above.
                    let v = unsafe { (k.vec_dot)(w_row, a_row) };
                    assert_eq!(
                        v.to_bits(),
                        want.to_bits(),
                        "{ty} {tier} table vec_dot r{r} c{c}"
                    );
                }
            }
        }
    }
}
