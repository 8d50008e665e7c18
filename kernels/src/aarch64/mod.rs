//! aarch64 kernels: the NEON tier (every aarch64 CPU; Raspberry Pi 4), the dotprod tier
//! (`sdot`; Cortex-A76, Raspberry Pi 5) and the i8mm tier (`smmla` 2×2 tiles for gemm).
//!
//! Each kernel is one `#[inline(always)]` body generic over the integer dot step (`int_dot`:
//! `smull`/`sadalp` or `sdot`), compiled into thin `#[target_feature]` leaves, the only `unsafe
//! fn`s callers see. Dispatch (`overlay`, called by [`crate::table::for_tier`]) installs a tier's
//! leaves only when [`Tier::is_supported`] confirmed the CPU has the tier, so a Cortex-A72 never
//! executes `sdot` or `smmla` (`.ci/arm-tests` also checks the binaries: those instructions occur
//! only in `*_dotprod` / `*_i8mm` leaves).
//!
//! Every kernel repeats the float order of its scalar twin in [`crate::generic`] on exact integer
//! block sums, so within a tier — and across tiers — vec_dot, gemm and the twin give the same
//! bits; `tests/tier_twins_aarch64.rs` checks that exactly. The i8mm gemm gets its 2×2 tiles'
//! integer sums from `smmla` and then runs each element's float steps exactly as vec_dot does.
//!
//! Files: `block_dot` (drivers of the 32-value block types and the 8-lane float order in NEON
//! registers), `k_block_dot` (drivers of the K-quants, whose float term is the twin's own),
//! [`float_dot`] (F32/F16/BF16), `int_dot` and `instructions` (the tier step; `sdot`, `smmla` and
//! `fcvtl` as inline assembly, their intrinsics being unstable on rustc 1.96), `lanes` (loading
//! blocks into lanes), and one file per weight type with its leaves.
//!
//! Leaves take typed block slices (`x`: weight blocks, `y`: activation blocks; gemm: `w` holds
//! `out.len() / n_act` rows and `act` holds `n_act` rows of `act.len() / n_act` blocks each). The
//! i8mm tier's vec_dot is the dotprod one (`smmla` needs two rows); gemv is left to `ops`, which
//! loops over the tier's vec_dot.

mod block_dot;
pub mod float_dot;
pub(crate) mod instructions;
mod int_dot;
mod k_block_dot;
mod lanes;
mod x8_lanes;

/// Declares a block pair's public leaves: vec_dot for the NEON and dotprod tiers, gemm for the
/// NEON, dotprod and i8mm tiers (the i8mm tier's vec_dot is the dotprod one).
macro_rules! tier_leaves {
    (
        $driver:ident, $pair:ty, $w:ty, $a:ty, $what:literal,
        $dot_neon:ident, $dot_dotprod:ident,
        $gemm_neon:ident, $gemm_dotprod:ident, $gemm_i8mm:ident
    ) => {
        #[doc = concat!($what, " dot product, NEON tier (`smull` + `sadalp`).")]
        ///
        /// # Safety
        /// None beyond running on aarch64 (NEON is baseline); `unsafe` as every table leaf.
        #[target_feature(enable = "neon")]
        pub unsafe fn $dot_neon(x: &[$w], y: &[$a]) -> f32 {
            // SAFETY: NEON is baseline on aarch64.
            unsafe {
                $crate::aarch64::$driver::vec_dot::<$pair, $crate::aarch64::int_dot::NeonDot>(
                    x, y,
                )
            }
        }

        #[doc = concat!($what, " dot product, dotprod tier (`sdot`).")]
        ///
        /// # Safety
        /// The CPU must implement FEAT_DotProd.
        #[target_feature(enable = "neon,dotprod")]
        pub unsafe fn $dot_dotprod(x: &[$w], y: &[$a]) -> f32 {
            // SAFETY: the caller guarantees dotprod.
            unsafe {
                $crate::aarch64::$driver::vec_dot::<$pair, $crate::aarch64::int_dot::SdotDot>(
                    x, y,
                )
            }
        }

        #[doc = concat!($what, " gemm, NEON tier: every element is [`", stringify!($dot_neon), "`]'s.")]
        ///
        /// # Safety
        /// None beyond running on aarch64.
        #[target_feature(enable = "neon")]
        pub unsafe fn $gemm_neon(w: &[$w], act: &[$a], n_act: usize, out: &mut [f32]) {
            // SAFETY: NEON is baseline on aarch64.
            unsafe {
                $crate::aarch64::$driver::gemm_by_rows::<
                    $pair,
                    $crate::aarch64::int_dot::NeonDot,
                >(w, act, n_act, out)
            }
        }

        #[doc = concat!($what, " gemm, dotprod tier: every element is [`", stringify!($dot_dotprod), "`]'s.")]
        ///
        /// # Safety
        /// The CPU must implement FEAT_DotProd.
        #[target_feature(enable = "neon,dotprod")]
        pub unsafe fn $gemm_dotprod(w: &[$w], act: &[$a], n_act: usize, out: &mut [f32]) {
            // SAFETY: the caller guarantees dotprod.
            unsafe {
                $crate::aarch64::$driver::gemm_by_rows::<
                    $pair,
                    $crate::aarch64::int_dot::SdotDot,
                >(w, act, n_act, out)
            }
        }

        #[doc = concat!($what, " gemm, i8mm tier (`smmla` 2×2 tiles): every element is [`", stringify!($dot_dotprod), "`]'s.")]
        ///
        /// # Safety
        /// The CPU must implement FEAT_DotProd and FEAT_I8MM.
        #[target_feature(enable = "neon,dotprod,i8mm")]
        pub unsafe fn $gemm_i8mm(w: &[$w], act: &[$a], n_act: usize, out: &mut [f32]) {
            // SAFETY: the caller guarantees dotprod and i8mm.
            unsafe {
                $crate::aarch64::$driver::gemm_2x2::<
                    $pair,
                    $crate::aarch64::int_dot::SdotDot,
                >(w, act, n_act, out)
            }
        }
    };
}
use tier_leaves;

/// Declares a pair's x8 product leaves for the NEON and dotprod tiers (the i8mm tier keeps the
/// dotprod one): the shared walk ([`crate::x8_walk`]) on the tier's integer step.
macro_rules! x8_leaves {
    ($pair:ident, $w:ty, $a:ty, $what:literal, $neon:ident, $dotprod:ident) => {
        #[doc = concat!($what, " products, NEON tier (`smlal`): each output is the plain `vec_dot`'s.")]
        ///
        /// # Safety
        /// The operands meet the [`crate::table::GemmX8Fn`] contract.
        #[target_feature(enable = "neon")]
        pub unsafe fn $neon(
            w: &[$w],
            act: &[$a],
            n_act: usize,
            out: &mut [f32],
            ld: usize,
            rows: usize,
        ) {
            // SAFETY: NEON is baseline on aarch64; the operands are the caller's promise.
            unsafe {
                $crate::x8_walk::gemm::<$pair<$crate::aarch64::x8_lanes::NeonRowDot>>(
                    w, act, n_act, out, ld, rows,
                )
            }
        }

        #[doc = concat!($what, " products, dotprod tier (`sdot`): each output is the plain `vec_dot`'s.")]
        ///
        /// # Safety
        /// The CPU must implement FEAT_DotProd; the operands meet the
        /// [`crate::table::GemmX8Fn`] contract.
        #[target_feature(enable = "neon,dotprod")]
        pub unsafe fn $dotprod(
            w: &[$w],
            act: &[$a],
            n_act: usize,
            out: &mut [f32],
            ld: usize,
            rows: usize,
        ) {
            // SAFETY: the caller guarantees dotprod and the operands.
            unsafe {
                $crate::x8_walk::gemm::<$pair<$crate::aarch64::x8_lanes::SdotRowDot>>(
                    w, act, n_act, out, ld, rows,
                )
            }
        }
    };
}
use x8_leaves;

pub mod q2_k;
pub mod q3_k;
pub mod q4_0;
pub mod q4_1;
pub mod q4_1_x8;
pub mod q4_k;
pub mod q4_k_x8;
pub mod q5_0;
pub mod q5_0_x8;
pub mod q5_1;
pub mod q5_k;
pub mod q6_k;
pub mod q6_k_x8;
pub mod q8_0;
pub mod q8_0_x8;

use half::{bf16, f16};

use crate::blocks::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K,
    BlockQ8K, BlockQ8_0, BlockQ8_1,
};
use crate::blocks_x8::{BlockQ4Kx8, BlockQ4_1x8, BlockQ5_0x8, BlockQ6Kx8, BlockQ8_0x8};
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemm_x8_entry, vec_dot_entry, DotKernels, KernelTable};
use crate::tier::Tier;

/// Overlays `t` with the kernels of `tier` and of the aarch64 tiers below it (`Neon`, then
/// `Dotprod`, then `I8mm`; any other tier leaves `t` as it is) and records the tier in `t.tier`.
/// The caller has checked [`Tier::is_supported`].
pub(crate) fn overlay(t: &mut KernelTable, tier: Tier) {
    if !matches!(tier, Tier::Neon | Tier::Dotprod | Tier::I8mm) {
        return;
    }
    overlay_neon(t);
    if tier >= Tier::Dotprod {
        overlay_dotprod(t);
    }
    if tier >= Tier::I8mm {
        overlay_i8mm(t);
    }
    t.tier = tier;
}

/// Sets weight type `$ty`'s vec_dot and gemm from module `$m` (gemv loops over vec_dot, as `ops`
/// does for `None`).
macro_rules! set_dot {
    ($t:ident, $ty:ident, $m:ident, $w:ty, $a:ty, $dot:ident, $gemm:ident) => {
        $t.set_dot(
            GgmlType::$ty,
            DotKernels {
                vec_dot: vec_dot_entry!($w, $a, $m::$dot),
                gemv: None,
                gemm: Some(gemm_entry!($w, $a, $m::$gemm)),
            },
        )
    };
}

#[rustfmt::skip]
fn overlay_neon(t: &mut KernelTable) {
    set_dot!(t, F32, float_dot, f32, f32, vec_dot_f32_neon, gemm_f32_neon);
    set_dot!(t, F16, float_dot, f16, f16, vec_dot_f16_neon, gemm_f16_neon);
    set_dot!(t, BF16, float_dot, bf16, bf16, vec_dot_bf16_neon, gemm_bf16_neon);
    set_dot!(t, Q8_0, q8_0, BlockQ8_0, BlockQ8_0, vec_dot_q8_0_q8_0_neon, gemm_q8_0_q8_0_neon);
    set_dot!(t, Q4_0, q4_0, BlockQ4_0, BlockQ8_0, vec_dot_q4_0_q8_0_neon, gemm_q4_0_q8_0_neon);
    set_dot!(t, Q4_1, q4_1, BlockQ4_1, BlockQ8_1, vec_dot_q4_1_q8_1_neon, gemm_q4_1_q8_1_neon);
    set_dot!(t, Q5_0, q5_0, BlockQ5_0, BlockQ8_0, vec_dot_q5_0_q8_0_neon, gemm_q5_0_q8_0_neon);
    set_dot!(t, Q5_1, q5_1, BlockQ5_1, BlockQ8_1, vec_dot_q5_1_q8_1_neon, gemm_q5_1_q8_1_neon);
    set_dot!(t, Q4_K, q4_k, BlockQ4K, BlockQ8K, vec_dot_q4_k_q8_k_neon, gemm_q4_k_q8_k_neon);
    set_dot!(t, Q6_K, q6_k, BlockQ6K, BlockQ8K, vec_dot_q6_k_q8_k_neon, gemm_q6_k_q8_k_neon);
    set_dot!(t, Q5_K, q5_k, BlockQ5K, BlockQ8K, vec_dot_q5_k_q8_k_neon, gemm_q5_k_q8_k_neon);
    set_dot!(t, Q2_K, q2_k, BlockQ2K, BlockQ8K, vec_dot_q2_k_q8_k_neon, gemm_q2_k_q8_k_neon);
    set_dot!(t, Q3_K, q3_k, BlockQ3K, BlockQ8K, vec_dot_q3_k_q8_k_neon, gemm_q3_k_q8_k_neon);
    t.set_x8_gemm(GgmlType::Q4_1, gemm_x8_entry!(BlockQ4_1x8, BlockQ8_1, q4_1_x8::gemm_q4_1x8_q8_1_neon));
    t.set_x8_gemm(GgmlType::Q5_0, gemm_x8_entry!(BlockQ5_0x8, BlockQ8_0, q5_0_x8::gemm_q5_0x8_q8_0_neon));
    t.set_x8_gemm(GgmlType::Q8_0, gemm_x8_entry!(BlockQ8_0x8, BlockQ8_0, q8_0_x8::gemm_q8_0x8_q8_0_neon));
    t.set_x8_gemm(GgmlType::Q4_K, gemm_x8_entry!(BlockQ4Kx8, BlockQ8K, q4_k_x8::gemm_q4_kx8_q8_k_neon));
    t.set_x8_gemm(GgmlType::Q6_K, gemm_x8_entry!(BlockQ6Kx8, BlockQ8K, q6_k_x8::gemm_q6_kx8_q8_k_neon));
}

#[rustfmt::skip]
fn overlay_dotprod(t: &mut KernelTable) {
    set_dot!(t, Q8_0, q8_0, BlockQ8_0, BlockQ8_0, vec_dot_q8_0_q8_0_dotprod, gemm_q8_0_q8_0_dotprod);
    set_dot!(t, Q4_0, q4_0, BlockQ4_0, BlockQ8_0, vec_dot_q4_0_q8_0_dotprod, gemm_q4_0_q8_0_dotprod);
    set_dot!(t, Q4_1, q4_1, BlockQ4_1, BlockQ8_1, vec_dot_q4_1_q8_1_dotprod, gemm_q4_1_q8_1_dotprod);
    set_dot!(t, Q5_0, q5_0, BlockQ5_0, BlockQ8_0, vec_dot_q5_0_q8_0_dotprod, gemm_q5_0_q8_0_dotprod);
    set_dot!(t, Q5_1, q5_1, BlockQ5_1, BlockQ8_1, vec_dot_q5_1_q8_1_dotprod, gemm_q5_1_q8_1_dotprod);
    set_dot!(t, Q4_K, q4_k, BlockQ4K, BlockQ8K, vec_dot_q4_k_q8_k_dotprod, gemm_q4_k_q8_k_dotprod);
    set_dot!(t, Q6_K, q6_k, BlockQ6K, BlockQ8K, vec_dot_q6_k_q8_k_dotprod, gemm_q6_k_q8_k_dotprod);
    set_dot!(t, Q5_K, q5_k, BlockQ5K, BlockQ8K, vec_dot_q5_k_q8_k_dotprod, gemm_q5_k_q8_k_dotprod);
    set_dot!(t, Q2_K, q2_k, BlockQ2K, BlockQ8K, vec_dot_q2_k_q8_k_dotprod, gemm_q2_k_q8_k_dotprod);
    set_dot!(t, Q3_K, q3_k, BlockQ3K, BlockQ8K, vec_dot_q3_k_q8_k_dotprod, gemm_q3_k_q8_k_dotprod);
    t.set_x8_gemm(GgmlType::Q4_1, gemm_x8_entry!(BlockQ4_1x8, BlockQ8_1, q4_1_x8::gemm_q4_1x8_q8_1_dotprod));
    t.set_x8_gemm(GgmlType::Q5_0, gemm_x8_entry!(BlockQ5_0x8, BlockQ8_0, q5_0_x8::gemm_q5_0x8_q8_0_dotprod));
    t.set_x8_gemm(GgmlType::Q8_0, gemm_x8_entry!(BlockQ8_0x8, BlockQ8_0, q8_0_x8::gemm_q8_0x8_q8_0_dotprod));
    t.set_x8_gemm(GgmlType::Q4_K, gemm_x8_entry!(BlockQ4Kx8, BlockQ8K, q4_k_x8::gemm_q4_kx8_q8_k_dotprod));
    t.set_x8_gemm(GgmlType::Q6_K, gemm_x8_entry!(BlockQ6Kx8, BlockQ8K, q6_k_x8::gemm_q6_kx8_q8_k_dotprod));
}

/// The i8mm tier keeps the dotprod vec_dot (`smmla` needs two rows) and x8 products, and tiles
/// gemm 2×2.
#[rustfmt::skip]
fn overlay_i8mm(t: &mut KernelTable) {
    set_dot!(t, Q8_0, q8_0, BlockQ8_0, BlockQ8_0, vec_dot_q8_0_q8_0_dotprod, gemm_q8_0_q8_0_i8mm);
    set_dot!(t, Q4_0, q4_0, BlockQ4_0, BlockQ8_0, vec_dot_q4_0_q8_0_dotprod, gemm_q4_0_q8_0_i8mm);
    set_dot!(t, Q4_1, q4_1, BlockQ4_1, BlockQ8_1, vec_dot_q4_1_q8_1_dotprod, gemm_q4_1_q8_1_i8mm);
    set_dot!(t, Q5_0, q5_0, BlockQ5_0, BlockQ8_0, vec_dot_q5_0_q8_0_dotprod, gemm_q5_0_q8_0_i8mm);
    set_dot!(t, Q5_1, q5_1, BlockQ5_1, BlockQ8_1, vec_dot_q5_1_q8_1_dotprod, gemm_q5_1_q8_1_i8mm);
    set_dot!(t, Q4_K, q4_k, BlockQ4K, BlockQ8K, vec_dot_q4_k_q8_k_dotprod, gemm_q4_k_q8_k_i8mm);
    set_dot!(t, Q6_K, q6_k, BlockQ6K, BlockQ8K, vec_dot_q6_k_q8_k_dotprod, gemm_q6_k_q8_k_i8mm);
    set_dot!(t, Q5_K, q5_k, BlockQ5K, BlockQ8K, vec_dot_q5_k_q8_k_dotprod, gemm_q5_k_q8_k_i8mm);
    set_dot!(t, Q2_K, q2_k, BlockQ2K, BlockQ8K, vec_dot_q2_k_q8_k_dotprod, gemm_q2_k_q8_k_i8mm);
    set_dot!(t, Q3_K, q3_k, BlockQ3K, BlockQ8K, vec_dot_q3_k_q8_k_dotprod, gemm_q3_k_q8_k_i8mm);
}
