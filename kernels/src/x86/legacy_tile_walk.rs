//! The walk over weight rows × activation rows shared by the AVX2 and AVX-512 legacy-format
//! drivers: activation rows in column blocks that stay in cache, weight rows streamed once per
//! column block, full `TILE_ROWS × TILE_COLS` tiles inside and leftover rows and columns in
//! narrower tiles. Each driver supplies only its tile kernel ([`LegacyTiles::tile`]), whose
//! outputs equal its vec_dot bit for bit, so the walk keeps every gemm element equal to vec_dot.

use crate::generic::accumulate::BLOCK_LANES;
use crate::x86::prefetch::prefetch_lines;

/// Weight rows per tile.
pub(crate) const TILE_ROWS: usize = 4;
/// Activation rows per gemm tile.
pub(crate) const TILE_COLS: usize = 4;
/// Activation rows per pass over the weights in gemm.
pub(crate) const COL_BLOCK: usize = 64;

/// A legacy-format tile kernel of one instruction-set tier.
pub(crate) trait LegacyTiles {
    /// Weight block.
    type W;
    /// Activation block.
    type A;

    /// `R` weight rows × `C` activation rows, all of `a[0].len()` blocks: `out[r][c]`.
    ///
    /// # Safety
    /// The CPU supports the tier's features.
    unsafe fn tile<const R: usize, const C: usize>(
        w: &[&[Self::W]; R],
        a: &[&[Self::A]; C],
        out: &mut [[f32; C]; R],
    );
}

/// `out[c * rows + r] = vec_dot(row r, activation row c)` with `rows = out.len() / n_act`, `w`
/// holding `rows` rows and `a` holding `n_act` rows of `a.len() / n_act` blocks each.
///
/// # Safety
/// The CPU supports the features of `T`'s tier.
#[inline(always)]
pub(crate) unsafe fn gemm<T: LegacyTiles>(w: &[T::W], a: &[T::A], n_act: usize, out: &mut [f32]) {
    if n_act == 0 || out.is_empty() {
        return;
    }
    let nb = a.len() / n_act;
    let rows = out.len() / n_act;
    if nb == 0 {
        out.fill(0.0);
        return;
    }
    if w.len() < rows * nb || a.len() < n_act * nb {
        // Unreachable through the table (ops sizes every operand); keeps this function total.
        out.fill(f32::NAN);
        return;
    }
    let w_row = |r: usize| &w[r * nb..(r + 1) * nb];
    let a_row = |c: usize| &a[c * nb..(c + 1) * nb];
    // Activation rows in blocks of `COL_BLOCK` (they stay in cache), weight rows streamed once
    // per block, `TILE_ROWS x TILE_COLS` tiles inside.
    let mut c0 = 0;
    while c0 < n_act {
        let c_end = (c0 + COL_BLOCK).min(n_act);
        let mut r = 0;
        while r < rows {
            let tr = (rows - r).min(TILE_ROWS);
            let mut c = c0;
            while c < c_end {
                let cols = (c_end - c).min(TILE_COLS);
                // SAFETY (all four arms): forwarded; every row and activation row holds `nb`
                // blocks (checked above).
                match (tr == TILE_ROWS, cols == TILE_COLS) {
                    (true, true) => {
                        let mut o = [[0.0f32; TILE_COLS]; TILE_ROWS];
                        let wr = [w_row(r), w_row(r + 1), w_row(r + 2), w_row(r + 3)];
                        let ar = [a_row(c), a_row(c + 1), a_row(c + 2), a_row(c + 3)];
                        unsafe { T::tile::<TILE_ROWS, TILE_COLS>(&wr, &ar, &mut o) };
                        for (i, orow) in o.iter().enumerate() {
                            for (j, v) in orow.iter().enumerate() {
                                out[(c + j) * rows + r + i] = *v;
                            }
                        }
                    }
                    (true, false) => {
                        let wr = [w_row(r), w_row(r + 1), w_row(r + 2), w_row(r + 3)];
                        for j in 0..cols {
                            let mut o = [[0.0f32; 1]; TILE_ROWS];
                            unsafe { T::tile::<TILE_ROWS, 1>(&wr, &[a_row(c + j)], &mut o) };
                            for (i, v) in o.iter().enumerate() {
                                out[(c + j) * rows + r + i] = v[0];
                            }
                        }
                    }
                    (false, true) => {
                        let ar = [a_row(c), a_row(c + 1), a_row(c + 2), a_row(c + 3)];
                        for i in 0..tr {
                            let mut o = [[0.0f32; TILE_COLS]; 1];
                            unsafe { T::tile::<1, TILE_COLS>(&[w_row(r + i)], &ar, &mut o) };
                            for (j, v) in o[0].iter().enumerate() {
                                out[(c + j) * rows + r + i] = *v;
                            }
                        }
                    }
                    (false, false) => {
                        for i in 0..tr {
                            for j in 0..cols {
                                let mut o = [[0.0f32; 1]; 1];
                                unsafe {
                                    T::tile::<1, 1>(&[w_row(r + i)], &[a_row(c + j)], &mut o)
                                };
                                out[(c + j) * rows + r + i] = o[0][0];
                            }
                        }
                    }
                }
                c += cols;
            }
            r += tr;
        }
        c0 = c_end;
    }
}

/// Eight consecutive blocks of `s` from `base` on, as an array reference (so indexing inside a
/// group needs no bounds checks).
#[inline(always)]
pub(crate) fn group<B>(s: &[B], base: usize) -> &[B; BLOCK_LANES] {
    let g = &s[base..base + BLOCK_LANES];
    match g.try_into() {
        Ok(g) => g,
        // Unreachable: the slice has exactly `BLOCK_LANES` elements.
        Err(_) => unreachable!(),
    }
}

/// How far ahead of the current group weight rows are prefetched, in blocks: about 1.6 KB of
/// Q8_0 (the output heads' rows stream from memory; at two groups ahead the loads still
/// waited on it — Gemma 3's 262,144-row head took 20 % more time on an Ice Lake VM).
pub(crate) const PREFETCH_BLOCKS: usize = 6 * BLOCK_LANES;

/// Asks for the eight blocks of `row` from block `from` on to be brought into cache (a hint;
/// addresses past the end are never dereferenced).
///
/// # Safety
/// The CPU supports SSE (every x86-64 does).
#[inline(always)]
pub(crate) unsafe fn prefetch_ahead<B>(row: &[B], from: usize) {
    let start = (row.as_ptr() as *const u8).wrapping_add(from * core::mem::size_of::<B>());
    // SAFETY: SSE by the caller; the addresses are a hint only.
    unsafe { prefetch_lines(start, BLOCK_LANES * core::mem::size_of::<B>()) };
}
