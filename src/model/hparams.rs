//! Hyper-parameters read from GGUF metadata — never hard-coded per model.

use crate::gguf::{GgufError, Metadata};

/// The shape of a decoder-only transformer, from `{arch}.*` metadata keys.
#[derive(Clone, Debug, PartialEq)]
pub struct HyperParams {
    /// `general.architecture`.
    pub arch: String,
    /// Vocabulary size (rows of `token_embd`).
    pub n_vocab: usize,
    /// Training context length.
    pub n_ctx_train: usize,
    /// Model width.
    pub n_embd: usize,
    /// Number of transformer blocks.
    pub n_layer: usize,
    /// FFN hidden width.
    pub n_ff: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads (grouped-query attention when fewer than `n_head`).
    pub n_head_kv: usize,
    /// Dimension of each query/key head.
    pub head_dim: usize,
    /// Dimension of each value head.
    pub head_dim_v: usize,
    /// Rotary dimensions per head (`<= head_dim`).
    pub n_rot: usize,
    /// RMSNorm epsilon.
    pub norm_eps: f32,
    /// Rotary base (global layers).
    pub rope_base: f32,
}

impl HyperParams {
    /// Reads the hyper-parameters of architecture `general.architecture`; `n_vocab` comes from
    /// the caller (the embedding's row count), since not every file stores `vocab_size`.
    pub fn from_metadata(md: &Metadata, n_vocab: usize) -> Result<HyperParams, GgufError> {
        let arch = md.get_str("general.architecture")?.to_owned();
        let key = |k: &str| format!("{arch}.{k}");
        let n_embd = md.get_u32(&key("embedding_length"))? as usize;
        let n_head = md.get_u32(&key("attention.head_count"))? as usize;
        if n_head == 0 || n_embd == 0 {
            return Err(GgufError::WrongType {
                key: key("attention.head_count"),
                expected: "a non-zero head count and width",
                found: format!("{n_head} heads, width {n_embd}"),
            });
        }
        let n_head_kv = md
            .opt(&key("attention.head_count_kv"), Metadata::get_u32)?
            .map_or(n_head, |v| v as usize);
        let head_dim = md
            .opt(&key("attention.key_length"), Metadata::get_u32)?
            .map_or(n_embd / n_head, |v| v as usize);
        let head_dim_v = md
            .opt(&key("attention.value_length"), Metadata::get_u32)?
            .map_or(head_dim, |v| v as usize);
        let n_rot = md
            .opt(&key("rope.dimension_count"), Metadata::get_u32)?
            .map_or(head_dim, |v| v as usize);
        Ok(HyperParams {
            n_vocab,
            n_ctx_train: md.get_u32(&key("context_length"))? as usize,
            n_embd,
            n_layer: md.get_u32(&key("block_count"))? as usize,
            n_ff: md.get_u32(&key("feed_forward_length"))? as usize,
            n_head,
            n_head_kv,
            head_dim,
            head_dim_v,
            n_rot,
            norm_eps: md.get_f32(&key("attention.layer_norm_rms_epsilon"))?,
            rope_base: md
                .opt(&key("rope.freq_base"), Metadata::get_f32)?
                .unwrap_or(10_000.0),
            arch,
        })
    }
}
