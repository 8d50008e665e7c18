//! The evaluation's cache: JSON lines appended as each result is made, so an interrupted run
//! resumes, and a `config.json` that keeps a folder to one set of settings.
//!
//! Several processes may share a folder (`--shard`): each record is appended with one write, a
//! reader ignores a last line without its newline (another process may be writing it), and only
//! a stage that appends to a file cuts a line an interrupted run left torn, when it starts.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Condition, Config};

/// One generated text.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GenerationRecord {
    pub temperature: f32,
    pub prompt: usize,
    pub condition: Condition,
    /// Generated ids (the prompt excluded).
    pub ids: Vec<u32>,
    /// Steps the watermark chose or moved.
    pub marked: usize,
    /// Wall-clock seconds the generation took.
    pub seconds: f64,
}

/// One watermarked text after the paraphrase attack.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParaphraseRecord {
    pub temperature: f32,
    pub prompt: usize,
    pub condition: Condition,
    pub ids: Vec<u32>,
    /// Sentences re-generated, of all sentences.
    pub replaced: usize,
    pub sentences: usize,
}

/// One text's negative log-likelihood under the scorer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PerplexityRecord {
    pub temperature: f32,
    pub prompt: usize,
    pub condition: Condition,
    /// Scorer tokens of the text.
    pub tokens: usize,
    /// Their summed negative log-likelihood (nats).
    pub nll: f64,
}

pub const GENERATIONS: &str = "generations.jsonl";
pub const PARAPHRASES: &str = "paraphrases.jsonl";
pub const PERPLEXITIES: &str = "perplexities.jsonl";

/// The cache folder.
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Opens `dir` for `config`: writes `config.json` the first time, refuses other settings.
    pub fn open(dir: &Path, config: &Config) -> Result<Cache> {
        let path = dir.join("config.json");
        if path.exists() {
            let text = std::fs::read_to_string(&path)?;
            let found: Config = serde_json::from_str(&text)
                .with_context(|| format!("reading {}", path.display()))?;
            if &found != config {
                bail!(
                    "{} holds results made with other settings ({}); choose another --out",
                    dir.display(),
                    path.display()
                );
            }
        } else {
            std::fs::write(&path, serde_json::to_string_pretty(config)?)?;
        }
        Ok(Cache {
            dir: dir.to_path_buf(),
        })
    }

    /// Before a stage appends to `file`: cuts a last line that an interrupted run left without
    /// its newline, so appends stay whole.
    pub fn repair(&self, file: &str) -> Result<()> {
        drop_torn_line(&self.dir.join(file))
    }

    /// Every whole record of `file` (a last line still without its newline is not whole yet).
    pub fn read<T: DeserializeOwned>(&self, file: &str) -> Result<Vec<T>> {
        let path = self.dir.join(file);
        let mut text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut out = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_str(line) {
                Ok(r) => out.push(r),
                Err(e) => bail!("{} line {}: {e}", path.display(), i + 1),
            }
        }
        Ok(out)
    }

    /// Appends one record to `file` (one line, in one write).
    pub fn append<T: Serialize>(&self, file: &str, record: &T) -> Result<()> {
        let path = self.dir.join(file);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut line = serde_json::to_string(record)?;
        line.push('\n');
        f.write_all(line.as_bytes())?;
        Ok(())
    }
}

/// Cuts a last line that an interrupted run left without its newline, so appends stay whole.
fn drop_torn_line(path: &Path) -> Result<()> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(());
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(keep as u64)?;
    Ok(())
}
