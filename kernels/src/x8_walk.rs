//! The walk of the row-interleaved (x8) products shared by every SIMD tier: stripes of eight
//! weight rows against any number of activation rows, each row in its own 32-bit lane (of one
//! 256-bit register on x86, two 128-bit ones on aarch64: [`RowLanes`]). Each tier supplies only
//! its pairs ([`X8Pair`]: unpacking and the integer sums), whose terms follow the twin's
//! operations.
//!
//! Each output follows the scalar twin's float order ([`crate::generic::accumulate`]): block
//! `b`'s term goes into accumulator lane `b % 8`, the eight lanes are reduced as `reduce8` does.
//! Here the eight block lanes are eight registers and the eight *rows* are the lanes of each,
//! so the reduction is seven vertical adds and nothing is ever summed across a register. The
//! pair's [`X8Pair::terms`] computes each row's term with the twin's operations, so every
//! output equals the row's plain `vec_dot` bit for bit.
//!
//! Walk: activation rows in column blocks that stay in L2; per stripe, tiles of up to [`TILE`]
//! activation rows whose accumulators stay in L1; per x8 block, the weights are unpacked once
//! ([`X8Pair::ready`]) and used for every activation row of the tile. One activation row
//! (decode) skips the unpacked copy and keeps its eight accumulators in registers.

use core::mem::{size_of, MaybeUninit};

use crate::blocks_x8::X8_ROWS;
use crate::generic::accumulate::BLOCK_LANES;
use crate::generic::x8::X8Format;

/// Activation rows whose accumulators one stripe pass keeps (`TILE × 8` registers' worth, 8 KB).
pub(crate) const TILE: usize = 32;

/// Bytes of activation rows a column block keeps (they are read once per stripe, from L2).
const ACT_BUDGET: usize = 192 * 1024;

/// How far ahead of the current eight blocks a decode step's weights are prefetched, in bytes
/// (the stripes stream from memory, one after the other).
#[cfg(target_arch = "x86_64")]
const DECODE_PREFETCH_AHEAD: usize = 2048;

/// Asks for the weights of the eight x8 blocks from `p` on, [`DECODE_PREFETCH_AHEAD`] bytes
/// further, to be brought into cache (a hint: the addresses are never dereferenced). Other
/// architectures leave it to the hardware prefetcher.
#[inline(always)]
fn prefetch_group<B>(p: *const B) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is SSE (every x86-64 has it) and never faults, whatever the address.
    unsafe {
        crate::x86::prefetch::prefetch_lines(
            p.cast::<u8>().wrapping_add(DECODE_PREFETCH_AHEAD),
            BLOCK_LANES * size_of::<B>(),
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Activation block sums (and [`BlockScalars`]) a column block may keep for pairs that need
/// them.
const SUMS_CAP: usize = 4096;

/// An activation block's scalars as a pair's two- and four-stripe tiles use them, worked out once per
/// column block and read by every stripe (from memory, as broadcast operands): the integer
/// each row's dot is offset by, and the block's scales widened to `f32` (exactly: they are
/// `f16`).
#[derive(Clone, Copy)]
// Only the AVX-512 tiles read them so far; other tiers keep the default (none kept).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct BlockScalars {
    /// Added to each row's exact dot: `-o·Σa` for weights stored as unsigned `q + o`, else 0.
    pub(crate) offset: i32,
    /// The activation block's scale.
    pub(crate) d: f32,
    /// Its second float (Q8_1's `s`), or 0.
    pub(crate) s: f32,
}

impl BlockScalars {
    /// All zero.
    pub(crate) const ZERO: Self = Self {
        offset: 0,
        d: 0.0,
        s: 0.0,
    };
}

/// Eight f32 lanes, one per row of a stripe, in a tier's registers.
pub(crate) trait RowLanes: Copy {
    /// All lanes `+0.0`.
    ///
    /// # Safety
    /// The CPU supports the tier's features (so for every method).
    unsafe fn zero() -> Self;

    /// Lane-wise `self + other` (IEEE single precision, unfused).
    ///
    /// # Safety
    /// As [`RowLanes::zero`].
    unsafe fn add(self, other: Self) -> Self;

    /// The eight lanes, row `k` in `out[k]`.
    ///
    /// # Safety
    /// As [`RowLanes::zero`].
    unsafe fn store(self, out: &mut [f32; X8_ROWS]);
}

/// A weight format with an x8 form, paired with its activation format, as the driver needs it.
pub(crate) trait X8Pair {
    /// The registers holding one float per row.
    type Lanes: RowLanes;
    /// The scalar view, whose gemm is the fallback when [`X8Pair::exact_for`] says no.
    type Twin: X8Format;
    /// The weights of one x8 block unpacked for any number of activation rows.
    type Ready;
    /// Whether [`X8Pair::terms`] needs each activation block's exact quant sum.
    const ACT_SUMS: bool = false;

    /// An empty [`X8Pair::Ready`] to unpack into.
    ///
    /// # Safety
    /// The CPU supports the pair's tier (so for every method).
    unsafe fn new_ready() -> Self::Ready;

    /// Unpacks x8 block `w` into `r`.
    ///
    /// # Safety
    /// As [`X8Pair::new_ready`].
    unsafe fn ready(w: &<Self::Twin as X8Format>::Packed, r: &mut Self::Ready);

    /// The eight rows' float terms against activation block `a` (lane `k` for row `k`), each
    /// computed with the operations of the twin's block term; `a_sum` is [`X8Pair::act_sum`]
    /// of `a` when the pair asks for it.
    ///
    /// # Safety
    /// As [`X8Pair::new_ready`].
    unsafe fn terms(r: &Self::Ready, a: &<Self::Twin as X8Format>::Act, a_sum: i32) -> Self::Lanes;

    /// [`X8Pair::terms`] straight from the x8 block (one activation row: nothing to share).
    ///
    /// # Safety
    /// As [`X8Pair::new_ready`].
    #[inline(always)]
    unsafe fn terms_direct(
        w: &<Self::Twin as X8Format>::Packed,
        a: &<Self::Twin as X8Format>::Act,
        a_sum: i32,
    ) -> Self::Lanes {
        // SAFETY: forwarded.
        unsafe {
            let mut r = Self::new_ready();
            Self::ready(w, &mut r);
            Self::terms(&r, a, a_sum)
        }
    }

    /// The exact sum of an activation block's quants.
    ///
    /// # Safety
    /// As [`X8Pair::new_ready`].
    #[inline(always)]
    unsafe fn act_sum(_a: &<Self::Twin as X8Format>::Act) -> i32 {
        0
    }

    /// Whether the walk keeps each activation block's [`BlockScalars`] for
    /// [`X8Pair::tile_pair`] and [`X8Pair::tile_quad`].
    const ACT_SCALARS: bool = false;

    /// Activation block `a`'s [`BlockScalars`]; `a_sum` is [`X8Pair::act_sum`] of `a` when the
    /// pair asks for it.
    ///
    /// # Safety
    /// As [`X8Pair::new_ready`].
    #[inline(always)]
    unsafe fn act_scalars(_a: &<Self::Twin as X8Format>::Act, _a_sum: i32) -> BlockScalars {
        BlockScalars::ZERO
    }

    /// Whether the walk hands this pair two stripes at a time ([`X8Pair::tile_pair`]) when it
    /// has several activation rows: tiers whose registers hold sixteen rows.
    const PAIRS_STRIPES: bool = false;

    /// Stripes `w0` (eight live rows) and `w1` (`live1`) against `nt` activation rows, as
    /// [`stripe_tile`] computes them one stripe after the other (the same bits): row `t`'s
    /// outputs of `w0` at `out[t·ld..]`, of `w1` at `out[t·ld + 8..]`.
    ///
    /// # Safety
    /// As [`X8Pair::new_ready`]; `w1.len() == w0.len()`, `a.len() == nt·w0.len()`,
    /// `1 <= nt <= TILE`; `sums` and `scalars` are each empty or `a.len()` long (and hold the
    /// blocks' [`X8Pair::act_sum`] and [`X8Pair::act_scalars`]); `out.len() >= (nt - 1)·ld + 8
    /// + live1`, `1 <= live1 <= 8`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn tile_pair(
        w0: &[<Self::Twin as X8Format>::Packed],
        w1: &[<Self::Twin as X8Format>::Packed],
        a: &[<Self::Twin as X8Format>::Act],
        sums: &[i32],
        _scalars: &[BlockScalars],
        nt: usize,
        out: &mut [f32],
        ld: usize,
        live1: usize,
    ) where
        Self: Sized,
    {
        // SAFETY: forwarded; each stripe's outputs start where the caller put them.
        unsafe {
            stripe_tile::<Self>(w0, a, sums, nt, out, ld, X8_ROWS);
            stripe_tile::<Self>(w1, a, sums, nt, &mut out[X8_ROWS..], ld, live1);
        }
    }

    /// Whether the walk hands this pair four stripes at a time ([`X8Pair::tile_quad`]) when it
    /// has several activation rows: tiers whose registers hold sixteen rows and whose blocks,
    /// unpacked for two registers, still leave room for the activation words they share.
    const QUADS_STRIPES: bool = false;

    /// Stripes `w[0..4]` (the first three whole, `w[3]` with `live3` live rows) against `nt`
    /// activation rows, as [`X8Pair::tile_pair`] computes them two stripes after the other
    /// (the same bits): row `t`'s outputs of `w[j]` at `out[t·ld + 8j..]`.
    ///
    /// # Safety
    /// As [`X8Pair::tile_pair`], for four stripes of `w[0].len()` blocks and `out.len() >=
    /// (nt - 1)·ld + 24 + live3`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn tile_quad(
        w: [&[<Self::Twin as X8Format>::Packed]; 4],
        a: &[<Self::Twin as X8Format>::Act],
        sums: &[i32],
        scalars: &[BlockScalars],
        nt: usize,
        out: &mut [f32],
        ld: usize,
        live3: usize,
    ) where
        Self: Sized,
    {
        // SAFETY: forwarded; stripes 2 and 3's outputs start 16 floats on.
        unsafe {
            Self::tile_pair(w[0], w[1], a, sums, scalars, nt, out, ld, X8_ROWS);
            Self::tile_pair(
                w[2],
                w[3],
                a,
                sums,
                scalars,
                nt,
                &mut out[2 * X8_ROWS..],
                ld,
                live3,
            );
        }
    }

    /// Whether [`X8Pair::terms`] is exact for every block of `act` (it is unless a pair
    /// says otherwise).
    ///
    /// # Safety
    /// As [`X8Pair::new_ready`].
    #[inline(always)]
    unsafe fn exact_for(_act: &[<Self::Twin as X8Format>::Act]) -> bool {
        true
    }
}

type Packed<P> = <<P as X8Pair>::Twin as X8Format>::Packed;
type Act<P> = <<P as X8Pair>::Twin as X8Format>::Act;

/// `out[t·ld + r] = vec_dot(row r, activation row t)` for `r < rows`, `t < n_act`: the
/// [`crate::table::GemmX8Fn`] contract.
///
/// # Safety
/// The CPU supports the pair's tier.
#[inline(always)]
pub(crate) unsafe fn gemm<P: X8Pair>(
    w: &[Packed<P>],
    act: &[Act<P>],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    if n_act == 0 || rows == 0 {
        return;
    }
    let nb = act.len() / n_act;
    if nb == 0
        || w.len() < rows.div_ceil(X8_ROWS) * nb
        || ld < rows
        || out.len() < (n_act - 1) * ld + rows
    {
        // Unreachable through the table (`ops` checks every operand); keeps this total.
        out.fill(f32::NAN);
        return;
    }
    // SAFETY: forwarded.
    if !unsafe { P::exact_for(&act[..n_act * nb]) } {
        crate::generic::x8::gemm::<P::Twin>(w, act, n_act, out, ld, rows);
        return;
    }
    // Room for what the walk keeps of each activation block: sums for the pairs that ask for
    // them; scalars only for several activation rows (one row takes no two-stripe tiles).
    let scalars = P::ACT_SCALARS && n_act > 1;
    // SAFETY (every call): forwarded; the operands were checked above.
    match (P::ACT_SUMS, scalars) {
        (false, false) => unsafe { walk::<P>(w, act, n_act, nb, out, ld, rows, &mut [], &mut []) },
        (true, false) => unsafe {
            walk::<P>(
                w,
                act,
                n_act,
                nb,
                out,
                ld,
                rows,
                &mut [0; SUMS_CAP],
                &mut [],
            )
        },
        (false, true) => unsafe {
            let kept = &mut [BlockScalars::ZERO; SUMS_CAP];
            walk::<P>(w, act, n_act, nb, out, ld, rows, &mut [], kept)
        },
        (true, true) => unsafe {
            let kept = &mut [BlockScalars::ZERO; SUMS_CAP];
            walk::<P>(w, act, n_act, nb, out, ld, rows, &mut [0; SUMS_CAP], kept)
        },
    }
}

/// [`gemm`] on checked operands, `sums` room for activation block sums and `scalars` for their
/// [`BlockScalars`] (each empty for pairs without them).
///
/// # Safety
/// The CPU supports the pair's tier; `act` holds `n_act >= 1` rows of `nb >= 1` blocks, `w`
/// `rows.div_ceil(8)` stripes of `nb`; `ld >= rows >= 1`, `out.len() >= (n_act - 1)·ld + rows`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn walk<P: X8Pair>(
    w: &[Packed<P>],
    act: &[Act<P>],
    n_act: usize,
    nb: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
    sums: &mut [i32],
    scalars: &mut [BlockScalars],
) {
    let stripes = rows.div_ceil(X8_ROWS);
    let cb = column_block::<P>(nb);
    let mut c0 = 0;
    while c0 < n_act {
        let c1 = (c0 + cb).min(n_act);
        // Every stripe uses the column block's sums and scalars: work them out once.
        let kept = P::ACT_SUMS && (c1 - c0) * nb <= sums.len();
        let kept_scalars = P::ACT_SCALARS && (c1 - c0) * nb <= scalars.len();
        if kept || kept_scalars {
            for (i, a) in act[c0 * nb..c1 * nb].iter().enumerate() {
                // SAFETY (both): forwarded.
                let sum = if P::ACT_SUMS {
                    unsafe { P::act_sum(a) }
                } else {
                    0
                };
                if kept {
                    sums[i] = sum;
                }
                if kept_scalars {
                    scalars[i] = unsafe { P::act_scalars(a, sum) };
                }
            }
        }
        let mut s = 0;
        while s < stripes {
            let ws = &w[s * nb..(s + 1) * nb];
            let r0 = s * X8_ROWS;
            let live = (rows - r0).min(X8_ROWS);
            if P::QUADS_STRIPES && c1 - c0 > 1 && s + 3 < stripes {
                // Stripes `s`, `s + 1` and `s + 2` are whole; `s + 3` may be the padded last.
                let quad: [&[Packed<P>]; 4] =
                    core::array::from_fn(|j| &w[(s + j) * nb..(s + j + 1) * nb]);
                let live3 = (rows - r0 - 3 * X8_ROWS).min(X8_ROWS);
                for (t0, nt) in tiles(c0, c1) {
                    let (a_tile, s_tile) = tile_rows(act, sums, kept, nb, c0, t0, nt);
                    let (_, k_tile) = tile_rows(act, scalars, kept_scalars, nb, c0, t0, nt);
                    // SAFETY: forwarded; as for `stripe_tile` below, with the four stripes'
                    // outputs (`24 + live3` of them) from `t0·ld + r0` on.
                    unsafe {
                        P::tile_quad(
                            quad,
                            a_tile,
                            s_tile,
                            k_tile,
                            nt,
                            &mut out[t0 * ld + r0..],
                            ld,
                            live3,
                        )
                    }
                }
                s += 4;
                continue;
            }
            if P::PAIRS_STRIPES && c1 - c0 > 1 && s + 1 < stripes {
                // Stripe `s` is whole (another follows it); `s + 1` may be the padded last.
                let ws1 = &w[(s + 1) * nb..(s + 2) * nb];
                let live1 = (rows - r0 - X8_ROWS).min(X8_ROWS);
                for (t0, nt) in tiles(c0, c1) {
                    let (a_tile, s_tile) = tile_rows(act, sums, kept, nb, c0, t0, nt);
                    let (_, k_tile) = tile_rows(act, scalars, kept_scalars, nb, c0, t0, nt);
                    // SAFETY: forwarded; as for `stripe_tile` below, with both stripes'
                    // outputs (`8 + live1` of them) from `t0·ld + r0` on.
                    unsafe {
                        P::tile_pair(
                            ws,
                            ws1,
                            a_tile,
                            s_tile,
                            k_tile,
                            nt,
                            &mut out[t0 * ld + r0..],
                            ld,
                            live1,
                        )
                    }
                }
                s += 2;
                continue;
            }
            if c1 - c0 == 1 {
                let s_row = if kept { &sums[..nb] } else { &[][..] };
                // SAFETY: forwarded; `ws` and the activation row hold `nb` blocks, `s_row` is
                // empty or their `nb` sums.
                let acc = unsafe { stripe_one::<P>(ws, &act[c0 * nb..c1 * nb], s_row) };
                // SAFETY: AVX2 (the caller's promise); `out` holds `live` outputs from here.
                unsafe { store_row(&acc, &mut out[c0 * ld + r0..], live) };
                s += 1;
                continue;
            }
            for (t0, nt) in tiles(c0, c1) {
                let (a_tile, s_tile) = tile_rows(act, sums, kept, nb, c0, t0, nt);
                // SAFETY: forwarded; `a_tile` holds `nt` rows of `nb` blocks, `s_tile` none or
                // their sums, `out` the outputs of `nt` activation rows from `t0·ld + r0` on.
                unsafe {
                    stripe_tile::<P>(ws, a_tile, s_tile, nt, &mut out[t0 * ld + r0..], ld, live)
                }
            }
            s += 1;
        }
        c0 = c1;
    }
}

/// The tiles of activation rows `c0..c1`: (first row, rows), up to [`TILE`] rows each.
///
/// The walk's loops over tiles stay in the caller's body (not in a closure handed to a helper):
/// a closure is a function of its own, without the `#[target_feature]` leaf's features, and when
/// the compiler does not inline it every intrinsic in it becomes a call (the K-quant tiles ran
/// 20x slower that way).
#[inline(always)]
fn tiles(c0: usize, c1: usize) -> impl Iterator<Item = (usize, usize)> {
    (c0..c1)
        .step_by(TILE)
        .map(move |t0| (t0, (c1 - t0).min(TILE)))
}

/// Tile `t0..t0 + nt`'s activation rows (of `nb` blocks) and what the walk keeps of their
/// blocks (sums or scalars), kept in `sums` from the column block's first row `c0` on, or none
/// when they are not `kept`.
#[inline(always)]
fn tile_rows<'a, A, K>(
    act: &'a [A],
    sums: &'a [K],
    kept: bool,
    nb: usize,
    c0: usize,
    t0: usize,
    nt: usize,
) -> (&'a [A], &'a [K]) {
    let s_tile = if kept {
        &sums[(t0 - c0) * nb..(t0 - c0 + nt) * nb]
    } else {
        &[][..]
    };
    (&act[t0 * nb..(t0 + nt) * nb], s_tile)
}

/// Activation rows per column block: as many as fit [`ACT_BUDGET`] and, for pairs that keep
/// block sums or scalars, [`SUMS_CAP`] (at least one).
#[inline(always)]
fn column_block<P: X8Pair>(nb: usize) -> usize {
    let mut cb = (ACT_BUDGET / (nb * size_of::<Act<P>>())).max(1);
    if P::ACT_SUMS || P::ACT_SCALARS {
        cb = cb.min(SUMS_CAP / nb);
    }
    // Whole tiles where there is room for them.
    if cb > TILE {
        cb -= cb % TILE;
    }
    cb.max(1)
}

/// One stripe against `nt` activation rows of `w.len()` blocks (`a` rows one after another,
/// `sums` their block sums, or empty to work them out here, for pairs that need them), outputs
/// of row `t` at `out[t·ld..]`.
///
/// # Safety
/// The CPU supports the pair's tier; `a.len() == nt·w.len()`, `1 <= nt <= TILE`; `sums` is
/// empty or `a.len()` long; `out.len() >= (nt - 1)·ld + live`, `live <= 8`.
#[inline(always)]
pub(crate) unsafe fn stripe_tile<P: X8Pair>(
    w: &[Packed<P>],
    a: &[Act<P>],
    sums: &[i32],
    nt: usize,
    out: &mut [f32],
    ld: usize,
    live: usize,
) {
    let nb = w.len();
    let kept_sums = P::ACT_SUMS && sums.len() == nt * nb;
    // SAFETY: the pair's tier guaranteed by the caller; every pointer below stays inside `a`,
    // `sums` or `acc` (indices `t < nt <= TILE`, `b < nb`, lanes `< 8`); each accumulator is
    // written (by its first block, or zeroed when `nb < 8` leaves it without one) before it
    // is read.
    unsafe {
        // Block `b < 8` starts its lane at `0 + term`, the twin's first addition, so nothing is
        // zeroed up front (a memset a call).
        let mut acc_store = MaybeUninit::<[[P::Lanes; BLOCK_LANES]; TILE]>::uninit();
        let acc = acc_store.as_mut_ptr().cast::<P::Lanes>();
        let mut r = P::new_ready();
        for (b, wb) in w.iter().enumerate() {
            P::ready(wb, &mut r);
            let lane = b % BLOCK_LANES;
            let first = b < BLOCK_LANES;
            let mut ap = a.as_ptr().add(b);
            for t in 0..nt {
                let ab = &*ap;
                let a_sum = if !P::ACT_SUMS {
                    0
                } else if kept_sums {
                    *sums.get_unchecked(ap.offset_from(a.as_ptr()) as usize)
                } else {
                    P::act_sum(ab)
                };
                let slot = acc.add(t * BLOCK_LANES + lane);
                let prev = if first { P::Lanes::zero() } else { slot.read() };
                slot.write(prev.add(P::terms(&r, ab, a_sum)));
                ap = ap.add(nb);
            }
        }
        for t in 0..nt {
            for lane in nb.min(BLOCK_LANES)..BLOCK_LANES {
                acc.add(t * BLOCK_LANES + lane).write(P::Lanes::zero());
            }
        }
        for t in 0..nt {
            let acc_t = &*acc.add(t * BLOCK_LANES).cast::<[P::Lanes; BLOCK_LANES]>();
            store_row(acc_t, &mut out[t * ld..], live);
        }
    }
}

/// One stripe against one activation row `a` of `w.len()` blocks (`sums` their block sums, or
/// empty to work them out here, for pairs that need them): the eight block lanes.
///
/// # Safety
/// The CPU supports the pair's tier; `a.len() == w.len()`; `sums` is empty or as long.
#[inline(always)]
unsafe fn stripe_one<P: X8Pair>(
    w: &[Packed<P>],
    a: &[Act<P>],
    sums: &[i32],
) -> [P::Lanes; BLOCK_LANES] {
    let kept_sums = P::ACT_SUMS && sums.len() == a.len();
    // SAFETY: the pair's tier guaranteed by the caller; `a` (and `sums` when kept) hold as many
    // blocks as `w`.
    unsafe {
        let mut acc = [P::Lanes::zero(); BLOCK_LANES];
        let full = w.len() - w.len() % BLOCK_LANES;
        let mut b = 0;
        while b < full {
            prefetch_group(w.as_ptr().wrapping_add(b));
            // Eight blocks at a time, so each one's lane is a constant (the accumulators stay
            // in registers).
            for (l, acc_l) in acc.iter_mut().enumerate() {
                let (wb, ab) = (w.get_unchecked(b + l), a.get_unchecked(b + l));
                let a_sum = block_sum::<P>(a, sums, kept_sums, b + l);
                *acc_l = acc_l.add(P::terms_direct(wb, ab, a_sum));
            }
            b += BLOCK_LANES;
        }
        for (l, acc_l) in acc.iter_mut().enumerate().take(w.len() - full) {
            let (wb, ab) = (w.get_unchecked(full + l), a.get_unchecked(full + l));
            let a_sum = block_sum::<P>(a, sums, kept_sums, full + l);
            *acc_l = acc_l.add(P::terms_direct(wb, ab, a_sum));
        }
        acc
    }
}

/// Activation block `i`'s sum for pairs that need it: kept in `sums`, or worked out here.
///
/// # Safety
/// The CPU supports the pair's tier; `i < a.len()`, and `i < sums.len()` when `kept`.
#[inline(always)]
unsafe fn block_sum<P: X8Pair>(a: &[Act<P>], sums: &[i32], kept: bool, i: usize) -> i32 {
    // SAFETY: in bounds by the caller's promise; AVX2/FMA/F16C likewise.
    unsafe {
        if !P::ACT_SUMS {
            0
        } else if kept {
            *sums.get_unchecked(i)
        } else {
            P::act_sum(a.get_unchecked(i))
        }
    }
}

/// Reduces eight block lanes as `reduce8` does (`((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 +
/// l7))`, here for eight rows at once) and stores the first `live` rows at `out[0..live]`.
///
/// # Safety
/// The CPU supports the lanes' tier; `out.len() >= live`, `live <= 8`.
#[inline(always)]
unsafe fn store_row<L: RowLanes>(acc: &[L; BLOCK_LANES], out: &mut [f32], live: usize) {
    // SAFETY: register arithmetic of the caller's tier; the stores stay inside `out` or `tmp`.
    unsafe {
        let s0 = acc[0].add(acc[4]);
        let s1 = acc[1].add(acc[5]);
        let s2 = acc[2].add(acc[6]);
        let s3 = acc[3].add(acc[7]);
        let v = s0.add(s2).add(s1.add(s3));
        match out.first_chunk_mut::<X8_ROWS>() {
            Some(o) if live == X8_ROWS => v.store(o),
            _ => {
                let mut tmp = [0.0f32; X8_ROWS];
                v.store(&mut tmp);
                out[..live].copy_from_slice(&tmp[..live]);
            }
        }
    }
}
