//! Weights repacked at load into row-interleaved stripes ([`retort_kernels::blocks_x8`]): the
//! blocks of eight rows side by side, so a product loads each activation once for eight rows and
//! keeps each row's sums in a lane of its own (about 1.6–2.5× the plain kernels on the catalog
//! models' shapes, decode and prefill alike: `benches/README.md`). Every output keeps the bits of
//! the plain product (`ops::gemm_x8`'s promise), so nothing the model computes changes.
//!
//! Memory: the copy replaces the mapped rows rather than adding to them. Once a matrix is
//! repacked the loader gives the file's pages back ([`GgufFile::release`]), and the products
//! never read the file's rows again, so the weights are resident once. Only a memory-mapped
//! file is repacked: a caller's buffer (`GgufFile::from_bytes`, e.g. a map of flash) is left as
//! it is, since copying it would hold the weights twice.

use std::ops::Range;
use std::sync::Arc;

use memmap2::{Mmap, MmapMut};
use retort_kernels::blocks_x8::X8_ROWS;
use retort_kernels::{ops, GgmlType};

use super::error::ModelError;
use super::weights::{LayerWeights, Matrix, Weights};
use crate::gguf::GgufFile;

/// Where each packed copy starts in the arena: a cache line, so stripes start line-aligned.
const ALIGN: usize = 64;

/// A matrix's rows as x8 stripes: (rows.div_ceil(8), stripe_bytes), the last stripe padded with
/// zero rows; a range of the model's arena ([`repack_layers`]).
pub struct PackedRows {
    arena: Arc<Mmap>,
    offset: usize,
    len: usize,
    stripe_bytes: usize,
}

impl std::fmt::Debug for PackedRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedRows")
            .field("bytes", &self.len)
            .field("stripe_bytes", &self.stripe_bytes)
            .finish()
    }
}

/// Repacks matrix `m` from `data`, its bytes in the file, into `out` (its x8 size; runs of
/// stripes in parallel on scoped threads, one per core; each stripe is the same whoever
/// repacks it).
fn repack_into(
    m: &Matrix,
    data: &[u8],
    stripe_bytes: usize,
    out: &mut [u8],
) -> Result<(), ModelError> {
    let stripes = m.rows.div_ceil(X8_ROWS);
    let row_bytes = m.bytes / m.rows.max(1);
    let repack_run = |first: usize, run: &mut [u8]| -> Result<(), ModelError> {
        for (i, stripe) in run.chunks_mut(stripe_bytes.max(1)).enumerate() {
            let s = first + i;
            let r1 = (X8_ROWS * (s + 1)).min(m.rows);
            let rows = &data[X8_ROWS * s * row_bytes..r1 * row_bytes];
            ops::repack_x8(m.ty, m.cols, rows, stripe)?;
        }
        Ok(())
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // At least this many stripes a thread, so a small matrix is not worth a thread.
    const MIN_STRIPES: usize = 16;
    let n_threads = cores.min(stripes / MIN_STRIPES).max(1);
    if n_threads == 1 || stripe_bytes == 0 {
        return repack_run(0, out);
    }
    let per = stripes.div_ceil(n_threads);
    std::thread::scope(|scope| {
        let runs: Vec<_> = out
            .chunks_mut(per * stripe_bytes)
            .enumerate()
            .map(|(i, run)| scope.spawn(move || repack_run(i * per, run)))
            .collect();
        runs.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
        })
    })
}

impl PackedRows {
    /// Bytes of the packed copy.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the copy is empty (a matrix without rows).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stripes `s0..s1`.
    fn stripes(&self, s: Range<usize>) -> &[u8] {
        let bytes = &self.arena[self.offset..self.offset + self.len];
        &bytes[s.start * self.stripe_bytes..s.end * self.stripe_bytes]
    }

    /// [`rows_product`] for a matrix with this copy.
    fn product(
        &self,
        m: &Matrix,
        rows: Range<usize>,
        act: &[u8],
        n_act: usize,
        out: &mut [f32],
        ld: usize,
    ) -> Result<(), ModelError> {
        let (r0, r1) = (rows.start, rows.end);
        // Whole stripes in the middle (a padded last stripe counts as whole when the range
        // reaches the last row); the rows of a stripe cut by either end of the range go
        // through a stripe's worth of outputs per activation row.
        let a0 = r0.next_multiple_of(X8_ROWS);
        let a1 = if r1 == m.rows { r1 } else { r1 - r1 % X8_ROWS };
        if a0 < a1 {
            let w = self.stripes(a0 / X8_ROWS..a1.div_ceil(X8_ROWS));
            ops::gemm_x8(
                m.ty,
                m.cols,
                w,
                act,
                n_act,
                &mut out[a0 - r0..],
                ld,
                a1 - a0,
            )?;
        }
        let head = r0..a0.min(r1);
        let tail = a1.max(a0).max(r0)..r1;
        for cut in [head, tail] {
            if cut.is_empty() {
                continue;
            }
            let s = cut.start / X8_ROWS;
            let live = (m.rows - s * X8_ROWS).min(X8_ROWS);
            let a_row = act.len() / n_act.max(1);
            for t in 0..n_act {
                let mut stripe_out = [0.0f32; X8_ROWS];
                let a = &act[t * a_row..(t + 1) * a_row];
                ops::gemm_x8(
                    m.ty,
                    m.cols,
                    self.stripes(s..s + 1),
                    a,
                    1,
                    &mut stripe_out,
                    X8_ROWS,
                    live,
                )?;
                let first = cut.start - s * X8_ROWS;
                out[t * ld + cut.start - r0..t * ld + cut.end - r0]
                    .copy_from_slice(&stripe_out[first..first + cut.len()]);
            }
        }
        Ok(())
    }
}

/// `out[t·ld + (r - rows.start)] = row r of m · activation row t` for `r in rows`, `t < n_act`
/// (`act`: `n_act` rows quantized as `m.ty.vec_dot_type()`; `weights`: the matrix's bytes in
/// the file). Through the packed stripes when `m` has them, else the file's rows; the bits are
/// the same either way, and whatever the split of rows and activation rows.
pub(crate) fn rows_product(
    m: &Matrix,
    weights: &[u8],
    rows: Range<usize>,
    act: &[u8],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
) -> Result<(), ModelError> {
    if let Some(p) = &m.packed {
        return p.product(m, rows, act, n_act, out, ld);
    }
    let row_bytes = m.bytes / m.rows.max(1);
    let w = &weights[rows.start * row_bytes..rows.end * row_bytes];
    let n = rows.len();
    if n_act == 1 {
        ops::gemv(m.ty, m.cols, w, act, &mut out[..n])?;
    } else if ld == n {
        ops::gemm(m.ty, m.cols, w, act, n_act, &mut out[..n_act * n])?;
    } else {
        let a_row = act.len() / n_act;
        for t in 0..n_act {
            let a = &act[t * a_row..(t + 1) * a_row];
            ops::gemv(m.ty, m.cols, w, a, &mut out[t * ld..t * ld + n])?;
        }
    }
    Ok(())
}

/// Whether the loader repacks matrices of type `ty` (those with an x8 form).
pub(crate) fn repacks(ty: GgmlType) -> bool {
    ops::has_x8(ty)
}

/// Repacks every layer matrix that has an x8 form and gives the file's pages under them back.
/// The token embedding and the output head keep the file's rows (rows are looked up one at a
/// time, and the head has a product of its own). Returns the bytes repacked.
///
/// All copies live in one anonymous mapping, the arena, which on Linux is offered to the kernel
/// for transparent huge pages: a decode step streams every byte of it, and in 2 MiB pages that
/// takes 512 times fewer TLB entries (and page faults at load) than in 4 KiB ones. Most of
/// these matrices are under 2 MiB each, so one mapping per matrix could not use them. Pages of
/// the arena are only allocated as they are written, matrix by matrix, and each matrix's file
/// pages are given back once it is copied, so the peak holds one matrix twice, not the model.
pub(crate) fn repack_layers(file: &GgufFile, weights: &mut Weights) -> Result<usize, ModelError> {
    // (layer, matrix slot, offset in the arena, bytes, stripe bytes)
    let mut plan: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
    let mut total = 0usize;
    for (l, layer) in weights.layers.iter_mut().enumerate() {
        for (slot, m) in layer_matrices(layer).into_iter().enumerate() {
            if !repacks(m.ty) || m.rows == 0 {
                continue;
            }
            let stripe_bytes = ops::x8_stripe_bytes(m.ty, m.cols)?;
            let overflow =
                || ModelError::Unsupported(format!("{}: repacked size overflows", m.name));
            let len = stripe_bytes
                .checked_mul(m.rows.div_ceil(X8_ROWS))
                .ok_or_else(overflow)?;
            let offset = total.checked_next_multiple_of(ALIGN).ok_or_else(overflow)?;
            total = offset.checked_add(len).ok_or_else(overflow)?;
            plan.push((l, slot, offset, len, stripe_bytes));
        }
    }
    if plan.is_empty() {
        return Ok(0);
    }
    let mut arena = MmapMut::map_anon(total).map_err(|e| {
        ModelError::OutOfMemory(format!("{total} bytes for the repacked weights: {e}"))
    })?;
    #[cfg(target_os = "linux")]
    {
        // Advice only: without transparent huge pages the arena is ordinary memory.
        let _ = arena.advise(memmap2::Advice::HugePage);
    }
    let mut repacked = Vec::with_capacity(plan.len());
    for &(l, slot, offset, len, stripe_bytes) in &plan {
        let m = &*layer_matrices(&mut weights.layers[l])[slot];
        let range = m.offset..m.offset + m.bytes;
        repack_into(
            m,
            &file.bytes()[range.clone()],
            stripe_bytes,
            &mut arena[offset..offset + len],
        )?;
        file.release(range.clone());
        repacked.push(range);
    }
    let arena = Arc::new(arena.make_read_only().map_err(|e| {
        ModelError::OutOfMemory(format!("sealing the repacked weights read-only: {e}"))
    })?);
    let mut bytes = 0;
    for &(l, slot, offset, len, stripe_bytes) in &plan {
        layer_matrices(&mut weights.layers[l])[slot].packed = Some(Arc::new(PackedRows {
            arena: Arc::clone(&arena),
            offset,
            len,
            stripe_bytes,
        }));
        bytes += len;
    }
    // Pages that straddle two repacked tensors were kept above; give those back too, where
    // nothing but padding lies between the two.
    repacked.sort_by_key(|r| r.start);
    let kept: Vec<Range<usize>> = file
        .tensors()
        .iter()
        .map(|t| t.offset as usize..(t.offset + t.bytes) as usize)
        .filter(|t| !repacked.contains(t))
        .collect();
    let mut merged: Vec<Range<usize>> = Vec::new();
    for r in repacked {
        match merged.last_mut() {
            Some(last) if !kept.iter().any(|k| k.start < r.start && k.end > last.end) => {
                last.end = last.end.max(r.end);
            }
            _ => merged.push(r),
        }
    }
    for r in merged {
        file.release(r);
    }
    Ok(bytes)
}

/// The matrices of a layer that may be repacked, in a fixed order.
fn layer_matrices(layer: &mut LayerWeights) -> [&mut Matrix; 7] {
    [
        &mut layer.wq,
        &mut layer.wk,
        &mut layer.wv,
        &mut layer.wo,
        &mut layer.w_gate,
        &mut layer.w_up,
        &mut layer.w_down,
    ]
}
