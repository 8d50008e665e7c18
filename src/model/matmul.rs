//! Matrix products through `retort-kernels`: activations are quantized once to the weight's
//! activation type (as ggml does), then the output rows are cut into chunks that the session's
//! threads claim (see [`crate::worker_pool`]); a chunk is a range of rows for all tokens of the
//! batch.
//!
//! Every output element comes from the same kernel call pattern whatever the split (the kernels
//! guarantee gemv/gemm elements equal vec_dot bit for bit, and the x8 products of repacked
//! matrices equal them too), so results do not depend on the thread count. Chunks are cut on
//! multiples of [`ROW_ALIGN`] rows, so a chunk of a repacked matrix is whole x8 stripes (the
//! last chunk ends at the last row, padded stripe included).

use std::ops::Range;

use retort_kernels::{ops, GgmlType};

use super::batch_rows::{over_parts, MIN_ELEMENTS};
use super::error::ModelError;
use super::packed::rows_product;
use super::weights::Matrix;
use crate::worker_pool::{part, DisjointSlice, WorkerPool, MAX_CHUNKS};

/// Output rows of a product are cut into chunks on multiples of this (a whole number of the
/// kernels' row tiles and of any interleaved layout's row groups).
pub const ROW_ALIGN: usize = 16;

/// Chunks per thread of a batch product: enough that a late thread's share is taken by the
/// others, few enough that claiming them costs nothing measurable and each holds whole tiles.
const CHUNKS_PER_THREAD: usize = 4;

/// Chunks per thread of a one-token (decode) product: a decode product is a few microseconds of
/// streaming, and a thread that finishes first waits for the other's last chunk, so its chunks
/// are smaller (SmolLM2 on two threads: 12 % → 9 % of the time spent waiting).
const DECODE_CHUNKS_PER_THREAD: usize = 8;

/// Chunks a product of `rows` output rows over `t` tokens is cut into on `n_threads` threads.
pub fn chunks_for(rows: usize, t: usize, n_threads: usize) -> usize {
    if n_threads <= 1 {
        return 1;
    }
    let per_thread = if t <= 1 {
        DECODE_CHUNKS_PER_THREAD
    } else {
        CHUNKS_PER_THREAD
    };
    rows.div_ceil(ROW_ALIGN).min(per_thread * n_threads).max(1)
}

/// Chunks a product of `rows` output rows over `t` tokens is cut into on `n_threads` threads
/// whose tile scratch holds `tmp_per_thread` floats each: [`chunks_for`]'s, or more and smaller
/// ones where a chunk's tile (`t` × its rows) would not fit (the output head over a batch of
/// rows, which the scratch is not sized for). The split never changes a result's bits.
pub fn chunks_within(
    rows: usize,
    t: usize,
    n_threads: usize,
    tmp_per_thread: usize,
) -> Result<usize, ModelError> {
    let k = chunks_for(rows, t, n_threads);
    if t <= 1 {
        return Ok(k);
    }
    let fit = tmp_per_thread / t / ROW_ALIGN;
    let k = match fit {
        0 => MAX_CHUNKS + 1,
        fit => k.max(rows.div_ceil(ROW_ALIGN).div_ceil(fit)),
    };
    if k > MAX_CHUNKS {
        return Err(ModelError::Unsupported(format!(
            "a product of {rows} rows over {t} tokens in {tmp_per_thread} floats of scratch"
        )));
    }
    Ok(k)
}

/// Rows of the largest chunk of a product of `rows` rows on `n_threads` threads (a batch's
/// split: a decode product's chunks are smaller).
pub fn max_chunk_rows(rows: usize, n_threads: usize) -> usize {
    let units = rows.div_ceil(ROW_ALIGN);
    (units.div_ceil(chunks_for(rows, 2, n_threads)) * ROW_ALIGN).min(rows)
}

/// Activations quantized for matrix products, one buffer per activation type, valid until the
/// input changes, so Q, K and V (or gate and up) share one quantization.
#[derive(Default)]
pub struct QuantizedActs {
    slots: Vec<(GgmlType, Vec<u8>)>,
    valid: usize,
}

impl QuantizedActs {
    /// Buffers for up to `n_types` activation types of `bytes` bytes each (allocated once).
    pub fn with_capacity(n_types: usize, bytes: usize) -> QuantizedActs {
        QuantizedActs {
            slots: (0..n_types)
                .map(|_| (GgmlType::F32, Vec::with_capacity(bytes)))
                .collect(),
            valid: 0,
        }
    }

    /// Forgets cached quantizations: the input has changed.
    pub fn invalidate(&mut self) {
        self.valid = 0;
    }

    /// Quantizes `x` (rows of `cols`) as `ty` unless a copy is already held.
    pub fn prepare(&mut self, x: &[f32], ty: GgmlType) -> Result<(), ModelError> {
        if let Some(buf) = self.claim(x.len(), ty)? {
            ops::quantize_row(ty, x, buf)?;
            self.valid += 1;
        }
        Ok(())
    }

    /// [`QuantizedActs::prepare`] with the quantization of a large input (a prefill batch)
    /// spread over the threads of `pool`, block-aligned parts each (the same bytes).
    pub fn prepare_on(
        &mut self,
        pool: &mut WorkerPool,
        x: &[f32],
        ty: GgmlType,
    ) -> Result<(), ModelError> {
        let Some(buf) = self.claim(x.len(), ty)? else {
            return Ok(());
        };
        let (block, block_bytes) = (ty.block_size(), ty.type_size());
        let out = DisjointSlice::new(buf);
        over_parts(pool, x.len(), block, MIN_ELEMENTS, &|r| {
            // SAFETY: the parts of one split are disjoint, so are their blocks' bytes.
            let o =
                unsafe { out.range(r.start / block * block_bytes..r.end / block * block_bytes) };
            Ok(ops::quantize_row(ty, &x[r], o)?)
        })?;
        self.valid += 1;
        Ok(())
    }

    /// The next free buffer, sized for `len` elements as `ty`, unless `ty` is already held
    /// (`None`). The caller fills it, then counts it valid.
    fn claim(&mut self, len: usize, ty: GgmlType) -> Result<Option<&mut [u8]>, ModelError> {
        if self.get(ty).is_some() {
            return Ok(None);
        }
        if self.valid == self.slots.len() {
            return Err(ModelError::Unsupported(format!(
                "more than {} activation types for one input",
                self.slots.len()
            )));
        }
        let slot = &mut self.slots[self.valid];
        let bytes = ty
            .row_bytes(len as u64)
            .ok_or_else(|| ModelError::Unsupported(format!("{ty} activations of {len} elements")))?
            as usize;
        slot.0 = ty;
        // Within the capacity reserved at creation for the model's widest input: no allocation.
        slot.1.resize(bytes, 0);
        Ok(Some(&mut slot.1))
    }

    /// The held quantization as `ty`, if any.
    pub fn get(&self, ty: GgmlType) -> Option<&[u8]> {
        self.slots[..self.valid]
            .iter()
            .find(|(t, _)| *t == ty)
            .map(|(_, b)| b.as_slice())
    }
}

/// One matrix product of a job: `out (t, m.rows) = x (t, m.cols) · mᵀ`, with `x` already
/// quantized. Chunk `k` of `n` ([`Product::chunk_rows`]) is computed by
/// [`Product::compute_rows`].
pub struct Product<'a> {
    /// The matrix.
    pub m: &'a Matrix,
    /// (m.rows, m.cols) as m.ty: the matrix's own bytes.
    pub weights: &'a [u8],
    /// (t, m.cols) quantized as `m.ty.vec_dot_type()`.
    pub acts: &'a [u8],
    /// Tokens (activation rows).
    pub t: usize,
    /// (t, m.rows) the result, written by the workers in disjoint row ranges.
    pub out: DisjointSlice<'a, f32>,
}

impl<'a> Product<'a> {
    /// A product of `m` with the activations held in `acts` for its type (`prepare`d before).
    pub fn new(
        m: &'a Matrix,
        weights: &'a [u8],
        acts: &'a QuantizedActs,
        t: usize,
        out: &'a mut [f32],
    ) -> Result<Product<'a>, ModelError> {
        let ty = m.ty.vec_dot_type();
        let acts = acts.get(ty).ok_or_else(|| {
            ModelError::Unsupported(format!("{}: activations not quantized as {ty}", m.name))
        })?;
        debug_assert_eq!(out.len(), t * m.rows);
        Ok(Product {
            m,
            weights,
            acts,
            t,
            out: DisjointSlice::new(out),
        })
    }

    /// The rows of chunk `k` of `n`.
    pub fn chunk_rows(&self, k: usize, n: usize) -> Range<usize> {
        part(self.m.rows, k, n, ROW_ALIGN)
    }

    /// Computes rows `rows` of the result for every token. `tmp` holds at least
    /// `t × rows.len()` floats when `t > 1` and `rows` is not every row (the kernels write a
    /// tile of rows × tokens contiguously; it is then spread into the (t, m.rows) result).
    ///
    /// # Safety
    /// No other thread computes an overlapping row range of this product at the same time.
    pub unsafe fn compute_rows(
        &self,
        rows: Range<usize>,
        tmp: &mut [f32],
    ) -> Result<(), ModelError> {
        if rows.is_empty() {
            return Ok(());
        }
        let m = self.m;
        let n_rows = rows.len();
        if self.t == 1 {
            // SAFETY: the caller's promise: nobody else writes these rows now.
            let out = unsafe { self.out.range(rows.clone()) };
            rows_product(m, self.weights, rows, self.acts, 1, out, n_rows)?;
            return Ok(());
        }
        if n_rows == m.rows {
            // One chunk holds every row (one thread): the tile's layout is the result's, so
            // the kernels write it in place.
            // SAFETY: the caller's promise: every row is this call's, so the whole result is.
            let out = unsafe { self.out.range(0..self.t * m.rows) };
            rows_product(m, self.weights, rows, self.acts, self.t, out, n_rows)?;
            return Ok(());
        }
        let tile = &mut tmp[..self.t * n_rows];
        rows_product(
            m,
            self.weights,
            rows.clone(),
            self.acts,
            self.t,
            tile,
            n_rows,
        )?;
        for (c, src) in tile.chunks_exact(n_rows).enumerate() {
            let at = c * m.rows + rows.start;
            // SAFETY: row range `rows` of token `c` is this thread's (the caller's promise).
            unsafe { self.out.range(at..at + n_rows) }.copy_from_slice(src);
        }
        Ok(())
    }
}

/// Floats of per-thread product scratch for batches of `t` tokens over products of the given
/// row counts on `n_threads` threads.
pub fn product_scratch_len(t: usize, rows: &[usize], n_threads: usize) -> usize {
    if t <= 1 {
        return 0;
    }
    t * rows
        .iter()
        .map(|&r| max_chunk_rows(r, n_threads))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_rows_within_the_largest_chunk() {
        for rows in [1, 16, 64, 192, 576, 1536, 4864, 49_152, 262_144] {
            for n in 1..=4 {
                let k = chunks_for(rows, 2, n);
                let biggest = (0..k).map(|c| part(rows, c, k, ROW_ALIGN).len()).max();
                assert_eq!(
                    biggest,
                    Some(max_chunk_rows(rows, n)),
                    "{rows} rows, {n} threads"
                );
                assert!(k <= crate::worker_pool::MAX_CHUNKS);
                // A decode product's chunks are smaller, never larger.
                let k1 = chunks_for(rows, 1, n);
                let biggest1 = (0..k1).map(|c| part(rows, c, k1, ROW_ALIGN).len()).max();
                assert!(biggest1 <= biggest, "{rows} rows, {n} threads");
                assert!(k1 <= crate::worker_pool::MAX_CHUNKS);
            }
        }
        assert_eq!(chunks_for(576, 7, 1), 1);
        assert_eq!(chunks_for(576, 7, 2), 8);
        assert_eq!(chunks_for(576, 1, 2), 16);
    }

    #[test]
    fn chunks_within_scratch_fit_their_tiles() {
        for (rows, t, n, tmp) in [
            (49_152, 64, 1, 98_304),
            (49_152, 64, 2, 12_288),
            (262_144, 16, 2, 16_384),
            (576, 7, 3, 7 * 192),
            (1536, 1, 2, 0),
        ] {
            let k = chunks_within(rows, t, n, tmp).unwrap();
            assert!(k >= chunks_for(rows, t, n));
            if t > 1 {
                let biggest = (0..k).map(|c| part(rows, c, k, ROW_ALIGN).len()).max();
                assert!(
                    biggest.unwrap() * t <= tmp,
                    "{rows} rows, {t} tokens, {tmp}"
                );
            }
        }
        assert!(chunks_within(576, 2, 2, 16).is_err());
    }
}
