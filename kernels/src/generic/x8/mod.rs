//! Row-interleaved ("x8") weights: repacking eight rows into [`crate::blocks_x8`] blocks, giving
//! a row back, and the scalar twin of every x8 product.
//!
//! The twin works out each output exactly as the plain `vec_dot` of that row does: it takes row
//! `k`'s block back out of the interleaved block ([`X8Format::row`]) and adds the type's own
//! block term into the same 8-lane accumulator. So an x8 product equals `vec_dot` on the
//! original rows bit for bit, and a SIMD tier that equals this twin equals `vec_dot` too; the
//! model may then use the x8 form for some products and the plain rows for others (or split
//! rows across threads anyhow) without its numbers changing.
//!
//! A *stripe* is the x8 form of eight consecutive rows: one x8 block per source block of a row.
//! A matrix whose row count is not a multiple of eight gets a last stripe padded with zero
//! blocks; the products never write the padded rows' outputs.

pub mod q4_1;
pub mod q4_k;
pub mod q5_0;
pub mod q6_k;
pub mod q8_0;

use bytemuck::Pod;

use super::accumulate::BlockAccumulator;
use crate::blocks::{BlockQ4K, BlockQ4_1, BlockQ5_0, BlockQ6K, BlockQ8K, BlockQ8_0, BlockQ8_1};
use crate::blocks_x8::{BlockQ4Kx8, BlockQ4_1x8, BlockQ5_0x8, BlockQ6Kx8, BlockQ8_0x8, X8_ROWS};
use crate::ggml_type::GgmlType;
use crate::table::{gemm_x8_entry, repack_x8_entry, unpack_x8_entry, KernelTable, X8Kernels};

/// A weight format with an x8 form, as the scalar code sees it.
pub trait X8Format {
    /// The source block (one row's).
    type Row: Pod;
    /// The activation block it pairs with.
    type Act: Pod;
    /// The interleaved block of eight rows.
    type Packed: Pod;

    /// Interleaves eight rows' blocks.
    fn pack(rows: &[Self::Row; X8_ROWS]) -> Self::Packed;

    /// Row `k`'s block, exactly as it was packed.
    fn row(p: &Self::Packed, k: usize) -> Self::Row;

    /// The float term `vec_dot` adds for this block pair (the type's exact integer sum and its
    /// block term, as in the type's scalar `vec_dot`).
    fn term(w: &Self::Row, a: &Self::Act) -> f32;
}

/// Copies word `w` (bytes `4w..4w+4`) of every row's array into the word interleave: row `k`'s
/// word `w` at bytes `32w + 4k`.
#[inline(always)]
pub(crate) fn interleave_words<const N: usize>(rows: [&[u8; N]; X8_ROWS], out: &mut [u8]) {
    debug_assert_eq!(out.len(), N * X8_ROWS);
    for w in 0..N / 4 {
        for (k, row) in rows.iter().enumerate() {
            out[32 * w + 4 * k..32 * w + 4 * k + 4].copy_from_slice(&row[4 * w..4 * w + 4]);
        }
    }
}

/// Row `k`'s words back out of a word interleave.
#[inline(always)]
pub(crate) fn row_words<const N: usize>(packed: &[u8], k: usize) -> [u8; N] {
    debug_assert_eq!(packed.len(), N * X8_ROWS);
    let mut out = [0u8; N];
    for w in 0..N / 4 {
        out[4 * w..4 * w + 4].copy_from_slice(&packed[32 * w + 4 * k..32 * w + 4 * k + 4]);
    }
    out
}

/// The same field of eight rows as an array.
#[inline(always)]
pub(crate) fn gather<'a, R, T: Copy>(
    rows: &'a [R; X8_ROWS],
    f: impl Fn(&'a R) -> T,
) -> [T; X8_ROWS] {
    core::array::from_fn(|k| f(&rows[k]))
}

/// Repacks `src` — up to eight rows of `nb` blocks each, one after another — into the stripe
/// `out` of `nb` x8 blocks; rows past the end of `src` are zero blocks.
pub fn repack<F: X8Format>(src: &[F::Row], nb: usize, out: &mut [F::Packed]) {
    let n_rows = src.len().checked_div(nb).unwrap_or(0).min(X8_ROWS);
    for (b, o) in out.iter_mut().enumerate().take(nb) {
        let rows: [F::Row; X8_ROWS] = core::array::from_fn(|k| {
            if k < n_rows {
                src[k * nb + b]
            } else {
                bytemuck::Zeroable::zeroed()
            }
        });
        *o = F::pack(&rows);
    }
}

/// Row `k` of a stripe back into `out` (one block per x8 block).
pub fn unpack_row<F: X8Format>(stripe: &[F::Packed], k: usize, out: &mut [F::Row]) {
    for (o, p) in out.iter_mut().zip(stripe) {
        *o = F::row(p, k);
    }
}

/// `out[t·ld + r] = vec_dot(row r, activation row t)` for `r < rows`, `t < n_act`: the scalar
/// twin of every x8 product. `w` holds `rows.div_ceil(8)` stripes of `act.len() / n_act`
/// blocks; rows past `rows` (a padded stripe's) are not written.
pub fn gemm<F: X8Format>(
    w: &[F::Packed],
    act: &[F::Act],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    if n_act == 0 {
        return;
    }
    let nb = act.len() / n_act;
    for t in 0..n_act {
        let a = &act[t * nb..(t + 1) * nb];
        for r in 0..rows {
            let (s, k) = (r / X8_ROWS, r % X8_ROWS);
            let stripe = &w[s * nb..(s + 1) * nb];
            let mut acc = BlockAccumulator::new();
            for (b, (p, ab)) in stripe.iter().zip(a).enumerate() {
                acc.add(b, F::term(&F::row(p, k), ab));
            }
            out[t * ld + r] = acc.finish();
        }
    }
}

/// Declares a type's scalar x8 entry points over [`repack`], [`unpack_row`] and [`gemm`].
macro_rules! x8_twins {
    ($fmt:ty, $repack:ident, $unpack:ident, $gemm:ident, $what:literal) => {
        #[doc = concat!("Repacks up to eight ", $what, " rows of `nb` blocks into one stripe (see [`super::repack`]).")]
        pub fn $repack(
            src: &[<$fmt as super::X8Format>::Row],
            nb: usize,
            out: &mut [<$fmt as super::X8Format>::Packed],
        ) {
            super::repack::<$fmt>(src, nb, out)
        }

        #[doc = concat!("Row `k` of a ", $what, " stripe (see [`super::unpack_row`]).")]
        pub fn $unpack(
            stripe: &[<$fmt as super::X8Format>::Packed],
            k: usize,
            out: &mut [<$fmt as super::X8Format>::Row],
        ) {
            super::unpack_row::<$fmt>(stripe, k, out)
        }

        #[doc = concat!("The scalar twin of the ", $what, " x8 products (see [`super::gemm`]).")]
        pub fn $gemm(
            w: &[<$fmt as super::X8Format>::Packed],
            act: &[<$fmt as super::X8Format>::Act],
            n_act: usize,
            out: &mut [f32],
            ld: usize,
            rows: usize,
        ) {
            super::gemm::<$fmt>(w, act, n_act, out, ld, rows)
        }
    };
}
pub(crate) use x8_twins;

/// The x8 kernels of one type from its scalar twins.
macro_rules! x8_kernels {
    ($row:ty, $packed:ty, $act:ty, $m:ident, $repack:ident, $unpack:ident, $gemm:ident) => {
        X8Kernels {
            repack: repack_x8_entry!($row, $packed, $m::$repack),
            unpack_row: unpack_x8_entry!($row, $packed, $m::$unpack),
            gemm: gemm_x8_entry!($packed, $act, $m::$gemm),
            native: false,
        }
    };
}

/// Puts the x8 twins into `t` (the generic table; tiers replace the products only).
#[rustfmt::skip]
pub const fn register(t: &mut KernelTable) {
    use GgmlType as T;
    t.set_x8(T::Q4_1, x8_kernels!(BlockQ4_1, BlockQ4_1x8, BlockQ8_1, q4_1, repack_q4_1_x8, unpack_row_q4_1_x8, gemm_q4_1x8_q8_1));
    t.set_x8(T::Q5_0, x8_kernels!(BlockQ5_0, BlockQ5_0x8, BlockQ8_0, q5_0, repack_q5_0_x8, unpack_row_q5_0_x8, gemm_q5_0x8_q8_0));
    t.set_x8(T::Q8_0, x8_kernels!(BlockQ8_0, BlockQ8_0x8, BlockQ8_0, q8_0, repack_q8_0_x8, unpack_row_q8_0_x8, gemm_q8_0x8_q8_0));
    t.set_x8(T::Q4_K, x8_kernels!(BlockQ4K, BlockQ4Kx8, BlockQ8K, q4_k, repack_q4_k_x8, unpack_row_q4_k_x8, gemm_q4_kx8_q8_k));
    t.set_x8(T::Q6_K, x8_kernels!(BlockQ6K, BlockQ6Kx8, BlockQ8K, q6_k, repack_q6_k_x8, unpack_row_q6_k_x8, gemm_q6_kx8_q8_k));
}
