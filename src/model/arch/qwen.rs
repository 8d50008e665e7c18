//! `qwen2` and `qwen3`: Llama-shaped with NeoX rotary; Qwen 2 has Q/K/V biases (loaded when
//! present), Qwen 3 drops them and adds per-head QK-norm.

use super::global_layers;
use crate::gguf::Metadata;
use crate::model::error::ModelError;
use crate::model::hparams::HyperParams;
use crate::model::spec::{Activation, ArchSpec, RopeStyle};

pub(super) fn spec(md: &Metadata, hp: &HyperParams, qk_norm: bool) -> Result<ArchSpec, ModelError> {
    Ok(ArchSpec {
        name: hp.arch.clone(),
        rope_style: RopeStyle::Neox,
        activation: Activation::Silu,
        post_norms: false,
        qk_norm,
        embedding_scale: 1.0,
        attention_scale: 1.0 / (hp.head_dim as f32).sqrt(),
        final_logit_softcap: None,
        layers: global_layers(md, hp)?,
    })
}
