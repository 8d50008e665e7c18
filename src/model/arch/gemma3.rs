//! `gemma3`: embeddings scaled by √d_model, norms before and after attention and FFN, QK-norm,
//! GeGLU (tanh), NeoX rotary; sliding-window attention with a local rotary base on most layers
//! and full attention with the global base on every `pattern`-th layer.

use super::linear_rope_scale;
use crate::gguf::Metadata;
use crate::model::error::ModelError;
use crate::model::hparams::HyperParams;
use crate::model::spec::{Activation, ArchSpec, LayerAttention, RopeStyle};

/// Every sixth layer (5, 11, 17, …) attends globally.
const GLOBAL_EVERY: usize = 6;
/// Rotary base of the local (sliding-window) layers.
const LOCAL_ROPE_BASE: f32 = 10_000.0;

pub(super) fn spec(md: &Metadata, hp: &HyperParams) -> Result<ArchSpec, ModelError> {
    let window = md.get_u32("gemma3.attention.sliding_window")? as usize;
    let global_scale = linear_rope_scale(md, &hp.arch)?;
    let layers = (0..hp.n_layer)
        .map(|i| {
            if (i + 1) % GLOBAL_EVERY == 0 {
                LayerAttention {
                    sliding_window: None,
                    rope_base: hp.rope_base,
                    rope_freq_scale: global_scale,
                }
            } else {
                LayerAttention {
                    sliding_window: Some(window),
                    rope_base: LOCAL_ROPE_BASE,
                    rope_freq_scale: 1.0,
                }
            }
        })
        .collect();
    Ok(ArchSpec {
        name: hp.arch.clone(),
        rope_style: RopeStyle::Neox,
        activation: Activation::GeluTanh,
        post_norms: true,
        qk_norm: true,
        embedding_scale: (hp.n_embd as f32).sqrt(),
        attention_scale: 1.0 / (hp.head_dim as f32).sqrt(),
        final_logit_softcap: md.opt("gemma3.final_logit_softcapping", Metadata::get_f32)?,
        layers,
    })
}
