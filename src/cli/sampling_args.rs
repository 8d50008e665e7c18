//! The sampling flags `retort run` and `retort chat` share, and the watermark flag that
//! `retort serve` shares with them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use retort::sampling::SamplerParams;
use retort::tokenizer::Tokenizer;
use retort::watermark::{world_readable_warning, KeyFile, Watermark};

/// Sampler options.
#[derive(Args, Debug, Clone)]
pub struct SamplingArgs {
    /// Temperature; 0 is greedy.
    #[arg(long = "temp", default_value_t = 0.8)]
    pub temp: f32,
    /// Top-k (0 disables).
    #[arg(long = "top-k", default_value_t = 40)]
    pub top_k: usize,
    /// Top-p (1 disables).
    #[arg(long = "top-p", default_value_t = 0.95)]
    pub top_p: f32,
    /// Min-p (0 disables).
    #[arg(long = "min-p", default_value_t = 0.05)]
    pub min_p: f32,
    /// Repetition penalty (1 disables).
    #[arg(long = "repeat-penalty", default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// RNG seed (default: random, printed with the statistics).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub watermark: WatermarkArgs,
}

/// The watermark option.
#[derive(Args, Debug, Clone, Default)]
pub struct WatermarkArgs {
    /// Watermark the generated text with this key file (made by `retort keygen`); `retort
    /// verify` finds the mark.
    #[arg(long = "watermark", value_name = "KEYFILE")]
    pub key: Option<PathBuf>,
}

impl WatermarkArgs {
    /// The watermark of the key file, if one was given, checked against the model's vocabulary
    /// (`model` names the model in the error); warns on stderr when the key file is readable by
    /// everyone.
    pub fn load(&self, tok: &Tokenizer, model: &Path) -> Result<Option<Watermark>> {
        let Some(watermark) = self.load_unchecked()? else {
            return Ok(None);
        };
        watermark
            .check_tokenizer(tok)
            .with_context(|| format!("key {} and {}", watermark.key_id(), model.display()))?;
        Ok(Some(watermark))
    }

    /// The watermark of the key file, if one was given, not yet checked against a vocabulary
    /// (for a caller that checks it itself, as the server does).
    pub fn load_unchecked(&self) -> Result<Option<Watermark>> {
        let Some(key_path) = &self.key else {
            return Ok(None);
        };
        let key_file = KeyFile::load(key_path)?;
        if let Some(w) = world_readable_warning(key_path) {
            eprintln!("warning: {w}");
        }
        Ok(Some(Watermark::new(key_file)?))
    }
}

/// Says on stderr when `sampler`'s settings leave its watermark no way to mark the text
/// (greedy decoding under the distortion-free scheme), rather than pretending.
pub fn warn_watermark_limitation(sampler: &SamplerParams) {
    if let Some(limit) = sampler
        .watermark
        .as_ref()
        .and_then(|w| w.limitation(sampler))
    {
        eprintln!("warning: {limit}");
    }
}

impl SamplingArgs {
    /// The checked sampler parameters (a random seed when none was given; the watermark is
    /// added by the caller once the model's vocabulary is known, see [`WatermarkArgs::load`]).
    pub fn params(&self) -> Result<SamplerParams> {
        let seed = self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        let sampler = SamplerParams {
            temperature: self.temp,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            seed,
            ..SamplerParams::default()
        };
        sampler.validate()?;
        Ok(sampler)
    }
}
