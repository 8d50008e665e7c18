//! Causal grouped-query attention over the KV cache, one pass per query with an online softmax
//! (no score buffer: the output slot is the accumulator).

use crate::kv_cache::LayerCache;
use crate::worker_pool::DisjointSlice;

/// Geometry of one attention call.
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

/// For queries `q` (t, n_head·head_dim) at positions `pos0..pos0+t`, attends over the cached
/// keys and values (already holding those positions) and writes the items `items` of `out`
/// (t, n_head·head_dim_v), item `i` being head `i % n_head` of token `i / n_head`.
///
/// # Safety
/// No other thread writes the same items of `out` at the same time.
pub unsafe fn attend_items(
    q: &[f32],
    pos0: usize,
    cache: &LayerCache,
    s: &AttnShape,
    out: &DisjointSlice<'_, f32>,
    items: std::ops::Range<usize>,
) {
    let group = s.n_head / s.n_head_kv;
    let q_stride = s.n_head * s.head_dim;
    for idx in items {
        // SAFETY: item `idx` is this caller's alone (the function's contract).
        let acc = unsafe { out.range(idx * s.head_dim_v..(idx + 1) * s.head_dim_v) };
        let (ti, h) = (idx / s.n_head, idx % s.n_head);
        let pos = pos0 + ti;
        let qh = &q[ti * q_stride + h * s.head_dim..][..s.head_dim];
        let kvh = h / group;
        let first = match s.window {
            Some(w) => (pos + 1).saturating_sub(w),
            None => 0,
        };
        acc.fill(0.0);
        let mut max = f32::NEG_INFINITY;
        let mut sum = 0.0f32;
        for p in first..=pos {
            let k = cache.key(p, kvh);
            let score = dot(qh, k) * s.scale;
            if score > max {
                let shrink = (max - score).exp();
                sum *= shrink;
                acc.iter_mut().for_each(|a| *a *= shrink);
                max = score;
            }
            let w = (score - max).exp();
            sum += w;
            for (a, &v) in acc.iter_mut().zip(cache.value(p, kvh)) {
                *a += w * v;
            }
        }
        let inv = 1.0 / sum;
        acc.iter_mut().for_each(|a| *a *= inv);
    }
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums let the compiler vectorise without fast-math.
    let mut s = [0.0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        for l in 0..8 {
            s[l] += a[c * 8 + l] * b[c * 8 + l];
        }
    }
    let mut tail = 0.0;
    for i in chunks * 8..a.len() {
        tail += a[i] * b[i];
    }
    s.iter().sum::<f32>() + tail
}
