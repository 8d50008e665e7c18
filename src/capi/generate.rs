//! `retort_generate`: run a prompt and sample a reply, streaming each piece of text to a
//! callback that can stop the generation.

use std::ffi::{c_char, c_void};
use std::ops::ControlFlow;

use super::args::{self, Out};
use super::session::retort_session;
use super::watermark::retort_watermark;
use crate::error::Error;
use crate::generate::{generate, GenerateParams, StopReason};
use crate::sampling::SamplerParams;

/// The sampler chain: repetition penalty, top-k, top-p, min-p, temperature, then a draw from a
/// seeded RNG. Get one from `retort_sampler_default_params()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct retort_sampler_params {
    /// Softmax temperature; 0 is greedy (the most likely token, the lowest id on ties).
    /// Default 0.8.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; 0 disables. Default 40.
    pub top_k: u32,
    /// Keep the smallest set of tokens whose probability reaches `top_p`, in (0, 1]; 1
    /// disables. Default 0.95.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one, in [0, 1]; 0 disables.
    /// Default 0.05.
    pub min_p: f32,
    /// Divide the positive logits (multiply the negative ones) of recently seen tokens by this;
    /// 1 disables. Default 1.
    pub repeat_penalty: f32,
    /// How many recent tokens the repetition penalty looks at. Default 64.
    pub repeat_last_n: u32,
    /// RNG seed: the same model, prompt, parameters and seed give the same tokens, whatever
    /// the thread count. Default 0.
    pub seed: u64,
}

impl From<&SamplerParams> for retort_sampler_params {
    fn from(p: &SamplerParams) -> Self {
        retort_sampler_params {
            temperature: p.temperature,
            top_k: args::saturating_u32(p.top_k),
            top_p: p.top_p,
            min_p: p.min_p,
            repeat_penalty: p.repeat_penalty,
            repeat_last_n: args::saturating_u32(p.repeat_last_n),
            seed: p.seed,
        }
    }
}

impl From<retort_sampler_params> for SamplerParams {
    fn from(p: retort_sampler_params) -> Self {
        SamplerParams {
            temperature: p.temperature,
            top_k: p.top_k as usize,
            top_p: p.top_p,
            min_p: p.min_p,
            repeat_penalty: p.repeat_penalty,
            repeat_last_n: p.repeat_last_n as usize,
            seed: p.seed,
            watermark: None,
        }
    }
}

/// What to generate. Get one from `retort_generate_default_params()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct retort_generate_params {
    /// Most tokens to generate. Default 128.
    pub max_tokens: u32,
    /// The sampler chain.
    pub sampler: retort_sampler_params,
    /// Weave this watermark into the sampling (from `retort_watermark_load`; borrowed for the
    /// call), or NULL for unmarked text. A distortion-free watermark needs sampling: with
    /// temperature 0 or top_k 1 the text carries no mark (`n_watermarked_tokens` says 0).
    /// Default NULL.
    pub watermark: *const retort_watermark,
}

/// The defaults, as `SamplerParams::default()` and `GenerateParams::default()` have them (a
/// test checks that they agree).
const GENERATE_DEFAULTS: retort_generate_params = retort_generate_params {
    max_tokens: 128,
    watermark: std::ptr::null(),
    sampler: retort_sampler_params {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
        min_p: 0.05,
        repeat_penalty: 1.0,
        repeat_last_n: 64,
        seed: 0,
    },
};

/// The defaults of the sampler chain. Any thread, any time.
#[no_mangle]
pub extern "C" fn retort_sampler_default_params() -> retort_sampler_params {
    ffi_guard!(or GENERATE_DEFAULTS.sampler; { GENERATE_DEFAULTS.sampler })
}

/// The defaults of every generation parameter. Any thread, any time.
#[no_mangle]
pub extern "C" fn retort_generate_default_params() -> retort_generate_params {
    ffi_guard!(or GENERATE_DEFAULTS; { GENERATE_DEFAULTS })
}

/// Receives each new piece of generated text, as soon as it is valid UTF-8.
///
/// - `piece`, `len`: the text, `len` bytes, also NUL-terminated. Owned by the session and
///   valid only during the call: copy what you keep.
/// - `user_data`: what the caller gave `retort_generate`.
///
/// Returns true to go on, false to stop the generation after this piece (no further token is
/// decoded; the generation's `stop_reason` is `RETORT_STOP_REASON_CALLBACK`). It runs on the thread
/// that called `retort_generate`, and must not call into the same session (such a call fails
/// with `RETORT_STATUS_INVALID_ARGUMENT`); other sessions and the model are fine.
pub type retort_piece_callback =
    Option<unsafe extern "C" fn(piece: *const c_char, len: usize, user_data: *mut c_void) -> bool>;

/// Why a generation stopped.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum retort_stop_reason {
    /// The model produced an end-of-generation token (its text is not streamed).
    EndOfGeneration = 0,
    /// `max_tokens` were generated.
    MaxTokens = 1,
    /// The session's context is full.
    ContextFull = 2,
    /// The callback returned false.
    Callback = 3,
}

impl From<StopReason> for retort_stop_reason {
    fn from(s: StopReason) -> Self {
        match s {
            StopReason::EndOfGeneration => retort_stop_reason::EndOfGeneration,
            StopReason::MaxTokens => retort_stop_reason::MaxTokens,
            StopReason::ContextFull => retort_stop_reason::ContextFull,
            StopReason::Stopped => retort_stop_reason::Callback,
        }
    }
}

/// The outcome of a generation.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct retort_generation {
    /// Prompt tokens run.
    pub n_prompt_tokens: u32,
    /// Tokens generated (an end-of-generation token that stopped it included).
    pub n_generated_tokens: u32,
    /// Why it stopped.
    pub stop_reason: retort_stop_reason,
    /// Milliseconds spent on the prompt (the first generated token comes out of it).
    pub prompt_ms: f64,
    /// Milliseconds spent generating the rest (sampling and decoding).
    pub generate_ms: f64,
    /// Generated tokens the watermark marked (0 without one, or when it could not mark).
    pub n_watermarked_tokens: u32,
}

/// Runs `prompt_ids` after what the session already holds, then samples up to
/// `params.max_tokens` tokens, calling `on_piece` with each new piece of text.
///
/// - `prompt_ids`, `n_prompt`: at least one id, borrowed for the call (from `retort_tokenize`
///   or `retort_chat_tokenize`).
/// - `params`: by value (start from `retort_generate_default_params()`).
/// - `on_piece`: may be NULL (nothing is streamed); `user_data` is passed to it untouched.
/// - `out_generation`: may be NULL; receives the counts, the stop reason and the timings.
///
/// The conversation continues: a later call appends to it, until `retort_session_reset`.
/// Decoding a token allocates no memory: all of it was reserved by `retort_session_new` and
/// this call's setup.
///
/// One call at a time per session (see `retort_session`); other sessions may generate at the
/// same time on other threads.
///
/// Errors: `RETORT_STATUS_CONTEXT_FULL` (the prompt does not fit in what is left of the
/// context; a context that fills up while generating is a normal stop instead),
/// `RETORT_STATUS_SAMPLING` (a parameter out of range), `RETORT_STATUS_MODEL` (an id outside
/// the vocabulary), `RETORT_STATUS_INVALID_ARGUMENT` (NULL session or prompt, an empty prompt,
/// the session busy).
///
/// # Safety
/// `session` must be NULL or a live session handle; `prompt_ids` NULL or `n_prompt` readable
/// ids; `on_piece` NULL or a function safe to call as documented; `out_generation` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn retort_generate(
    session: *mut retort_session,
    prompt_ids: *const u32,
    n_prompt: usize,
    params: retort_generate_params,
    on_piece: retort_piece_callback,
    user_data: *mut c_void,
    out_generation: *mut retort_generation,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let ((handle, mut state), prompt) = unsafe {
            (
                retort_session::lock(session, "session")?,
                args::slice(prompt_ids, n_prompt, "prompt_ids")?,
            )
        };
        let mut out = if out_generation.is_null() {
            None
        } else {
            // SAFETY: non-null, so writable by the caller's contract.
            Some(unsafe { Out::new(out_generation, "out_generation")? })
        };
        if prompt.is_empty() {
            return Err(Error::InvalidArgument {
                name: "n_prompt",
                reason: "is 0: a generation needs at least one prompt token".into(),
            });
        }
        let mut sampler = SamplerParams::from(params.sampler);
        if !params.watermark.is_null() {
            // SAFETY: non-null, so a live handle by the caller's contract.
            let w = unsafe { retort_watermark::from_handle(params.watermark, "params.watermark")? };
            w.watermark.check_tokenizer(&handle.model().tokenizer)?;
            sampler.watermark = Some(w.watermark.clone());
        }
        let params = GenerateParams {
            max_tokens: params.max_tokens as usize,
            sampler,
        };
        let state = &mut *state;
        let piece_buf = &mut state.piece;
        let generation = generate(
            &mut state.session,
            &handle.model().tokenizer,
            prompt,
            &params,
            |piece| {
                let Some(callback) = on_piece else {
                    return ControlFlow::Continue(());
                };
                // Copied to be NUL-terminated; the buffer was sized for the longest piece, so
                // this never allocates.
                piece_buf.clear();
                piece_buf.extend_from_slice(piece.as_bytes());
                piece_buf.push(0);
                // SAFETY: a valid function pointer by the caller's contract, given a
                // NUL-terminated buffer of `piece.len()` bytes that outlives the call.
                let go_on = unsafe { callback(piece_buf.as_ptr().cast(), piece.len(), user_data) };
                if go_on {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            },
        )?;
        if let Some(out) = out.as_mut() {
            out.write(retort_generation {
                n_prompt_tokens: args::saturating_u32(generation.prompt_ids.len()),
                n_generated_tokens: args::saturating_u32(generation.generated_ids.len()),
                stop_reason: generation.stop.into(),
                prompt_ms: generation.prompt_time.as_secs_f64() * 1e3,
                generate_ms: generation.gen_time.as_secs_f64() * 1e3,
                n_watermarked_tokens: args::saturating_u32(generation.watermarked_tokens),
            });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_defaults_are_the_rust_defaults() {
        let rust = GenerateParams::default();
        let c = retort_generate_default_params();
        assert_eq!(c.max_tokens as usize, rust.max_tokens);
        assert_eq!(c.sampler, (&rust.sampler).into());
        assert_eq!(
            retort_sampler_default_params(),
            (&SamplerParams::default()).into()
        );
        assert_eq!(SamplerParams::from(c.sampler), rust.sampler);
    }
}
