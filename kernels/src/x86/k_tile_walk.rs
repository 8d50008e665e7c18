//! The walk shared by the AVX2 and AVX-512 K-quant drivers: tiles of weight rows × Q8_K
//! activation rows, blocks in groups of eight whose float terms are taken at once.
//!
//! Per group, each (row, activation row) pair of a tile gets the exact integer sums of its blocks
//! (a main sum and a second sum per block, reduced two blocks at a time by [`pair_sums`]); the
//! instruction set's [`KGroups::add_group_terms`] turns them into the scalar twin's float terms and
//! adds block `8g + j`'s term to lane `j` of eight block lanes. Every output keeps its own lanes,
//! fed in the twin's order, so vec_dot, gemv and gemm are bit-identical to the scalar twin (see
//! [`crate::generic::accumulate`]). The walks differ from each other only in their tile shapes.

use core::arch::x86_64::*;

use crate::blocks::BlockQ8K;
use crate::generic::accumulate::BlockAccumulator;

/// Blocks whose terms share one vector of lanes.
pub(crate) const GROUP: usize = 8;

/// The integer sums of one group (up to 8 blocks) of one output: per block pair `t`, the main and
/// second sums of blocks `2t`, `2t + 1` as `[M, S, M', S']`.
pub(crate) type PairSums = [__m128i; 4];

/// One instruction set's K-quant kernels of one weight type, as the walk needs them.
pub(crate) trait KGroups {
    /// The weight block struct.
    type Block;
    /// A weight block unpacked for integer dots.
    type Prepared;
    /// The weight scales of a group, in the layout [`KGroups::add_group_terms`] reads.
    type WScales: Copy;
    /// The activation scales of a group, likewise.
    type ActScales: Copy;

    /// Unpacks one weight block.
    ///
    /// # Safety
    /// The CPU supports the instruction set of the implementation (so for every method).
    unsafe fn prepare(w: &Self::Block) -> Self::Prepared;

    /// The integer sums of a prepared block against one activation block, as 8 i32 lanes
    /// summing to the main sum and 8 summing to the second sum.
    ///
    /// # Safety
    /// As [`KGroups::prepare`].
    unsafe fn partials(p: &Self::Prepared, a: &BlockQ8K) -> (__m256i, __m256i);

    /// The weight scales of blocks `start..start + len` of a row (`len` in 1..=8).
    ///
    /// # Safety
    /// As [`KGroups::prepare`]; `start + len <= w.len()`.
    unsafe fn group_scales(w: &[Self::Block], start: usize, len: usize) -> Self::WScales;

    /// The activation scales of blocks `start..start + len` of an activation row.
    ///
    /// # Safety
    /// As [`KGroups::group_scales`].
    unsafe fn group_act_scales(a: &[BlockQ8K], start: usize, len: usize) -> Self::ActScales;

    /// Adds the float terms of one group (`len` blocks, 1..=8) to the eight block lanes `acc`,
    /// each computed as the scalar twin computes it; lanes past `len` keep their value.
    ///
    /// # Safety
    /// As [`KGroups::prepare`].
    unsafe fn add_group_terms(
        acc: __m256,
        sums: &PairSums,
        w: Self::WScales,
        a: Self::ActScales,
        len: usize,
    ) -> __m256;
}

/// Reduces the partial sums `(main, second)` of two blocks to `[M0, S0, M1, S1]`.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn pair_sums(b0: (__m256i, __m256i), b1: (__m256i, __m256i)) -> __m128i {
    // SAFETY: register-only operations; the caller guarantees AVX2.
    unsafe {
        // Per 128-bit lane: [m+m, m+m, s+s, s+s] of each block...
        let u0 = _mm256_hadd_epi32(b0.0, b0.1);
        let u1 = _mm256_hadd_epi32(b1.0, b1.1);
        // ...then [M0, S0, M1, S1] per lane, and the two lanes added.
        let x = _mm256_hadd_epi32(u0, u1);
        _mm_add_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256::<1>(x))
    }
}

/// The integer sums of one group (`len` blocks from `start`) for every (row, activation row)
/// pair of a tile; each weight block is prepared once for all `C` activation rows.
#[allow(clippy::needless_range_loop)] // plain index loops inline into the SIMD leaf
#[inline(always)]
unsafe fn group_sums<K: KGroups, const R: usize, const C: usize>(
    w: &[&[K::Block]; R],
    a: &[&[BlockQ8K]; C],
    start: usize,
    len: usize,
) -> [[PairSums; C]; R] {
    // SAFETY: the caller guarantees the instruction set; all block indices are below
    // `start + len`, which the caller keeps within every row.
    unsafe {
        let zero = (_mm256_setzero_si256(), _mm256_setzero_si256());
        let mut out = [[[_mm_setzero_si128(); 4]; C]; R];
        // A constant trip count (no `break`), so the loop unrolls and `out` stays in registers
        // for a short group too (a dynamic index would put it on the stack).
        for t in 0..GROUP / 2 {
            if 2 * t < len {
                let mut pair = [[[zero; 2]; C]; R];
                for (b, i) in (2 * t..2 * t + 2).enumerate() {
                    if i < len {
                        for r in 0..R {
                            let p = K::prepare(&w[r][start + i]);
                            for c in 0..C {
                                pair[r][c][b] = K::partials(&p, &a[c][start + i]);
                            }
                        }
                    }
                }
                for r in 0..R {
                    for c in 0..C {
                        out[r][c][t] = pair_sums(pair[r][c][0], pair[r][c][1]);
                    }
                }
            }
        }
        out
    }
}

/// Dot products of `R` weight rows with `C` activation rows (all `nb` blocks long):
/// `out[r][c] = vec_dot(w[r], a[c])`, each in the scalar twin's order.
#[allow(clippy::needless_range_loop)] // plain index loops inline into the SIMD leaf
#[inline(always)]
unsafe fn tile<K: KGroups, const R: usize, const C: usize>(
    w: [&[K::Block]; R],
    a: [&[BlockQ8K]; C],
    nb: usize,
) -> [[f32; C]; R] {
    for row in &w {
        assert!(row.len() >= nb);
    }
    for col in &a {
        assert!(col.len() >= nb);
    }
    // SAFETY: the caller guarantees the instruction set; every group lies within `nb`.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let mut start = 0;
        while start < nb {
            let len = GROUP.min(nb - start);
            // A full group with a constant length, so its loops unroll.
            let sums = if len == GROUP {
                group_sums::<K, R, C>(&w, &a, start, GROUP)
            } else {
                group_sums::<K, R, C>(&w, &a, start, len)
            };
            let mut ad = [K::group_act_scales(a[0], start, len); C];
            for c in 1..C {
                ad[c] = K::group_act_scales(a[c], start, len);
            }
            for r in 0..R {
                let ws = K::group_scales(w[r], start, len);
                for c in 0..C {
                    acc[r][c] = K::add_group_terms(acc[r][c], &sums[r][c], ws, ad[c], len);
                }
            }
            start += len;
        }
        let mut out = [[0.0f32; C]; R];
        for r in 0..R {
            for c in 0..C {
                let mut lanes = [0.0f32; GROUP];
                _mm256_storeu_ps(lanes.as_mut_ptr(), acc[r][c]);
                out[r][c] = BlockAccumulator::from_lanes(lanes).finish();
            }
        }
        out
    }
}

/// Dot product of one weight row with one activation row.
///
/// # Safety
/// The CPU supports `K`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn vec_dot<K: KGroups>(x: &[K::Block], y: &[BlockQ8K]) -> f32 {
    let nb = x.len().min(y.len());
    // SAFETY: forwarded.
    unsafe { tile::<K, 1, 1>([x], [y], nb)[0][0] }
}

/// `out[r] = vec_dot(row r of w, act)`; rows are `act.len()` blocks long, taken `ROWS` at a time
/// (each activation block loaded once for all of them).
///
/// # Safety
/// The CPU supports `K`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn gemv<K: KGroups, const ROWS: usize>(
    w: &[K::Block],
    act: &[BlockQ8K],
    out: &mut [f32],
) {
    let nb = act.len();
    if nb == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    let rows = out.len().min(w.len() / nb);
    let tiles = rows / ROWS;
    for q in 0..tiles {
        let r0 = q * ROWS;
        let rows_w: [&[K::Block]; ROWS] =
            core::array::from_fn(|i| &w[(r0 + i) * nb..(r0 + i + 1) * nb]);
        // SAFETY: forwarded.
        let d = unsafe { tile::<K, ROWS, 1>(rows_w, [act], nb) };
        for (i, v) in d.iter().enumerate() {
            out[r0 + i] = v[0];
        }
    }
    for r in tiles * ROWS..rows {
        // SAFETY: forwarded.
        out[r] = unsafe { tile::<K, 1, 1>([&w[r * nb..(r + 1) * nb]], [act], nb)[0][0] };
    }
}

/// Activation rows sharing one prepared weight block in [`gemm`].
const GEMM_COLS: usize = 4;

/// Activation rows kept hot while every weight row passes over them in [`gemm`] (64 Q8_K rows of
/// 2048 values are 146 KiB: an L2's worth), so the weights are streamed `n_act / 64` times, not
/// `n_act / 4` times.
const GEMM_COL_TILE: usize = 64;

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`, `rows = out.len() / n_act`.
///
/// Each weight block is prepared once for up to [`GEMM_COLS`] activation rows.
///
/// # Safety
/// The CPU supports `K`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn gemm<K: KGroups>(
    w: &[K::Block],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
) {
    if n_act == 0 {
        return;
    }
    let nb = act.len() / n_act;
    let rows = out.len() / n_act;
    if nb == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    let col = |c: usize| &act[c * nb..(c + 1) * nb];
    for tile0 in (0..n_act).step_by(GEMM_COL_TILE) {
        let tile_end = (tile0 + GEMM_COL_TILE).min(n_act);
        for (r, wrow) in w.chunks_exact(nb).take(rows).enumerate() {
            let mut c0 = tile0;
            while c0 + GEMM_COLS <= tile_end {
                let cols: [&[BlockQ8K]; GEMM_COLS] = core::array::from_fn(|t| col(c0 + t));
                // SAFETY: forwarded.
                let d = unsafe { tile::<K, 1, GEMM_COLS>([wrow], cols, nb) };
                for (t, v) in d[0].iter().enumerate() {
                    out[(c0 + t) * rows + r] = *v;
                }
                c0 += GEMM_COLS;
            }
            for c in c0..tile_end {
                // SAFETY: forwarded.
                out[c * rows + r] = unsafe { tile::<K, 1, 1>([wrow], [col(c)], nb)[0][0] };
            }
        }
    }
}
