//! The key/value cache: per layer, the rotated keys and the values of every position the layer
//! can still attend to, as F32, F16 or Q8_0 rows ([`KvCacheType`]). Allocated once when a
//! session is created (zeroed lazily by the OS: pages never written stay out of the resident
//! set).
//!
//! Full-attention layers hold the whole context; sliding-window layers hold only
//! `window + batch - 1` positions (a ring), enough for the oldest query of a prefill batch.
//! Capacities are whole numbers of [`BLOCK`]s, so the rows of one block of positions never wrap.
//! Rows are stored per KV head, (n_head_kv, capacity, row), so that a block of one head's keys
//! is a contiguous run of rows the kernels take as they are.
//!
//! A session may be rewound to an earlier position and go on from there (a new prompt that
//! shares a prefix with what the cache holds). Positions past the rewind point are simply
//! overwritten; but in a ring, later positions may already have overwritten keys that the
//! rewound position must attend to, so every layer tracks the oldest position it still holds
//! and [`KvCache::can_resume_at`] says whether a rewind is possible.

use retort_kernels::ops;

pub use retort_kernels::attention::KvType as KvCacheType;

use crate::model::ModelError;

/// Positions per block: attention reads the cache block by block.
pub const BLOCK: usize = 128;

/// What one layer's cache holds per position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvShape {
    /// Key/value heads.
    pub n_head_kv: usize,
    /// Elements of a key head.
    pub head_dim: usize,
    /// Elements of a value head.
    pub head_dim_v: usize,
}

/// One layer's cache: keys (n_head_kv, cap, k_row bytes) and values (n_head_kv, cap, v_row
/// bytes), position `p` in slot `p % cap`.
pub struct LayerCache {
    /// Key rows (4-byte aligned storage).
    k: Vec<u32>,
    /// Value rows (4-byte aligned storage).
    v: Vec<u32>,
    cap: usize,
    /// The oldest position whose keys and values are still in the ring (0 when the layer holds
    /// the whole context): writing position `p` overwrites position `p - cap`.
    oldest: usize,
    /// Keys from this far back are attended to: `Some(w)` for a sliding window of `w`.
    window: Option<usize>,
    ty: KvCacheType,
    shape: KvShape,
    k_row: usize,
    v_row: usize,
}

/// Bytes of a row of `n` elements as `ty`.
fn row_bytes(ty: KvCacheType, n: usize) -> Option<usize> {
    ty.ggml_type().row_bytes(n as u64).map(|b| b as usize)
}

impl LayerCache {
    fn new(
        cap: usize,
        window: Option<usize>,
        shape: KvShape,
        ty: KvCacheType,
    ) -> Result<LayerCache, ModelError> {
        let (k_row, v_row) = match (
            row_bytes(ty, shape.head_dim),
            row_bytes(ty, shape.head_dim_v),
        ) {
            (Some(k), Some(v)) => (k, v),
            _ => {
                return Err(ModelError::BadParam(format!(
                    "a {} KV cache needs head dimensions that are multiples of {}; this model's \
                     are {} (keys) and {} (values)",
                    ty.name(),
                    ty.ggml_type().block_size(),
                    shape.head_dim,
                    shape.head_dim_v
                )))
            }
        };
        let words = |row: usize| {
            (shape.n_head_kv * cap)
                .checked_mul(row)
                .map(|b| b.div_ceil(4))
                .ok_or_else(|| ModelError::BadParam(format!("a KV cache of {cap} positions")))
        };
        Ok(LayerCache {
            k: vec![0; words(k_row)?],
            v: vec![0; words(v_row)?],
            cap,
            oldest: 0,
            window,
            ty,
            shape,
            k_row,
            v_row,
        })
    }

    /// Positions this layer can hold at once (a whole number of blocks).
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// The element type of the rows.
    pub fn kv_type(&self) -> KvCacheType {
        self.ty
    }

    /// Stores the keys and values (all KV heads, f32) of position `pos`, converted to the
    /// cache's type.
    pub fn store(&mut self, pos: usize, k: &[f32], v: &[f32]) -> Result<(), ModelError> {
        let slot = pos % self.cap;
        let g = self.ty.ggml_type();
        let (hd, hdv) = (self.shape.head_dim, self.shape.head_dim_v);
        let kb: &mut [u8] = bytemuck::cast_slice_mut(&mut self.k);
        for (h, src) in k.chunks_exact(hd).enumerate() {
            let at = (h * self.cap + slot) * self.k_row;
            ops::quantize_row(g, src, &mut kb[at..at + self.k_row])?;
        }
        let vb: &mut [u8] = bytemuck::cast_slice_mut(&mut self.v);
        for (h, src) in v.chunks_exact(hdv).enumerate() {
            let at = (h * self.cap + slot) * self.v_row;
            ops::quantize_row(g, src, &mut vb[at..at + self.v_row])?;
        }
        self.oldest = self.oldest.max((pos + 1).saturating_sub(self.cap));
        Ok(())
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

    /// The key rows of head `h` for positions `p0..p1`, which must lie in one block (and still
    /// be held).
    #[inline]
    pub fn keys(&self, h: usize, p0: usize, p1: usize) -> &[u8] {
        let (s0, n) = self.slots(p0, p1);
        let bytes: &[u8] = bytemuck::cast_slice(&self.k);
        &bytes[(h * self.cap + s0) * self.k_row..][..n * self.k_row]
    }

    /// The value rows of head `h` for positions `p0..p1` (as [`LayerCache::keys`]).
    #[inline]
    pub fn values(&self, h: usize, p0: usize, p1: usize) -> &[u8] {
        let (s0, n) = self.slots(p0, p1);
        let bytes: &[u8] = bytemuck::cast_slice(&self.v);
        &bytes[(h * self.cap + s0) * self.v_row..][..n * self.v_row]
    }

    fn slots(&self, p0: usize, p1: usize) -> (usize, usize) {
        debug_assert!(p0 <= p1 && p0 / BLOCK == (p1 - 1).max(p0) / BLOCK);
        (p0 % self.cap, p1 - p0)
    }

    fn bytes(&self) -> usize {
        (self.k.len() + self.v.len()) * 4
    }
}

/// The cache of every layer.
pub struct KvCache {
    /// One per layer.
    pub layers: Vec<LayerCache>,
}

impl KvCache {
    /// A cache of type `ty` for `n_ctx` positions and prefill batches of up to `max_batch`
    /// tokens; `windows` holds each layer's sliding window (`None`: the layer sees the whole
    /// context).
    pub fn new(
        shape: KvShape,
        windows: impl IntoIterator<Item = Option<usize>>,
        n_ctx: usize,
        max_batch: usize,
        ty: KvCacheType,
    ) -> Result<KvCache, ModelError> {
        let layers = windows
            .into_iter()
            .map(|w| {
                let held = match w {
                    Some(w) => n_ctx.min(w + max_batch - 1),
                    None => n_ctx,
                };
                LayerCache::new(held.div_ceil(BLOCK) * BLOCK, w, shape, ty)
            })
            .collect::<Result<_, _>>()?;
        Ok(KvCache { layers })
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

    /// The largest capacity of any layer.
    pub fn max_capacity(&self) -> usize {
        self.layers.iter().map(|l| l.cap).max().unwrap_or(0)
    }

    /// Bytes held (allocated; pages never written are not resident).
    pub fn bytes(&self) -> usize {
        self.layers.iter().map(LayerCache::bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: KvShape = KvShape {
        n_head_kv: 2,
        head_dim: 64,
        head_dim_v: 64,
    };

    #[test]
    fn rows_come_back_per_head_and_block() {
        for ty in KvCacheType::ALL {
            let mut c = KvCache::new(SHAPE, [None, Some(8)], 300, 4, ty).unwrap();
            assert_eq!(c.layers[0].capacity(), 384, "whole blocks");
            assert_eq!(
                c.layers[1].capacity(),
                128,
                "window + batch - 1, in whole blocks"
            );
            for pos in 0..300 {
                let k: Vec<f32> = (0..128).map(|i| (pos * 1000 + i) as f32 / 4096.0).collect();
                let v: Vec<f32> = k.iter().map(|x| -x).collect();
                for l in &mut c.layers {
                    l.store(pos, &k, &v).unwrap();
                }
            }
            let g = ty.ggml_type();
            let mut row = vec![0.0f32; 64];
            let l = &c.layers[0];
            let keys = l.keys(1, 130, 133);
            assert_eq!(keys.len(), 3 * g.row_bytes(64).unwrap() as usize);
            ops::dequantize_row(g, &keys[..keys.len() / 3], &mut row).unwrap();
            let want = (130 * 1000 + 64) as f32 / 4096.0;
            assert!(
                (row[0] - want).abs() <= want * 0.01,
                "{ty:?}: {} vs {want}",
                row[0]
            );
            // The ring layer holds the latest positions in their slots.
            let vals = c.layers[1].values(0, 290, 291);
            ops::dequantize_row(g, vals, &mut row).unwrap();
            let want = -(290 * 1000) as f32 / 4096.0;
            assert!(
                (row[0] - want).abs() <= want.abs() * 0.01,
                "{ty:?}: {} vs {want}",
                row[0]
            );
        }
    }

    #[test]
    fn q8_0_needs_whole_blocks_per_head() {
        let odd = KvShape {
            n_head_kv: 1,
            head_dim: 48,
            head_dim_v: 48,
        };
        let err = KvCache::new(odd, [None], 16, 4, KvCacheType::Q8_0)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("q8_0") && err.contains("48"), "{err}");
        assert!(KvCache::new(odd, [None], 16, 4, KvCacheType::F16).is_ok());
    }
}
