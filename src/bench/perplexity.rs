//! Perplexity of a model on a text, by llama.cpp's definition (its `llama-perplexity`), so the
//! numbers are comparable:
//!
//! - the text is tokenized whole, with BOS when the vocabulary asks for it;
//! - the tokens are split into `⌊n / ctx⌋` non-overlapping chunks of `ctx` tokens (the tail
//!   that does not fill a chunk is not used); each chunk is evaluated from an empty context,
//!   its first token replaced by BOS when the vocabulary adds one;
//! - only the second half of each chunk is scored: the logits at positions `ctx/2 ..= ctx-2`
//!   predict the tokens at `ctx/2 + 1 ..= ctx-1`, `ctx - ctx/2 - 1` tokens a chunk;
//! - with `vᵢ = -ln p(tokenᵢ)` over the `N` scored tokens, `PPL = exp(mean v)`, and its
//!   standard error is `PPL · sqrt((mean v² - (mean v)²) / (N - 1))`.
//!
//! Perplexity compares models that share a tokenizer only: a vocabulary of longer tokens
//! makes fewer, harder predictions over the same text. **Bits per byte** compares across
//! vocabularies: the scored tokens' total negative log-likelihood in bits divided by the UTF-8
//! bytes those same tokens stand for (each token's piece as the tokenizer decodes it; control
//! tokens stand for none), i.e. `Σ vᵢ / ln 2 / Σ bytes(tokenᵢ)`.
//!
//! The chunks run at prefill speed through [`Session::token_log_probs`]: batched forward
//! passes, and batched products of the output head for the scored half only.

use std::time::Instant;

use serde::Serialize;

use crate::error::Error;
use crate::model::{Model, ModelError};
use crate::session::{Session, SessionParams};
use crate::tokenizer::Tokenizer;

/// How [`perplexity`] scores a text.
#[derive(Clone, Debug)]
pub struct PerplexityParams {
    /// Tokens per chunk (llama.cpp's `-c`); the second half of each chunk is scored.
    pub ctx: usize,
    /// Score at most this many chunks (llama.cpp's `--chunks`); `None` scores them all.
    pub max_chunks: Option<usize>,
    /// Threads, batch size and output head of the session (its `n_ctx` is set to `ctx`).
    pub session: SessionParams,
}

impl Default for PerplexityParams {
    fn default() -> Self {
        PerplexityParams {
            ctx: 512,
            max_chunks: None,
            session: SessionParams::default(),
        }
    }
}

/// The running estimate after a chunk, for a progress bar or log line.
#[derive(Clone, Copy, Debug)]
pub struct PerplexityProgress {
    /// Chunks done.
    pub chunk: usize,
    /// Chunks in all.
    pub n_chunks: usize,
    /// Perplexity over the chunks done.
    pub ppl: f64,
    /// Its standard error (`None` until two tokens are scored).
    pub ppl_stderr: Option<f64>,
    /// Tokens scored so far.
    pub tokens: usize,
}

/// The result of [`perplexity`]. Serialises to the object `retort perplexity --json` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Perplexity {
    /// Perplexity, `exp` of the mean negative log-likelihood per scored token.
    pub ppl: f64,
    /// Standard error of `ppl` (`None` with a single scored token).
    pub ppl_stderr: Option<f64>,
    /// Mean negative log-likelihood per scored token, in nats.
    pub nll: f64,
    /// Tokens scored.
    pub tokens: usize,
    /// Tokens per chunk.
    pub ctx: usize,
    /// Chunks evaluated.
    pub chunks: usize,
    /// Tokens of the whole text (BOS included when the vocabulary adds it).
    pub text_tokens: usize,
    /// UTF-8 bytes the scored tokens stand for.
    pub bytes: usize,
    /// Bits per byte: the scored tokens' negative log-likelihood in bits over `bytes`
    /// (`None` if they stand for no bytes).
    pub bits_per_byte: Option<f64>,
    /// Seconds spent evaluating the chunks (tokenizing excluded).
    pub seconds: f64,
    /// Positions evaluated per second (`chunks · ctx / seconds`): the prefill rate.
    pub tokens_per_s: f64,
    /// Worker threads.
    pub threads: usize,
}

/// Running sums of the negative log-likelihoods.
#[derive(Default)]
struct Nll {
    sum: f64,
    sum_sq: f64,
    count: usize,
}

impl Nll {
    fn ppl(&self) -> f64 {
        (self.sum / self.count as f64).exp()
    }

    /// llama.cpp's error: the standard error of the mean NLL, times the perplexity.
    fn ppl_stderr(&self) -> Option<f64> {
        if self.count < 2 {
            return None;
        }
        let n = self.count as f64;
        let mean = self.sum / n;
        let var = (self.sum_sq / n - mean * mean).max(0.0);
        Some((var / (n - 1.0)).sqrt() * self.ppl())
    }
}

/// Scores `text` with `model` (see the [module documentation](self)), calling `on_chunk` after
/// every chunk with the running estimate.
pub fn perplexity(
    model: &Model,
    tokenizer: &Tokenizer,
    text: &str,
    params: &PerplexityParams,
    mut on_chunk: impl FnMut(&PerplexityProgress),
) -> Result<Perplexity, Error> {
    let ctx = params.ctx;
    if ctx < 4 {
        return Err(bad(format!(
            "a context of {ctx} tokens: perplexity needs at least 4 (half of each chunk is scored)"
        )));
    }
    if params.max_chunks == Some(0) {
        return Err(bad("0 chunks: nothing to score".into()));
    }
    if text.is_empty() {
        return Err(bad("the text is empty: nothing to score".into()));
    }
    let tokens = tokenizer.encode(text, true)?;
    let all_chunks = tokens.len() / ctx;
    if all_chunks == 0 {
        return Err(bad(format!(
            "the text is {} tokens long for this model, shorter than one chunk of {ctx} \
             (use a smaller context or a longer text)",
            tokens.len()
        )));
    }
    let n_chunks = params.max_chunks.map_or(all_chunks, |m| m.min(all_chunks));
    let session_params = SessionParams {
        n_ctx: Some(ctx),
        ..params.session.clone()
    };
    let mut session = Session::new(model, &session_params)?;
    let bos = tokenizer.bos_id().filter(|_| tokenizer.adds_bos());
    let first = ctx / 2;

    let mut nll = Nll::default();
    let mut bytes = 0usize;
    let mut chunk = Vec::with_capacity(ctx);
    let t0 = Instant::now();
    for i in 0..n_chunks {
        chunk.clear();
        chunk.extend_from_slice(&tokens[i * ctx..][..ctx]);
        if let Some(bos) = bos {
            chunk[0] = bos;
        }
        session.reset();
        let log_probs = session.token_log_probs(&chunk, first)?;
        debug_assert_eq!(log_probs.len(), ctx - first - 1);
        for (lp, &target) in log_probs.iter().zip(&chunk[first + 1..]) {
            nll.sum -= lp;
            nll.sum_sq += lp * lp;
            nll.count += 1;
            bytes += tokenizer.token_to_piece(target, false)?.len();
        }
        on_chunk(&PerplexityProgress {
            chunk: i + 1,
            n_chunks,
            ppl: nll.ppl(),
            ppl_stderr: nll.ppl_stderr(),
            tokens: nll.count,
        });
    }
    let seconds = t0.elapsed().as_secs_f64();
    Ok(Perplexity {
        ppl: nll.ppl(),
        ppl_stderr: nll.ppl_stderr(),
        nll: nll.sum / nll.count as f64,
        tokens: nll.count,
        ctx,
        chunks: n_chunks,
        text_tokens: tokens.len(),
        bytes,
        bits_per_byte: (bytes > 0).then(|| nll.sum / std::f64::consts::LN_2 / bytes as f64),
        seconds,
        tokens_per_s: (n_chunks * ctx) as f64 / seconds.max(f64::MIN_POSITIVE),
        threads: session.n_threads(),
    })
}

fn bad(message: String) -> Error {
    Error::Model(ModelError::BadParam(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_error_is_llama_cpps() {
        // v = 1, 2, 3: mean 2, population variance 2/3, stderr of the mean sqrt(2/3 / 2).
        let mut nll = Nll::default();
        for v in [1.0f64, 2.0, 3.0] {
            nll.sum += v;
            nll.sum_sq += v * v;
            nll.count += 1;
        }
        assert!((nll.ppl() - 2f64.exp()).abs() < 1e-12);
        let want = (1.0f64 / 3.0).sqrt() * 2f64.exp();
        assert!((nll.ppl_stderr().unwrap() - want).abs() < 1e-12);
        let one = Nll {
            sum: 1.0,
            sum_sq: 1.0,
            count: 1,
        };
        assert_eq!(one.ppl_stderr(), None);
    }
}
