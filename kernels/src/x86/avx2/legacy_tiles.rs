//! The driver of the AVX2 legacy-format kernels: vec_dot, gemv and gemm over tiles of weight
//! rows × activation rows, each output accumulated exactly as the generic twin accumulates it
//! ([`accumulate`](crate::generic::accumulate): block `b`'s term in lane `b % 8`, then
//! `reduce8`). A tile only shares loads and unpacking between its outputs, never arithmetic,
//! so every gemv/gemm element has the bits of the corresponding vec_dot.
//!
//! Blocks go in groups of eight, block `base + k` in lane `k`. A short last group gives the
//! lanes past its end a term of exactly `+0.0`, which leaves an accumulator lane unchanged bit
//! for bit: lanes start at `+0.0`, and a sum is `-0.0` only when both addends are.

use core::arch::x86_64::*;

use super::legacy_lanes::{sum8_epi32, sum8_epi32_folded};
use crate::generic::accumulate::{reduce8, BLOCK_LANES};
use crate::x86::legacy_tile_walk::{self as walk, group, prefetch_ahead, PREFETCH_BLOCKS};

/// One weight format paired with its activation format, as the driver needs it.
pub(crate) trait LegacyPairAvx2 {
    /// Weight block.
    type W;
    /// Activation block.
    type A;
    /// A weight block's quants unpacked, shared by every activation row of a tile.
    type WUnpacked: Copy;
    /// An activation block's quants loaded, shared by every weight row of a tile.
    type Prepared: Copy;
    /// Scales of a group of weight blocks.
    type WScales: Copy;
    /// Scales of a group of activation blocks.
    type ActScales: Copy;

    /// Unpacks a weight block.
    ///
    /// # Safety
    /// The CPU supports AVX2, FMA and F16C (so for every method).
    unsafe fn unpack(w: &Self::W) -> Self::WUnpacked;

    /// Loads an activation block.
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::unpack`].
    unsafe fn prepare(a: &Self::A) -> Self::Prepared;

    /// Whether a single vec_dot totals eight blocks' partial sums by folding
    /// ([`sum8_epi32_folded`]) rather than by `hadd`s ([`sum8_epi32`]). Which is faster depends
    /// on the rest of the pair's work (measured with `kernels_fastest` on Zen 3); the sums are
    /// the same.
    const FOLD_TOTALS_IN_VEC_DOT: bool = true;

    /// [`LegacyPairAvx2::FOLD_TOTALS_IN_VEC_DOT`] for gemv/gemm tiles.
    const FOLD_TOTALS_IN_TILES: bool = false;

    /// Eight i32 partial sums whose total is the block pair's exact integer dot.
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::unpack`].
    unsafe fn partials(w: &Self::WUnpacked, a: &Self::Prepared) -> __m256i;

    /// The scales of up to eight weight blocks, lane `k` for `w[k]`, zero past the end.
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::unpack`].
    unsafe fn w_scales(w: &[Self::W]) -> Self::WScales;

    /// The scales of up to eight activation blocks, lane `k` for `a[k]`, zero past the end.
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::unpack`].
    unsafe fn act_scales(a: &[Self::A]) -> Self::ActScales;

    /// The float terms of eight blocks from their scales and exact integer dots, each lane
    /// computed with the operations of the generic twin's block term, in its order (zero
    /// scales and sums give `+0.0`).
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::unpack`].
    unsafe fn terms(w: &Self::WScales, a: &Self::ActScales, isums: __m256) -> __m256;

    /// Folds a loaded activation block into `seen`, a running record (starting at zero) from
    /// which [`LegacyPairAvx2::exact`] tells whether [`LegacyPairAvx2::partials`] was exact for
    /// every activation block folded in. Pairs exact for every input keep these defaults, and
    /// the record folds away.
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::unpack`].
    #[inline(always)]
    unsafe fn see(seen: __m256i, _a: &Self::Prepared) -> __m256i {
        seen
    }

    /// Whether the partial sums were exact for every activation block in `seen`.
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::unpack`].
    #[inline(always)]
    unsafe fn exact(_seen: __m256i) -> bool {
        true
    }
}

/// The dot product of `w` and `a` (as many blocks as both hold), in the generic twin's order.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline(always)]
pub(crate) unsafe fn vec_dot<P: LegacyPairAvx2>(w: &[P::W], a: &[P::A]) -> f32 {
    // SAFETY: forwarded.
    let (dot, exact) = unsafe { dot_and_exactness::<P>(w, a) };
    // Pairs exact only for some activations go through `vec_dot_if_exact`.
    debug_assert!(
        exact,
        "vec_dot ran a pair that is not exact for its activations"
    );
    dot
}

/// [`vec_dot`] for a pair whose partial sums are exact only for some activations
/// ([`LegacyPairAvx2::see`]): `None` when they were not exact for `a`.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline(always)]
pub(crate) unsafe fn vec_dot_if_exact<P: LegacyPairAvx2>(w: &[P::W], a: &[P::A]) -> Option<f32> {
    // SAFETY: forwarded.
    let (dot, exact) = unsafe { dot_and_exactness::<P>(w, a) };
    exact.then_some(dot)
}

/// The dot product of `w` and `a`, and whether `P`'s partial sums were exact for `a`.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline(always)]
unsafe fn dot_and_exactness<P: LegacyPairAvx2>(w: &[P::W], a: &[P::A]) -> (f32, bool) {
    let nb = w.len().min(a.len());
    let mut out = [[0.0f32; 1]; 1];
    // SAFETY: forwarded; one row and one activation row of `nb` blocks.
    let exact = unsafe { tile::<P, 1, 1>(&[&w[..nb]], &[&a[..nb]], &mut out) };
    (out[0][0], exact)
}

/// `out[r] = vec_dot(row r, a)`, `w` holding `out.len()` rows of `a.len()` blocks.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline(always)]
pub(crate) unsafe fn gemv<P: LegacyPairAvx2>(w: &[P::W], a: &[P::A], out: &mut [f32]) {
    // SAFETY: forwarded; gemv is gemm with one activation row.
    unsafe { gemm::<P>(w, a, 1, out) }
}

/// `out[c * rows + r] = vec_dot(row r, activation row c)` with `rows = out.len() / n_act`, `w`
/// holding `rows` rows and `a` holding `n_act` rows of `a.len() / n_act` blocks each.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline(always)]
pub(crate) unsafe fn gemm<P: LegacyPairAvx2>(
    w: &[P::W],
    a: &[P::A],
    n_act: usize,
    out: &mut [f32],
) {
    // SAFETY: forwarded; the walk hands `tile` whole rows of `nb` blocks.
    unsafe { walk::gemm::<Avx2Tiles<P>>(w, a, n_act, out) }
}

/// The tiles of pair `P` for the shared walk.
pub(crate) struct Avx2Tiles<P>(core::marker::PhantomData<P>);

impl<P: LegacyPairAvx2> walk::LegacyTiles for Avx2Tiles<P> {
    type W = P::W;
    type A = P::A;

    #[inline(always)]
    unsafe fn tile<const R: usize, const C: usize>(
        w: &[&[P::W]; R],
        a: &[&[P::A]; C],
        out: &mut [[f32; C]; R],
    ) {
        // SAFETY: forwarded from the caller (AVX2, FMA and F16C).
        let exact = unsafe { tile::<P, R, C>(w, a, out) };
        // gemv/gemm callers choose a pair that is exact for their activations beforehand.
        debug_assert!(
            exact,
            "gemv/gemm ran a pair that is not exact for its activations"
        );
    }
}

/// `R` weight rows × `C` activation rows, all of `a[0].len()` blocks: `out[r][c]`; and whether
/// `P`'s partial sums were exact for these activations ([`LegacyPairAvx2::exact`]).
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn tile<P: LegacyPairAvx2, const R: usize, const C: usize>(
    w: &[&[P::W]; R],
    a: &[&[P::A]; C],
    out: &mut [[f32; C]; R],
) -> bool {
    let nb = a[0].len();
    if w.iter().any(|r| r.len() < nb) || a.iter().any(|c| c.len() < nb) {
        // Unreachable through `gemm` (it slices every row to `nb` blocks); keeps this total.
        *out = [[f32::NAN; C]; R];
        return true;
    }
    // SAFETY: AVX2/FMA/F16C guaranteed by the caller; every index below is within `nb`
    // blocks, which every row holds (checked above).
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let full = nb - nb % BLOCK_LANES;
        // The short last group: its length is a constant in each arm of `short_terms`, so the
        // lanes past its end (zero sums and scales, `+0.0` terms) fold away at compile time;
        // with no short group its terms are `+0.0`, which leaves every lane unchanged bit for
        // bit. It is added last, as the twin adds it. A single vec_dot works it out first, so
        // that its loads and sums overlap the whole groups instead of ending the call; a
        // gemv/gemm tile works it out last (held across the loop, its terms would take
        // registers the tile needs).
        let early = R * C == 1;
        let mut tail = [[_mm256_setzero_ps(); C]; R];
        let mut seen = _mm256_setzero_si256();
        if early {
            (tail, seen) = short_terms::<P, R, C>(w, a, full, nb - full, seen);
        }
        let mut base = 0;
        while base < full {
            // Each group as a fixed-size array, so indexing inside it needs no bounds checks.
            // (Plain loops: closures would not inherit the target features.)
            let mut ag = [group(a[0], base); C];
            for c in 1..C {
                ag[c] = group(a[c], base);
            }
            let mut prep = [[P::prepare(&ag[0][0]); BLOCK_LANES]; C];
            let mut a_sc = [P::act_scales(ag[0]); C];
            for c in 0..C {
                for k in 0..BLOCK_LANES {
                    prep[c][k] = P::prepare(&ag[c][k]);
                    seen = P::see(seen, &prep[c][k]);
                }
                a_sc[c] = P::act_scales(ag[c]);
            }
            for r in 0..R {
                let wg = group(w[r], base);
                prefetch_ahead(w[r], base + PREFETCH_BLOCKS);
                let mut wu = [P::unpack(&wg[0]); BLOCK_LANES];
                for k in 1..BLOCK_LANES {
                    wu[k] = P::unpack(&wg[k]);
                }
                let w_sc = P::w_scales(wg);
                for c in 0..C {
                    let mut p = [_mm256_setzero_si256(); BLOCK_LANES];
                    for k in 0..BLOCK_LANES {
                        p[k] = P::partials(&wu[k], &prep[c][k]);
                    }
                    let isums = _mm256_cvtepi32_ps(totals::<P, R, C>(&p));
                    acc[r][c] = _mm256_add_ps(acc[r][c], P::terms(&w_sc, &a_sc[c], isums));
                }
            }
            base += BLOCK_LANES;
        }
        if !early {
            (tail, seen) = short_terms::<P, R, C>(w, a, full, nb - full, seen);
        }
        for r in 0..R {
            for c in 0..C {
                acc[r][c] = _mm256_add_ps(acc[r][c], tail[r][c]);
            }
        }
        for r in 0..R {
            for c in 0..C {
                let mut lanes = [0.0f32; BLOCK_LANES];
                _mm256_storeu_ps(lanes.as_mut_ptr(), acc[r][c]);
                out[r][c] = reduce8(&lanes);
            }
        }
        P::exact(seen)
    }
}

/// The exact totals of eight blocks' partial sums, the way `P` prefers in an `R × C` tile.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn totals<P: LegacyPairAvx2, const R: usize, const C: usize>(p: &[__m256i; 8]) -> __m256i {
    let fold = if R * C == 1 {
        P::FOLD_TOTALS_IN_VEC_DOT
    } else {
        P::FOLD_TOTALS_IN_TILES
    };
    // SAFETY: forwarded.
    unsafe {
        if fold {
            sum8_epi32_folded(p)
        } else {
            sum8_epi32(p)
        }
    }
}

/// The terms of the `len < 8` blocks from `full` on, each length with its own constant, and
/// `seen` with their activation blocks folded in ([`LegacyPairAvx2::see`]).
///
/// # Safety
/// As [`short_group`], with `T = len`.
#[inline(always)]
unsafe fn short_terms<P: LegacyPairAvx2, const R: usize, const C: usize>(
    w: &[&[P::W]; R],
    a: &[&[P::A]; C],
    full: usize,
    len: usize,
    seen: __m256i,
) -> ([[__m256; C]; R], __m256i) {
    // SAFETY: forwarded (plain function arms: a closure would not inherit the target features).
    unsafe {
        match len {
            0 => ([[_mm256_setzero_ps(); C]; R], seen),
            1 => short_group::<P, R, C, 1>(w, a, full, seen),
            2 => short_group::<P, R, C, 2>(w, a, full, seen),
            3 => short_group::<P, R, C, 3>(w, a, full, seen),
            4 => short_group::<P, R, C, 4>(w, a, full, seen),
            5 => short_group::<P, R, C, 5>(w, a, full, seen),
            6 => short_group::<P, R, C, 6>(w, a, full, seen),
            _ => short_group::<P, R, C, 7>(w, a, full, seen),
        }
    }
}

/// The terms of the `T < 8` blocks from `full` on (the row's last, short group), lanes past `T`
/// `+0.0`, and `seen` with their activation blocks folded in.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; every row in `w` and `a` holds `full + T` blocks.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn short_group<P: LegacyPairAvx2, const R: usize, const C: usize, const T: usize>(
    w: &[&[P::W]; R],
    a: &[&[P::A]; C],
    full: usize,
    mut seen: __m256i,
) -> ([[__m256; C]; R], __m256i) {
    // SAFETY: AVX2/FMA/F16C guaranteed by the caller; the slices below are in bounds (the
    // caller's promise) and of constant length `T`.
    unsafe {
        for ac in a {
            for blk in &ac[full..full + T] {
                seen = P::see(seen, &P::prepare(blk));
            }
        }
        let mut terms = [[_mm256_setzero_ps(); C]; R];
        for r in 0..R {
            let wg = &w[r][full..full + T];
            let w_sc = P::w_scales(wg);
            for c in 0..C {
                let ag = &a[c][full..full + T];
                // Absent lanes keep zero partials, so the reduction below folds them away.
                let mut p = [_mm256_setzero_si256(); BLOCK_LANES];
                for k in 0..T {
                    p[k] = P::partials(&P::unpack(&wg[k]), &P::prepare(&ag[k]));
                }
                let isums = _mm256_cvtepi32_ps(totals::<P, R, C>(&p));
                let a_sc = P::act_scales(ag);
                terms[r][c] = P::terms(&w_sc, &a_sc, isums);
            }
        }
        (terms, seen)
    }
}
