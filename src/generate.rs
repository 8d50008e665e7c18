//! The generation loop: prompt in, tokens out through the sampler, text streamed as it becomes
//! valid UTF-8, stopping at an end-of-generation token, the token budget, a full context, or
//! when the caller's text callback asks to stop.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::sampling::{Sampler, SamplerParams};
use crate::session::Session;
use crate::tokenizer::Tokenizer;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateParams {
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// The sampler chain.
    pub sampler: SamplerParams,
}

impl Default for GenerateParams {
    fn default() -> Self {
        GenerateParams {
            max_tokens: 128,
            sampler: SamplerParams::default(),
        }
    }
}

/// Why generation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The model produced an end-of-generation token (not included in the text).
    EndOfGeneration,
    /// `max_tokens` were generated.
    MaxTokens,
    /// The session's context is full (documented policy: stop, not fail).
    ContextFull,
    /// The caller's text callback returned [`ControlFlow::Break`] (the piece it was given is
    /// part of the text).
    Stopped,
}

/// The outcome of a generation.
#[derive(Clone, Debug)]
pub struct Generation {
    /// The prompt's token ids.
    pub prompt_ids: Vec<u32>,
    /// Generated ids (an end-of-generation token that stopped it is included).
    pub generated_ids: Vec<u32>,
    /// Generated text.
    pub text: String,
    /// Why it stopped.
    pub stop: StopReason,
    /// Time spent on the prompt.
    pub prompt_time: Duration,
    /// Time spent generating (sampling and decoding).
    pub gen_time: Duration,
}

impl Generation {
    /// Prompt tokens per second.
    pub fn prompt_tps(&self) -> f64 {
        self.prompt_ids.len() as f64 / self.prompt_time.as_secs_f64().max(1e-9)
    }

    /// Generated tokens per second (decode steps; the first token comes from the prompt pass).
    pub fn gen_tps(&self) -> f64 {
        self.generated_ids.len().saturating_sub(1) as f64 / self.gen_time.as_secs_f64().max(1e-9)
    }
}

/// Runs `prompt_ids` then samples up to `params.max_tokens` tokens, calling `on_text` with each
/// new piece of valid UTF-8 text; `on_text` returns [`ControlFlow::Break`] to stop generation
/// after that piece (no further token is decoded).
pub fn generate(
    session: &mut Session<'_>,
    tok: &Tokenizer,
    prompt_ids: &[u32],
    params: &GenerateParams,
    on_text: impl FnMut(&str) -> ControlFlow<()>,
) -> Result<Generation, Error> {
    generate_after(session, tok, &[], prompt_ids, params, on_text)
}

/// [`generate`] for a session whose cache already holds `held` (a conversation going on, or a
/// prompt sharing a prefix with what the session ran): only `prompt_ids` is run, but the
/// sampler's history (the repetition penalty's window) sees `held` then `prompt_ids`, so the
/// tokens are those a fresh session given the whole context would produce.
pub fn generate_after(
    session: &mut Session<'_>,
    tok: &Tokenizer,
    held: &[u32],
    prompt_ids: &[u32],
    params: &GenerateParams,
    mut on_text: impl FnMut(&str) -> ControlFlow<()>,
) -> Result<Generation, Error> {
    let mut sampler = Sampler::new(params.sampler.clone(), session.model().hparams.n_vocab)?;
    let mut history: Vec<u32> =
        Vec::with_capacity(held.len() + prompt_ids.len() + params.max_tokens);
    history.extend_from_slice(held);
    history.extend_from_slice(prompt_ids);

    let t0 = Instant::now();
    let mut next = {
        let logits = session.prefill(prompt_ids)?;
        sampler.sample(logits, &history)
    };
    let prompt_time = t0.elapsed();

    let t1 = Instant::now();
    let mut stream = tok.stream(false);
    let mut generated = Vec::with_capacity(params.max_tokens);
    let mut text = String::new();
    let mut stop = StopReason::MaxTokens;
    while generated.len() < params.max_tokens {
        generated.push(next);
        history.push(next);
        if tok.is_end_of_generation(next) {
            stop = StopReason::EndOfGeneration;
            break;
        }
        let piece = stream.push(next)?;
        if !piece.is_empty() {
            text.push_str(&piece);
            if on_text(&piece).is_break() {
                stop = StopReason::Stopped;
                break;
            }
        }
        if generated.len() == params.max_tokens {
            break;
        }
        if session.pos() >= session.n_ctx() {
            stop = StopReason::ContextFull;
            break;
        }
        let logits = session.decode(next)?;
        next = sampler.sample(logits, &history);
    }
    let rest = stream.finish();
    if !rest.is_empty() && stop != StopReason::Stopped {
        // The generation is over whatever the callback answers.
        let _ = on_text(&rest);
        text.push_str(&rest);
    }
    Ok(Generation {
        prompt_ids: prompt_ids.to_vec(),
        generated_ids: generated,
        text,
        stop,
        prompt_time,
        gen_time: t1.elapsed(),
    })
}
