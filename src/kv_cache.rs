//! The key/value cache: per layer, the rotated keys and the values of every position the layer
//! can still attend to. Allocated once when a session is created.
//!
//! Full-attention layers hold the whole context; sliding-window layers hold only
//! `window + batch - 1` positions (a ring), enough for the oldest query of a prefill batch.
//!
//! A session may be rewound to an earlier position and go on from there (a new prompt that
//! shares a prefix with what the cache holds). Positions past the rewind point are simply
//! overwritten; but in a ring, later positions may already have overwritten keys that the
//! rewound position must attend to, so every layer tracks the oldest position it still holds
//! and [`KvCache::can_resume_at`] says whether a rewind is possible.

use crate::model::{HyperParams, LayerAttention};

/// One layer's cache: keys (cap, n_head_kv·head_dim) and values (cap, n_head_kv·head_dim_v),
/// position `p` stored in slot `p % cap`.
pub struct LayerCache {
    k: Vec<f32>,
    v: Vec<f32>,
    cap: usize,
    /// The oldest position whose keys and values are still in the ring (0 when the layer holds
    /// the whole context): writing position `p` overwrites position `p - cap`.
    oldest: usize,
    /// Keys from this far back are attended to: `Some(w)` for a sliding window of `w`.
    window: Option<usize>,
    head_dim: usize,
    head_dim_v: usize,
    n_head_kv: usize,
}

impl LayerCache {
    fn new(cap: usize, window: Option<usize>, hp: &HyperParams) -> LayerCache {
        LayerCache {
            k: vec![0.0; cap * hp.n_head_kv * hp.head_dim],
            v: vec![0.0; cap * hp.n_head_kv * hp.head_dim_v],
            cap,
            oldest: 0,
            window,
            head_dim: hp.head_dim,
            head_dim_v: hp.head_dim_v,
            n_head_kv: hp.n_head_kv,
        }
    }

    /// Positions this layer can hold at once.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Stores the keys and values (all KV heads) of position `pos`.
    pub fn store(&mut self, pos: usize, k: &[f32], v: &[f32]) {
        let slot = pos % self.cap;
        let kd = self.n_head_kv * self.head_dim;
        let vd = self.n_head_kv * self.head_dim_v;
        self.k[slot * kd..][..kd].copy_from_slice(k);
        self.v[slot * vd..][..vd].copy_from_slice(v);
        self.oldest = self.oldest.max((pos + 1).saturating_sub(self.cap));
    }

    /// True when the positions a query at `pos` attends to (its window, before `pos` itself)
    /// are all still held.
    fn can_resume_at(&self, pos: usize) -> bool {
        let first_needed = match self.window {
            Some(w) => (pos + 1).saturating_sub(w),
            None => 0,
        };
        // Nothing before `pos` is needed when the window starts at `pos` itself.
        first_needed >= pos || self.oldest <= first_needed
    }

    /// The key of KV head `h` at position `pos` (which must still be held).
    #[inline]
    pub fn key(&self, pos: usize, h: usize) -> &[f32] {
        let slot = pos % self.cap;
        &self.k[(slot * self.n_head_kv + h) * self.head_dim..][..self.head_dim]
    }

    /// The value of KV head `h` at position `pos`.
    #[inline]
    pub fn value(&self, pos: usize, h: usize) -> &[f32] {
        let slot = pos % self.cap;
        &self.v[(slot * self.n_head_kv + h) * self.head_dim_v..][..self.head_dim_v]
    }
}

/// The cache of every layer.
pub struct KvCache {
    /// One per layer.
    pub layers: Vec<LayerCache>,
}

impl KvCache {
    /// A cache for `n_ctx` positions and prefill batches of up to `max_batch` tokens.
    pub fn new(
        hp: &HyperParams,
        layers: &[LayerAttention],
        n_ctx: usize,
        max_batch: usize,
    ) -> KvCache {
        KvCache {
            layers: layers
                .iter()
                .map(|l| {
                    let cap = match l.sliding_window {
                        Some(w) => n_ctx.min(w + max_batch - 1),
                        None => n_ctx,
                    };
                    LayerCache::new(cap, l.sliding_window, hp)
                })
                .collect(),
        }
    }

    /// True when a session holding positions `0..end` (with `pos <= end`) can be rewound to
    /// `pos` and go on from there: every layer still holds the keys and values the query at
    /// `pos` attends to. False when a sliding-window ring has already overwritten some of them.
    pub fn can_resume_at(&self, pos: usize) -> bool {
        self.layers.iter().all(|l| l.can_resume_at(pos))
    }

    /// Forgets every position (the buffers are kept).
    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(|l| l.oldest = 0);
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|l| (l.k.len() + l.v.len()) * std::mem::size_of::<f32>())
            .sum()
    }
}
