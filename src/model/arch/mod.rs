//! One small file per model family: each maps GGUF metadata onto an [`ArchSpec`] for the shared
//! transformer block. Tensor names are llama.cpp's, shared by every family here.

mod gemma3;
mod llama;
mod qwen;

use super::error::ModelError;
use super::hparams::HyperParams;
use super::spec::{ArchSpec, LayerAttention};
use crate::gguf::Metadata;

/// Builds the spec for `hp.arch`, or says the architecture is not supported.
pub fn spec_for(md: &Metadata, hp: &HyperParams) -> Result<ArchSpec, ModelError> {
    match hp.arch.as_str() {
        "llama" => llama::spec(md, hp),
        "qwen2" => qwen::spec(md, hp, false),
        "qwen3" => qwen::spec(md, hp, true),
        "gemma3" => gemma3::spec(md, hp),
        other => Err(ModelError::Unsupported(format!(
            "architecture '{other}' (supported: llama, qwen2, qwen3, gemma3)"
        ))),
    }
}

/// Every layer attends to the whole context with the same rotary base.
fn global_layers(md: &Metadata, hp: &HyperParams) -> Result<Vec<LayerAttention>, ModelError> {
    let scale = linear_rope_scale(md, &hp.arch)?;
    Ok(vec![
        LayerAttention {
            sliding_window: None,
            rope_base: hp.rope_base,
            rope_freq_scale: scale,
        };
        hp.n_layer
    ])
}

/// `1/factor` for linear rope scaling, 1 when absent; other scaling types are refused.
fn linear_rope_scale(md: &Metadata, arch: &str) -> Result<f32, ModelError> {
    let kind = md.opt(&format!("{arch}.rope.scaling.type"), Metadata::get_str)?;
    let factor = md.opt(&format!("{arch}.rope.scaling.factor"), Metadata::get_f32)?;
    match (kind, factor) {
        (None | Some("none"), _) | (_, None) => Ok(1.0),
        (Some("linear"), Some(f)) if f > 0.0 => Ok(1.0 / f),
        (Some(k), Some(f)) => Err(ModelError::Unsupported(format!(
            "{arch}.rope.scaling.type '{k}' with factor {f}"
        ))),
    }
}
