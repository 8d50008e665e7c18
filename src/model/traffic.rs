//! What one decode step reads from memory: every layer's weights, the output head, one
//! embedding row and the keys and values the step attends to. Decode streams these bytes once
//! per token and keeps little of them in cache (the weights of the models here are 100–400 MB,
//! the caches tens of MB), so bytes × tokens/s is the memory bandwidth a decode achieves, and
//! the machine's streaming bandwidth ÷ these bytes the fastest it could go (the roofline
//! `retort bench` reports).

use super::{Matrix, Model, ModelError, Vector};
use crate::kv_cache::KvCacheType;

impl Model {
    /// Bytes a decode step at position `pos` (the position of the token it feeds; `pos`
    /// positions already in the context) reads with a KV cache of type `kv`: the quantized
    /// weights as the file stores them (an interleaved copy holds the same bytes), the norm
    /// and bias vectors, one row of the token embedding (the whole table too when it is the
    /// output head) and, per layer, the key and value rows of every position it attends to
    /// (the sliding window's, for a windowed layer).
    pub fn decode_step_bytes(&self, pos: usize, kv: KvCacheType) -> Result<u64, ModelError> {
        let w = &self.weights;
        let h = &self.hparams;
        let kv_row = |n: usize| {
            kv.ggml_type().row_bytes(n as u64).ok_or_else(|| {
                ModelError::Unsupported(format!("{} cache rows of {n} elements", kv.name()))
            })
        };
        let per_position = h.n_head_kv as u64 * (kv_row(h.head_dim)? + kv_row(h.head_dim_v)?);
        let mut bytes = matrix(&w.output) + vector(&w.output_norm);
        bytes += (w.token_embd.bytes / w.token_embd.rows.max(1)) as u64;
        for (layer, attn) in w.layers.iter().zip(&self.spec.layers) {
            bytes += layer.matrices().into_iter().map(matrix).sum::<u64>();
            bytes += [
                Some(&layer.attn_norm),
                layer.bq.as_ref(),
                layer.bk.as_ref(),
                layer.bv.as_ref(),
                layer.q_norm.as_ref(),
                layer.k_norm.as_ref(),
                layer.post_attn_norm.as_ref(),
                Some(&layer.ffn_norm),
                layer.post_ffn_norm.as_ref(),
            ]
            .into_iter()
            .flatten()
            .map(vector)
            .sum::<u64>();
            let seen = attn.sliding_window.map_or(pos + 1, |win| win.min(pos + 1));
            bytes += per_position * seen as u64;
        }
        Ok(bytes)
    }
}

fn matrix(m: &Matrix) -> u64 {
    m.bytes as u64
}

fn vector(v: &Vector) -> u64 {
    4 * v.len as u64
}
