//! Causal grouped-query attention over the KV cache, one pass per query with an online softmax
//! (no score buffer: the output slot is the accumulator).

use rayon::prelude::*;

use crate::kv_cache::LayerCache;

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
/// keys and values (already holding those positions) and writes `out` (t, n_head·head_dim_v).
pub fn attend(q: &[f32], pos0: usize, cache: &LayerCache, s: &AttnShape, out: &mut [f32]) {
    let group = s.n_head / s.n_head_kv;
    let q_stride = s.n_head * s.head_dim;
    out.par_chunks_mut(s.head_dim_v)
        .enumerate()
        .for_each(|(idx, acc)| {
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
        });
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
