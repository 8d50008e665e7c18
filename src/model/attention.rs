//! Causal grouped-query attention over the KV cache, block by block (flash-attention style):
//! for each block of [`BLOCK`] cached positions, the scores of every query head of a KV group
//! come from one product of the block's key rows with the queries (in the cache's own format:
//! the queries are converted to the key type's `vec_dot_type`), then one softmax block per query
//! and one pass over the value rows for all the queries that see the same positions of the block
//! (their weighted sums) give that block's partial results `(m, l, acc)`; partials are
//! merged in block order with the online-softmax rule. Scores never leave a block-sized buffer.
//!
//! Work is cut two ways, both fixed by the shape alone:
//! - decoding one token: a chunk per (KV head, block), partials merged afterwards;
//! - a prefill batch: a chunk per (KV head, group of [`TOKENS_PER_CHUNK`] tokens), which walks
//!   the blocks itself (the queries of a group share each block's key and value reads).
//!
//! A query's result is the same merge of the same partials either way (a block's partial for a
//! query depends only on that query's visible positions in the block), so it does not depend on
//! the batch split or on the thread count.

use retort_kernels::attention::{self as kernels, KvType};
use retort_kernels::ops;

use super::error::ModelError;
use crate::kv_cache::{LayerCache, BLOCK};
use crate::worker_pool::{DisjointSlice, WorkerPool, MAX_CHUNKS};

/// Tokens of a prefill batch that share a chunk (and the reads of each block).
pub const TOKENS_PER_CHUNK: usize = 16;

/// Geometry of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct AttnShape {
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads.
    pub n_head_kv: usize,
    /// Query/key head dimension.
    pub head_dim: usize,
    /// Value head dimension.
    pub head_dim_v: usize,
    /// Score multiplier.
    pub scale: f32,
    /// Sliding window, if the layer has one.
    pub window: Option<usize>,
}

impl AttnShape {
    fn group(&self) -> usize {
        self.n_head / self.n_head_kv
    }

    /// The first position a query at `pos` sees.
    fn first_visible(&self, pos: usize) -> usize {
        match self.window {
            Some(w) => (pos + 1).saturating_sub(w),
            None => 0,
        }
    }
}

/// Buffers of attention, allocated with the session.
pub struct AttnBuffers {
    /// (n_head_kv, t, group, q_row) the queries in the key type's `vec_dot_type` (4-byte
    /// aligned storage).
    q_acts: Vec<u32>,
    /// (n_head, max_blocks, 2 + head_dim_v) decode partials: m, l, acc.
    partials: Vec<f32>,
    /// (n_threads, per_thread) each thread's scores, block partials (weighted sums and
    /// (m, l)) and, in a prefill, the running (m, l): `BLOCK + head_dim_v + 4` floats a query.
    thread: Vec<f32>,
    max_blocks: usize,
    per_thread: usize,
}

impl AttnBuffers {
    /// Buffers for batches of up to `max_batch` tokens, caches of up to `max_capacity`
    /// positions and `n_threads` threads.
    pub fn new(
        s: &AttnShape,
        ty: KvType,
        max_batch: usize,
        max_capacity: usize,
        n_threads: usize,
    ) -> Result<AttnBuffers, ModelError> {
        let q_row = q_row_bytes(s, ty)?;
        let acts = max_batch.clamp(1, TOKENS_PER_CHUNK) * s.group();
        let max_blocks = max_capacity.div_ceil(BLOCK) + 1;
        let per_thread = acts * (BLOCK + s.head_dim_v + 4);
        Ok(AttnBuffers {
            q_acts: vec![0; (max_batch * s.n_head * q_row).div_ceil(4)],
            partials: vec![0.0; s.n_head * max_blocks * (2 + s.head_dim_v)],
            thread: vec![0.0; n_threads * per_thread],
            max_blocks,
            per_thread,
        })
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        (self.q_acts.capacity() + self.partials.capacity() + self.thread.capacity()) * 4
    }
}

/// Bytes of one query row converted for keys of type `ty`.
fn q_row_bytes(s: &AttnShape, ty: KvType) -> Result<usize, ModelError> {
    let vdt = ty.ggml_type().vec_dot_type();
    vdt.row_bytes(s.head_dim as u64)
        .map(|b| b as usize)
        .ok_or_else(|| ModelError::Unsupported(format!("{vdt} queries of {} elements", s.head_dim)))
}

/// For queries `q` (t, n_head·head_dim) at positions `pos0..pos0+t`, attends over the cached
/// keys and values (already holding those positions) and writes `out` (t, n_head·head_dim_v).
#[allow(clippy::too_many_arguments)]
pub fn attend(
    pool: &mut WorkerPool,
    q: &[f32],
    t: usize,
    pos0: usize,
    cache: &LayerCache,
    s: &AttnShape,
    buf: &mut AttnBuffers,
    out: &mut [f32],
) -> Result<(), ModelError> {
    let ty = cache.kv_type();
    let q_row = q_row_bytes(s, ty)?;
    let group = s.group();
    let vdt = ty.ggml_type().vec_dot_type();
    // Queries, grouped by KV head so that the queries of one group and token range are
    // contiguous activation rows.
    let q_acts: &mut [u8] = bytemuck::cast_slice_mut(&mut buf.q_acts);
    for ti in 0..t {
        for h in 0..s.n_head {
            let (hk, g) = (h / group, h % group);
            let at = ((hk * t + ti) * group + g) * q_row;
            let src = &q[(ti * s.n_head + h) * s.head_dim..][..s.head_dim];
            ops::quantize_row(vdt, src, &mut q_acts[at..at + q_row])?;
        }
    }
    let q_acts: &[u8] = q_acts;
    let per = buf.per_thread;
    let thread = DisjointSlice::new(&mut buf.thread);
    if t == 1 {
        let first = s.first_visible(pos0);
        let b0 = first / BLOCK;
        let n_blocks = pos0 / BLOCK - b0 + 1;
        debug_assert!(n_blocks <= buf.max_blocks);
        let part_len = 2 + s.head_dim_v;
        let stride = buf.max_blocks * part_len;
        let partials = DisjointSlice::new(&mut buf.partials);
        pool.run(s.n_head_kv * n_blocks, &|c, th| {
            let (hk, bi) = (c / n_blocks, c % n_blocks);
            // SAFETY: thread `th`'s scratch is its own while it runs this chunk.
            let scratch = unsafe { thread.range(th * per..(th + 1) * per) };
            let qa = &q_acts[hk * group * q_row..][..group * q_row];
            let mut sink = |g: usize, m: f32, l: f32, acc: &[f32]| {
                let at = (hk * group + g) * stride + bi * part_len;
                // SAFETY: (head, block) partials are written by this chunk only.
                let p = unsafe { partials.range(at..at + part_len) };
                p[0] = m;
                p[1] = l;
                p[2..].copy_from_slice(acc);
            };
            block_partials(cache, s, hk, b0 + bi, pos0, 0..1, qa, scratch, &mut sink)
        })?;
        let partials = &buf.partials;
        for h in 0..s.n_head {
            let o = &mut out[h * s.head_dim_v..][..s.head_dim_v];
            let (mut m, mut l) = (f32::NEG_INFINITY, 0.0f32);
            o.fill(0.0);
            // Every block from the first visible position's to the query's own holds a visible
            // position, so every one of them wrote its partial.
            for bi in 0..n_blocks {
                let p = &partials[h * stride + bi * part_len..][..part_len];
                merge(&mut m, &mut l, o, p[0], p[1], &p[2..]);
            }
            finish(o, l);
        }
        return Ok(());
    }

    let groups = t.div_ceil(TOKENS_PER_CHUNK);
    let out = DisjointSlice::new(out);
    let chunks = s.n_head_kv * groups;
    debug_assert!(chunks <= MAX_CHUNKS);
    pool.run(chunks, &|c, th| {
        let (hk, tg) = (c / groups, c % groups);
        let toks = tg * TOKENS_PER_CHUNK..(t.min((tg + 1) * TOKENS_PER_CHUNK));
        let n_act = toks.len() * group;
        // SAFETY: thread `th`'s scratch is its own while it runs this chunk.
        let scratch = unsafe { thread.range(th * per..(th + 1) * per) };
        let (state, scratch) = scratch.split_at_mut(2 * n_act);
        let (ms, ls) = state.split_at_mut(n_act);
        ms.fill(f32::NEG_INFINITY);
        ls.fill(0.0);
        let slot = |a: usize| {
            let (ti, g) = (toks.start + a / group, a % group);
            let at = (ti * s.n_head + hk * group + g) * s.head_dim_v;
            // SAFETY: the (token, head) outputs of this KV head and token group are this
            // chunk's alone.
            unsafe { out.range(at..at + s.head_dim_v) }
        };
        for a in 0..n_act {
            slot(a).fill(0.0);
        }
        let qa = &q_acts[(hk * t + toks.start) * group * q_row..][..n_act * q_row];
        let first = s.first_visible(pos0 + toks.start) / BLOCK;
        let last = (pos0 + toks.end - 1) / BLOCK;
        for b in first..=last {
            let mut sink = |a: usize, mb: f32, lb: f32, acc: &[f32]| {
                merge(&mut ms[a], &mut ls[a], slot(a), mb, lb, acc);
            };
            block_partials(cache, s, hk, b, pos0, toks.clone(), qa, scratch, &mut sink)?;
        }
        for (a, &l) in ls.iter().enumerate() {
            finish(slot(a), l);
        }
        Ok(())
    })
}

/// Receives one query's block partial: `(query, m, l, acc)`.
type PartialSink<'a> = dyn FnMut(usize, f32, f32, &[f32]) + 'a;

/// The partials of KV head `hk` over key block `b` for the queries of tokens `toks` (batch
/// indices; token `i` at position `pos0 + i`) and every head of the group: `sink(a, m, l, acc)`
/// for each query `a = (token - toks.start)·group + g` that sees a position of the block.
#[allow(clippy::too_many_arguments)]
fn block_partials(
    cache: &LayerCache,
    s: &AttnShape,
    hk: usize,
    b: usize,
    pos0: usize,
    toks: std::ops::Range<usize>,
    q_acts: &[u8],
    scratch: &mut [f32],
    sink: &mut PartialSink<'_>,
) -> Result<(), ModelError> {
    let group = s.group();
    let n_act = toks.len() * group;
    let start = b * BLOCK;
    let end = ((b + 1) * BLOCK).min(pos0 + toks.end);
    let n_pos = end - start;
    let ty = cache.kv_type();
    let hdv = s.head_dim_v;
    let (scores, rest) = scratch.split_at_mut(n_act * BLOCK);
    let scores = &mut scores[..n_act * n_pos];
    let (acc, rest) = rest.split_at_mut(n_act * hdv);
    // Each query's (m, l).
    let ml = &mut rest[..2 * n_act];
    ops::gemm(
        ty.ggml_type(),
        s.head_dim,
        cache.keys(hk, start, end),
        q_acts,
        n_act,
        scores,
    )?;
    // The positions of the block a token sees.
    let seen = |ti: usize| {
        let pos = pos0 + toks.start + ti;
        (s.first_visible(pos).max(start), (pos + 1).min(end))
    };
    // Tokens that see the same positions (all of them, in a block before the batch's first
    // token; one at a time on the diagonal) share one pass over the value rows for all their
    // heads: their score rows are consecutive.
    let mut t0 = 0;
    while t0 < toks.len() {
        let (lo, hi) = seen(t0);
        let mut t1 = t0 + 1;
        while t1 < toks.len() && seen(t1) == (lo, hi) {
            t1 += 1;
        }
        if lo < hi {
            let n_q = (t1 - t0) * group;
            let rows = &mut scores[t0 * group * n_pos..t1 * group * n_pos];
            for (k, row) in rows.chunks_exact_mut(n_pos).enumerate() {
                let w = &mut row[lo - start..hi - start];
                (ml[2 * k], ml[2 * k + 1]) = kernels::softmax_block(w, s.scale);
            }
            let acc = &mut acc[..n_q * hdv];
            acc.fill(0.0);
            kernels::weighted_sums(
                ty,
                cache.values(hk, lo, hi),
                &rows[lo - start..],
                n_pos,
                acc,
                hdv,
            )?;
            for (k, a) in acc.chunks_exact(hdv).enumerate() {
                sink(t0 * group + k, ml[2 * k], ml[2 * k + 1], a);
            }
        }
        t0 = t1;
    }
    Ok(())
}

/// Merges the partial `(mb, lb, accb)` of one block into the running `(m, l, acc)` (the online
/// softmax); the first merge into the empty state `(−∞, 0, 0)` copies the partial exactly.
fn merge(m: &mut f32, l: &mut f32, acc: &mut [f32], mb: f32, lb: f32, accb: &[f32]) {
    let m_new = if mb > *m { mb } else { *m };
    let a = (*m - m_new).exp();
    let b = (mb - m_new).exp();
    *l = *l * a + lb * b;
    for (x, &y) in acc.iter_mut().zip(accb) {
        *x = *x * a + y * b;
    }
    *m = m_new;
}

/// Divides the accumulated values by the softmax sum.
fn finish(acc: &mut [f32], l: f32) {
    let inv = 1.0 / l;
    acc.iter_mut().for_each(|a| *a *= inv);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv_cache::{KvCache, KvCacheType, KvShape};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Straightforward causal attention in f64 over exactly the rows the cache holds
    /// (dequantized).
    fn naive(q: &[f32], t: usize, pos0: usize, cache: &LayerCache, s: &AttnShape) -> Vec<f64> {
        let g = cache.kv_type().ggml_type();
        let mut out = vec![0.0f64; t * s.n_head * s.head_dim_v];
        let mut k = vec![0.0f32; s.head_dim];
        let mut v = vec![0.0f32; s.head_dim_v];
        for ti in 0..t {
            let pos = pos0 + ti;
            for h in 0..s.n_head {
                let hk = h / s.group();
                let qh = &q[(ti * s.n_head + h) * s.head_dim..][..s.head_dim];
                let first = s.first_visible(pos);
                let scores: Vec<f64> = (first..=pos)
                    .map(|p| {
                        ops::dequantize_row(g, cache.keys(hk, p, p + 1), &mut k).unwrap();
                        qh.iter()
                            .zip(&k)
                            .map(|(a, b)| *a as f64 * *b as f64)
                            .sum::<f64>()
                            * s.scale as f64
                    })
                    .collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let w: Vec<f64> = scores.iter().map(|x| (x - m).exp()).collect();
                let sum: f64 = w.iter().sum();
                let o = &mut out[(ti * s.n_head + h) * s.head_dim_v..][..s.head_dim_v];
                for (p, wp) in (first..=pos).zip(&w) {
                    ops::dequantize_row(g, cache.values(hk, p, p + 1), &mut v).unwrap();
                    for (o, x) in o.iter_mut().zip(&v) {
                        *o += wp / sum * *x as f64;
                    }
                }
            }
        }
        out
    }

    fn shape(window: Option<usize>) -> AttnShape {
        AttnShape {
            n_head: 6,
            n_head_kv: 2,
            head_dim: 64,
            head_dim_v: 64,
            scale: 0.125,
            window,
        }
    }

    /// Fills a cache with `n` random positions; returns it with random queries for them.
    fn filled(
        ty: KvCacheType,
        s: &AttnShape,
        n: usize,
        max_batch: usize,
        rng: &mut ChaCha8Rng,
    ) -> (KvCache, Vec<f32>) {
        let kv_shape = KvShape {
            n_head_kv: s.n_head_kv,
            head_dim: s.head_dim,
            head_dim_v: s.head_dim_v,
        };
        let mut c = KvCache::new(kv_shape, [s.window], 1024, max_batch, ty).unwrap();
        for pos in 0..n {
            let k: Vec<f32> = (0..128).map(|_| rng.random_range(-2.0..2.0)).collect();
            let v: Vec<f32> = (0..128).map(|_| rng.random_range(-2.0..2.0)).collect();
            c.layers[0].store(pos, &k, &v).unwrap();
        }
        let q = (0..n * s.n_head * s.head_dim)
            .map(|_| rng.random_range(-2.0..2.0))
            .collect();
        (c, q)
    }

    fn run(
        threads: usize,
        q: &[f32],
        t: usize,
        pos0: usize,
        cache: &LayerCache,
        s: &AttnShape,
        max_batch: usize,
    ) -> Vec<f32> {
        let mut pool = WorkerPool::new(threads).unwrap();
        let mut buf =
            AttnBuffers::new(s, cache.kv_type(), max_batch, cache.capacity(), threads).unwrap();
        let mut out = vec![f32::NAN; t * s.n_head * s.head_dim_v];
        let qs = &q[pos0 * s.n_head * s.head_dim..][..t * s.n_head * s.head_dim];
        attend(&mut pool, qs, t, pos0, cache, s, &mut buf, &mut out).unwrap();
        out
    }

    #[test]
    fn blocked_attention_matches_the_naive_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for ty in KvCacheType::ALL {
            for window in [None, Some(100)] {
                let s = shape(window);
                let n = 300;
                let (c, q) = filled(ty, &s, n, 64, &mut rng);
                let cache = &c.layers[0];
                // The last 40 positions as one batch, and the last one decoded.
                for (t, pos0) in [(40, n - 40), (1, n - 1), (3, 0)] {
                    let got = run(2, &q, t, pos0, cache, &s, 64);
                    let qs = &q[pos0 * s.n_head * s.head_dim..][..t * s.n_head * s.head_dim];
                    let want = naive(qs, t, pos0, cache, &s);
                    // The queries are converted like the keys: F16 and Q8_0 queries round.
                    let tol = match ty {
                        KvCacheType::F32 => 1e-5,
                        KvCacheType::F16 => 2e-3,
                        KvCacheType::Q8_0 => 3e-2,
                    };
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (*g as f64 - w).abs() <= tol * (1.0 + w.abs()),
                            "{ty:?} {window:?} t {t}: element {i}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_threads_or_on_the_batch_split() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for ty in KvCacheType::ALL {
            for window in [None, Some(150)] {
                let s = shape(window);
                let n = 400;
                let (c, q) = filled(ty, &s, n, 64, &mut rng);
                let cache = &c.layers[0];
                let whole = run(1, &q, 37, n - 37, cache, &s, 64);
                assert_eq!(
                    whole,
                    run(3, &q, 37, n - 37, cache, &s, 64),
                    "{ty:?} threads"
                );
                // Token by token, as decoding would: the same bits.
                let row = s.n_head * s.head_dim_v;
                for i in 0..37 {
                    let one = run(2, &q, 1, n - 37 + i, cache, &s, 64);
                    assert_eq!(one, whole[i * row..(i + 1) * row], "{ty:?} token {i}");
                }
            }
        }
    }
}
