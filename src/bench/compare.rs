//! One model's row of `retort compare`: what it is (file size, parameters, quantization,
//! tokenizer), how well it predicts a text (perplexity and bits per byte, by [`perplexity`])
//! and how fast and large it runs (by [`bench_model`], the code `retort bench` uses).

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    bench_model, perplexity, BenchParams, BenchProgress, ModelBench, Perplexity, PerplexityParams,
    PerplexityProgress,
};
use crate::error::Error;
use crate::loader::open_model_and_tokenizer;
use crate::tokenizer::{Tokenizer, TokenizerKind};

/// What [`compare_model`] measures: the speed tests and the perplexity run.
#[derive(Clone, Debug, Default)]
pub struct CompareParams {
    /// pp/tg/TTFT tests and their session (threads).
    pub bench: BenchParams,
    /// Context, chunks and session (threads) of the perplexity run.
    pub perplexity: PerplexityParams,
}

/// Which part of [`compare_model`] is running, for a progress bar.
#[derive(Clone, Copy, Debug)]
pub enum CompareProgress<'a> {
    /// A speed test run finished.
    Bench(BenchProgress<'a>),
    /// A perplexity chunk finished.
    Perplexity(&'a PerplexityProgress),
}

/// One model, measured. Serialises to one entry of `retort compare --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompareRow {
    /// The model as given (catalog name or path).
    pub model: String,
    /// Its file.
    pub path: String,
    /// `general.architecture`.
    pub arch: String,
    /// The file's quantization (`Q4_K_M`).
    pub quantization: String,
    /// Bytes of the file.
    pub size_bytes: u64,
    /// Parameters (elements of every tensor).
    pub n_params: u64,
    /// The tokenizer, as [`tokenizer_id`] names it: models with equal ids have comparable
    /// perplexities.
    pub tokenizer: String,
    /// Perplexity on the text.
    pub ppl: f64,
    /// Its standard error.
    pub ppl_stderr: Option<f64>,
    /// Bits per byte on the text (comparable across tokenizers).
    pub bits_per_byte: Option<f64>,
    /// Tokens scored for the perplexity.
    pub ppl_tokens: usize,
    /// Prompt processing tokens/s (median of the first pp test).
    pub pp_tok_s: Option<f64>,
    /// Generation tokens/s (median of the first tg test).
    pub tg_tok_s: Option<f64>,
    /// Time to first token, milliseconds (median).
    pub ttft_ms: Option<f64>,
    /// Peak resident set while the speed tests ran.
    pub peak_rss_bytes: Option<u64>,
    /// Worker threads of the speed tests.
    pub threads: usize,
    /// Everything the speed tests measured.
    pub bench: ModelBench,
    /// Everything the perplexity run measured.
    pub perplexity: Perplexity,
}

/// Measures the model at `path` (called `label` in the row): the speed tests first, then the
/// perplexity of `text`, one after the other in this process.
pub fn compare_model(
    label: &str,
    path: &Path,
    text: &str,
    params: &CompareParams,
    mut on_progress: impl FnMut(CompareProgress<'_>),
) -> Result<CompareRow, Error> {
    let bench = bench_model(path, &params.bench, |p| {
        on_progress(CompareProgress::Bench(p))
    })?;
    let (model, tok) = open_model_and_tokenizer(path, &params.bench.load)?;
    let ppl = perplexity(&model, &tok, text, &params.perplexity, |p| {
        on_progress(CompareProgress::Perplexity(p))
    })?;
    Ok(CompareRow {
        model: label.to_owned(),
        path: path.display().to_string(),
        arch: bench.info.arch.clone(),
        quantization: bench.info.file_type.clone(),
        size_bytes: bench.info.size_bytes,
        n_params: bench.info.n_params,
        tokenizer: tokenizer_id(&tok)?,
        ppl: ppl.ppl,
        ppl_stderr: ppl.ppl_stderr,
        bits_per_byte: ppl.bits_per_byte,
        ppl_tokens: ppl.tokens,
        pp_tok_s: bench.pp_tok_s,
        tg_tok_s: bench.tg_tok_s,
        ttft_ms: bench.ttft_ms,
        peak_rss_bytes: bench.peak_rss_bytes,
        threads: bench.threads,
        bench,
        perplexity: ppl,
    })
}

/// A short name of a vocabulary: its algorithm, its size and the first 8 hex digits of the
/// sha256 of its tokens (`bpe-151936-1a2b3c4d`). Two models share a tokenizer, and so a
/// perplexity scale, exactly when their ids are equal.
pub fn tokenizer_id(tok: &Tokenizer) -> Result<String, Error> {
    let mut hasher = Sha256::new();
    for id in 0..tok.n_vocab() as u32 {
        hasher.update(tok.token_text(id)?.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let kind = match tok.kind() {
        TokenizerKind::ByteLevelBpe => "bpe",
        TokenizerKind::SentencePiece => "spm",
    };
    Ok(format!(
        "{kind}-{}-{:02x}{:02x}{:02x}{:02x}",
        tok.n_vocab(),
        digest[0],
        digest[1],
        digest[2],
        digest[3]
    ))
}
