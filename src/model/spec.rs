//! The architecture spec: everything that differs between model families, as data.
//!
//! One transformer block ([`super::block`]) reads these options; each family's file in
//! [`super::arch`] only maps GGUF names and metadata onto them.

/// How rotary embeddings pair up the dimensions of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs `(2i, 2i+1)` rotate together (llama.cpp's `LLAMA_ROPE_TYPE_NORM`, used for
    /// `llama` GGUF files, whose Q/K weights the converter permuted accordingly).
    Interleaved,
    /// Halves `(i, i + d/2)` rotate together (GPT-NeoX style; Gemma, Qwen).
    Neox,
}

/// The feed-forward gate's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// SiLU (`x * sigmoid(x)`): SwiGLU.
    Silu,
    /// GELU, tanh approximation: GeGLU.
    GeluTanh,
}

/// Per-layer attention geometry: which keys a query may see and the rotary base.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerAttention {
    /// `Some(w)`: a query at position p attends to keys in `(p - w, p]`; `None`: all keys `<= p`.
    pub sliding_window: Option<usize>,
    /// Rotary base frequency for this layer.
    pub rope_base: f32,
    /// Positions are multiplied by this before rotation (linear rope scaling: `1/factor`).
    pub rope_freq_scale: f32,
}

/// Family options for the shared transformer block.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchSpec {
    /// `general.architecture`.
    pub name: String,
    /// Rotary pairing.
    pub rope_style: RopeStyle,
    /// FFN gate activation.
    pub activation: Activation,
    /// Norms after attention and after the FFN, before the residual add (Gemma 2/3).
    pub post_norms: bool,
    /// Per-head RMSNorm of Q and K before rotary (Gemma 3, Qwen 3).
    pub qk_norm: bool,
    /// Embeddings multiplied by this (Gemma: √d_model); 1 for the others.
    pub embedding_scale: f32,
    /// Attention scores multiplied by this (usually `1/√head_dim`).
    pub attention_scale: f32,
    /// `tanh` soft-capping of the final logits, if the family uses it.
    pub final_logit_softcap: Option<f32>,
    /// Per-layer attention geometry.
    pub layers: Vec<LayerAttention>,
}
