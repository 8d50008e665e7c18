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
use std::path::Path;
use std::sync::Arc;

use memmap2::{Mmap, MmapMut};
use retort_kernels::blocks_x8::X8_ROWS;
use retort_kernels::{ops, GgmlType};

use super::error::ModelError;
use super::packed_cache::{CacheEntry, PackedOrigin};
use super::weights::{Matrix, Weights};
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

/// Repacks stripe `s` of matrix `m` (`data`: its bytes in the file) into `out` (`stripe_bytes`).
fn repack_stripe(m: &Matrix, data: &[u8], s: usize, out: &mut [u8]) -> Result<(), ModelError> {
    let row_bytes = m.bytes / m.rows.max(1);
    let r1 = (X8_ROWS * (s + 1)).min(m.rows);
    let rows = &data[X8_ROWS * s * row_bytes..r1 * row_bytes];
    ops::repack_x8(m.ty, m.cols, rows, out)?;
    Ok(())
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
    let repack_run = |first: usize, run: &mut [u8]| -> Result<(), ModelError> {
        for (i, stripe) in run.chunks_mut(stripe_bytes.max(1)).enumerate() {
            repack_stripe(m, data, first + i, stripe)?;
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

/// A layer matrix's place in the arena.
struct Slot {
    layer: usize,
    /// Its index in [`LayerWeights::matrices`](super::LayerWeights::matrices).
    slot: usize,
    offset: usize,
    len: usize,
    stripe_bytes: usize,
}

/// The arena's layout: every layer matrix with an x8 form, one after another (each at a
/// multiple of [`ALIGN`]), and the arena's length; plus the plan as bytes, for a cache key.
fn plan(weights: &mut Weights) -> Result<(Vec<Slot>, usize, Vec<u8>), ModelError> {
    let mut plan = Vec::new();
    let mut key = Vec::new();
    let mut total = 0usize;
    for (l, layer) in weights.layers.iter_mut().enumerate() {
        for (slot, m) in layer.matrices_mut().into_iter().enumerate() {
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
            key.extend_from_slice(m.name.as_bytes());
            key.push(0);
            key.extend_from_slice(m.ty.to_string().as_bytes());
            key.push(0);
            for n in [m.rows, m.cols, m.offset, m.bytes, offset, len, stripe_bytes] {
                key.extend_from_slice(&(n as u64).to_le_bytes());
            }
            plan.push(Slot {
                layer: l,
                slot,
                offset,
                len,
                stripe_bytes,
            });
        }
    }
    Ok((plan, total, key))
}

/// Whether `arena` holds the plan's copies: the first and last stripe of every matrix are
/// repacked again from the file and compared (a different x8 layout, or a copy cut short or
/// zeroed, shows there).
fn arena_agrees(
    file: &GgufFile,
    weights: &mut Weights,
    plan: &[Slot],
    arena: &[u8],
) -> Result<bool, ModelError> {
    let mut fresh = Vec::new();
    for p in plan {
        let m = &*weights.layers[p.layer].matrices_mut()[p.slot];
        let data = &file.bytes()[m.offset..m.offset + m.bytes];
        let last = m.rows.div_ceil(X8_ROWS) - 1;
        for s in [0, last] {
            fresh.clear();
            fresh.resize(p.stripe_bytes, 0);
            repack_stripe(m, data, s, &mut fresh)?;
            let at = p.offset + s * p.stripe_bytes;
            if arena[at..at + p.stripe_bytes] != fresh[..] {
                return Ok(false);
            }
        }
        // The rows read above (and the pages the OS mapped around them) leave again at once,
        // or they would add to the peak resident set before `release_repacked`.
        file.release(m.offset..m.offset + m.bytes);
    }
    Ok(true)
}

/// Repacks every layer matrix that has an x8 form (or maps the copy an earlier load kept in
/// `cache_dir`: [`super::packed_cache`]) and gives the file's pages under them back. The token
/// embedding and the output head keep the file's rows (rows are looked up one at a time, and
/// the head has a product of its own). Returns the bytes repacked and where they came from.
///
/// All copies live in one mapping, the arena. Repacked here, it is anonymous memory, which on
/// Linux is offered to the kernel for transparent huge pages: a decode step streams every byte
/// of it, and in 2 MiB pages that takes 512 times fewer TLB entries (and page faults at load)
/// than in 4 KiB ones. Most of these matrices are under 2 MiB each, so one mapping per matrix
/// could not use them. Pages of the arena are only allocated as they are written, matrix by
/// matrix, and each matrix's file pages are given back once it is copied, so the peak holds one
/// matrix twice, not the model. A kept copy is mapped read-only from its file, advised the same.
pub(crate) fn repack_layers(
    file: &GgufFile,
    weights: &mut Weights,
    cache_dir: Option<&Path>,
) -> Result<(usize, PackedOrigin), ModelError> {
    let (plan, total, key) = plan(weights)?;
    if plan.is_empty() {
        return Ok((0, PackedOrigin::None));
    }
    let entry = cache_dir
        .zip(file.source())
        .map(|(dir, source)| CacheEntry::new(dir, source, &key));
    let kept = match entry.as_ref().and_then(|e| e.open(total)) {
        Some(map) if arena_agrees(file, weights, &plan, &map[..total])? => Some(map),
        _ => None,
    };
    let (arena, origin) = match (kept, &entry) {
        (Some(map), Some(e)) => (Arc::new(map), PackedOrigin::Reused(e.path().to_owned())),
        _ => {
            let arena = fill_arena(file, weights, &plan, total)?;
            let origin = match &entry {
                None => PackedOrigin::Repacked {
                    kept: None,
                    note: None,
                },
                Some(e) => match e.write(&arena[..total]) {
                    Ok(()) => PackedOrigin::Repacked {
                        kept: Some(e.path().to_owned()),
                        note: None,
                    },
                    Err(note) => PackedOrigin::Repacked {
                        kept: None,
                        note: Some(note),
                    },
                },
            };
            (arena, origin)
        }
    };
    let mut bytes = 0;
    for p in &plan {
        weights.layers[p.layer].matrices_mut()[p.slot].packed = Some(Arc::new(PackedRows {
            arena: Arc::clone(&arena),
            offset: p.offset,
            len: p.len,
            stripe_bytes: p.stripe_bytes,
        }));
        bytes += p.len;
    }
    release_repacked(file, weights, &plan);
    Ok((bytes, origin))
}

/// The arena of `plan` (`total` bytes) in fresh anonymous memory, every matrix repacked into
/// it, each matrix's file pages given back once it is copied.
fn fill_arena(
    file: &GgufFile,
    weights: &mut Weights,
    plan: &[Slot],
    total: usize,
) -> Result<Arc<Mmap>, ModelError> {
    let mut arena = MmapMut::map_anon(total).map_err(|e| {
        ModelError::OutOfMemory(format!("{total} bytes for the repacked weights: {e}"))
    })?;
    #[cfg(target_os = "linux")]
    {
        // Advice only: without transparent huge pages the arena is ordinary memory.
        let _ = arena.advise(memmap2::Advice::HugePage);
    }
    for p in plan {
        let m = &*weights.layers[p.layer].matrices_mut()[p.slot];
        let range = m.offset..m.offset + m.bytes;
        repack_into(
            m,
            &file.bytes()[range.clone()],
            p.stripe_bytes,
            &mut arena[p.offset..p.offset + p.len],
        )?;
        file.release(range);
    }
    Ok(Arc::new(arena.make_read_only().map_err(|e| {
        ModelError::OutOfMemory(format!("sealing the repacked weights read-only: {e}"))
    })?))
}

/// Gives back the file's pages under the repacked matrices, with those that straddle two of
/// them where nothing but padding lies between the two.
fn release_repacked(file: &GgufFile, weights: &mut Weights, plan: &[Slot]) {
    let mut repacked: Vec<Range<usize>> = plan
        .iter()
        .map(|p| {
            let m = &*weights.layers[p.layer].matrices_mut()[p.slot];
            m.offset..m.offset + m.bytes
        })
        .collect();
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
}
