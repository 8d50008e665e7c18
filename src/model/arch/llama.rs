//! `llama` (SmolLM2 and other Llama-shaped models): pre-norm, SwiGLU, interleaved rotary pairs
//! (llama.cpp's converter permutes Q/K for that layout), tied output when `output.weight` is
//! absent.

use super::global_layers;
use crate::gguf::Metadata;
use crate::model::error::ModelError;
use crate::model::hparams::HyperParams;
use crate::model::spec::{Activation, ArchSpec, RopeStyle};

pub(super) fn spec(md: &Metadata, hp: &HyperParams) -> Result<ArchSpec, ModelError> {
    Ok(ArchSpec {
        name: hp.arch.clone(),
        rope_style: RopeStyle::Interleaved,
        activation: Activation::Silu,
        post_norms: false,
        qk_norm: false,
        embedding_scale: 1.0,
        attention_scale: 1.0 / (hp.head_dim as f32).sqrt(),
        final_logit_softcap: None,
        layers: global_layers(md, hp)?,
    })
}
