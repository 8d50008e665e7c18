//! Typed weight views: where each tensor's data lies in the map, with its shape checked against
//! the hyper-parameters when the model is built. The bytes are borrowed from the [`GgufFile`] at
//! use, except for matrices repacked at load ([`super::packed`]), whose repacked copy replaces
//! the file's rows.

use std::sync::Arc;

use retort_kernels::GgmlType;

use super::error::ModelError;
use super::hparams::HyperParams;
use super::spec::ArchSpec;
use crate::gguf::{GgufFile, TensorInfo};

/// A weight matrix of `rows` output features × `cols` input features, each row stored
/// contiguously as `ty` (GGUF shape `[cols, rows]`).
#[derive(Clone, Debug)]
pub struct Matrix {
    /// Tensor name.
    pub name: String,
    /// Storage type.
    pub ty: GgmlType,
    /// Output features.
    pub rows: usize,
    /// Input features (the row length).
    pub cols: usize,
    /// Absolute byte range of the data in the file.
    pub offset: usize,
    /// Bytes of data.
    pub bytes: usize,
    /// The rows repacked into row-interleaved stripes, when the loader made them; the products
    /// then use these instead of the file's bytes.
    pub packed: Option<Arc<super::packed::PackedRows>>,
}

/// An F32 vector (norm weight or bias).
#[derive(Clone, Debug)]
pub struct Vector {
    /// Tensor name.
    pub name: String,
    /// Absolute byte offset of the data (4-byte aligned, checked).
    pub offset: usize,
    /// Elements.
    pub len: usize,
}

/// One transformer block's weights; optional ones exist only for some families.
#[derive(Clone, Debug)]
pub struct LayerWeights {
    /// (n_embd) pre-attention RMSNorm.
    pub attn_norm: Vector,
    /// (n_head·head_dim, n_embd)
    pub wq: Matrix,
    /// (n_head_kv·head_dim, n_embd)
    pub wk: Matrix,
    /// (n_head_kv·head_dim_v, n_embd)
    pub wv: Matrix,
    /// (n_head·head_dim) query bias (Qwen 2).
    pub bq: Option<Vector>,
    /// (n_head_kv·head_dim) key bias.
    pub bk: Option<Vector>,
    /// (n_head_kv·head_dim_v) value bias.
    pub bv: Option<Vector>,
    /// (head_dim) per-head query RMSNorm (QK-norm).
    pub q_norm: Option<Vector>,
    /// (head_dim) per-head key RMSNorm.
    pub k_norm: Option<Vector>,
    /// (n_embd, n_head·head_dim_v)
    pub wo: Matrix,
    /// (n_embd) norm of the attention output (Gemma).
    pub post_attn_norm: Option<Vector>,
    /// (n_embd) pre-FFN RMSNorm.
    pub ffn_norm: Vector,
    /// (n_ff, n_embd)
    pub w_gate: Matrix,
    /// (n_ff, n_embd)
    pub w_up: Matrix,
    /// (n_embd, n_ff)
    pub w_down: Matrix,
    /// (n_embd) norm of the FFN output (Gemma).
    pub post_ffn_norm: Option<Vector>,
}

impl LayerWeights {
    /// The seven matrices, in the order Q, K, V, O, gate, up, down.
    pub fn matrices(&self) -> [&Matrix; 7] {
        [
            &self.wq,
            &self.wk,
            &self.wv,
            &self.wo,
            &self.w_gate,
            &self.w_up,
            &self.w_down,
        ]
    }

    /// [`LayerWeights::matrices`], mutable.
    pub(crate) fn matrices_mut(&mut self) -> [&mut Matrix; 7] {
        [
            &mut self.wq,
            &mut self.wk,
            &mut self.wv,
            &mut self.wo,
            &mut self.w_gate,
            &mut self.w_up,
            &mut self.w_down,
        ]
    }
}

/// Every weight of the model.
#[derive(Clone, Debug)]
pub struct Weights {
    /// (n_vocab, n_embd) token embeddings.
    pub token_embd: Matrix,
    /// The blocks.
    pub layers: Vec<LayerWeights>,
    /// (n_embd) final RMSNorm.
    pub output_norm: Vector,
    /// (n_vocab, n_embd) output projection; `token_embd` when the model ties them.
    pub output: Matrix,
}

/// Looks tensors up by name and checks their shapes.
pub(crate) struct WeightLoader<'a> {
    pub file: &'a GgufFile,
}

impl WeightLoader<'_> {
    fn info(&self, name: &str) -> Result<&TensorInfo, ModelError> {
        Ok(self.file.require_tensor(name)?)
    }

    /// A matrix of `rows × cols` (`None` for a dimension read from the file).
    pub fn matrix(
        &self,
        name: &str,
        rows: Option<usize>,
        cols: usize,
    ) -> Result<Matrix, ModelError> {
        let t = self.info(name)?;
        let (file_cols, file_rows) = match t.shape.as_slice() {
            [c, r] => (*c as usize, *r as usize),
            _ => {
                return Err(ModelError::Shape {
                    tensor: name.to_owned(),
                    expected: format!("[{cols}, {}]", rows.map_or("n".into(), |r| r.to_string())),
                    found: t.shape.clone(),
                })
            }
        };
        if file_cols != cols || rows.is_some_and(|r| r != file_rows) {
            return Err(ModelError::Shape {
                tensor: name.to_owned(),
                expected: format!("[{cols}, {}]", rows.map_or("n".into(), |r| r.to_string())),
                found: t.shape.clone(),
            });
        }
        let align = retort_kernels::ops::block_align(t.ty) as u64;
        if t.offset % align != 0 {
            return Err(ModelError::Unsupported(format!(
                "tensor '{name}': data at byte {} is not {align}-byte aligned",
                t.offset
            )));
        }
        Ok(Matrix {
            name: name.to_owned(),
            ty: t.ty,
            rows: file_rows,
            cols,
            offset: t.offset as usize,
            bytes: t.bytes as usize,
            packed: None,
        })
    }

    /// An F32 vector of `len` elements.
    pub fn vector(&self, name: &str, len: usize) -> Result<Vector, ModelError> {
        let t = self.info(name)?;
        if t.shape.as_slice() != [len as u64] {
            return Err(ModelError::Shape {
                tensor: name.to_owned(),
                expected: format!("[{len}]"),
                found: t.shape.clone(),
            });
        }
        if t.ty != GgmlType::F32 || t.offset % 4 != 0 {
            return Err(ModelError::Unsupported(format!(
                "tensor '{name}': norm/bias vectors must be 4-byte aligned F32, found {} at byte {}",
                t.ty, t.offset
            )));
        }
        Ok(Vector {
            name: name.to_owned(),
            offset: t.offset as usize,
            len,
        })
    }

    /// An optional vector: absent is fine, present with the wrong shape is an error.
    pub fn opt_vector(&self, name: &str, len: usize) -> Result<Option<Vector>, ModelError> {
        if self.file.tensor(name).is_some() {
            self.vector(name, len).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Loads every weight with llama.cpp's GGUF tensor names, which all supported families share;
    /// `spec` says which optional tensors a family must have.
    pub fn load(&self, hp: &HyperParams, spec: &ArchSpec) -> Result<Weights, ModelError> {
        let d = hp.n_embd;
        let q_dim = hp.n_head * hp.head_dim;
        let k_dim = hp.n_head_kv * hp.head_dim;
        let v_dim = hp.n_head_kv * hp.head_dim_v;
        let token_embd = self.matrix("token_embd.weight", Some(hp.n_vocab), d)?;
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let n = |s: &str| format!("blk.{i}.{s}");
            let required = |name: String, len: usize, needed: bool| -> Result<_, ModelError> {
                if needed {
                    self.vector(&name, len).map(Some)
                } else {
                    self.opt_vector(&name, len)
                }
            };
            layers.push(LayerWeights {
                attn_norm: self.vector(&n("attn_norm.weight"), d)?,
                wq: self.matrix(&n("attn_q.weight"), Some(q_dim), d)?,
                wk: self.matrix(&n("attn_k.weight"), Some(k_dim), d)?,
                wv: self.matrix(&n("attn_v.weight"), Some(v_dim), d)?,
                bq: self.opt_vector(&n("attn_q.bias"), q_dim)?,
                bk: self.opt_vector(&n("attn_k.bias"), k_dim)?,
                bv: self.opt_vector(&n("attn_v.bias"), v_dim)?,
                q_norm: required(n("attn_q_norm.weight"), hp.head_dim, spec.qk_norm)?,
                k_norm: required(n("attn_k_norm.weight"), hp.head_dim, spec.qk_norm)?,
                wo: self.matrix(&n("attn_output.weight"), Some(d), hp.n_head * hp.head_dim_v)?,
                post_attn_norm: required(n("post_attention_norm.weight"), d, spec.post_norms)?,
                ffn_norm: self.vector(&n("ffn_norm.weight"), d)?,
                w_gate: self.matrix(&n("ffn_gate.weight"), Some(hp.n_ff), d)?,
                w_up: self.matrix(&n("ffn_up.weight"), Some(hp.n_ff), d)?,
                w_down: self.matrix(&n("ffn_down.weight"), Some(d), hp.n_ff)?,
                post_ffn_norm: required(n("post_ffw_norm.weight"), d, spec.post_norms)?,
            });
        }
        let output = if self.file.tensor("output.weight").is_some() {
            self.matrix("output.weight", Some(hp.n_vocab), d)?
        } else {
            token_embd.clone()
        };
        Ok(Weights {
            token_embd,
            layers,
            output_norm: self.vector("output_norm.weight", d)?,
            output,
        })
    }
}
