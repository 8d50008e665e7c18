//! Shared by the integration tests: real models through the catalog, and the Python reference.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use retort::catalog::{self, Catalog, NoProgress};

/// The cached path of catalog model `name`, pulling it first if needed (as `retort` does).
pub fn model_path(name: &str) -> PathBuf {
    let catalog = Catalog::builtin().expect("built-in catalog");
    catalog::resolve(&catalog, name, &mut NoProgress).unwrap_or_else(|e| {
        panic!("catalog model '{name}' is not available and could not be pulled: {e}")
    })
}

/// The cached path of catalog text `name` (`botchan`, `alice`), pulling it first if needed.
pub fn text_path(name: &str) -> PathBuf {
    let catalog = Catalog::builtin().expect("built-in catalog");
    catalog::resolve_text(&catalog, name, &mut NoProgress).unwrap_or_else(|e| {
        panic!("catalog text '{name}' is not available and could not be pulled: {e}")
    })
}

/// Full logits from the numpy reference forward pass: (positions, vocabulary) row-major.
pub fn reference_logits(model: &std::path::Path, tokens: &[u32]) -> (usize, usize, Vec<f32>) {
    reference_logits_last(model, tokens, tokens.len())
}

/// Full logits of the last `last` positions only (the reference's `--last`).
pub fn reference_logits_last(
    model: &std::path::Path,
    tokens: &[u32],
    last: usize,
) -> (usize, usize, Vec<f32>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("logits.bin");
    let ids: Vec<String> = tokens.iter().map(u32::to_string).collect();
    let status = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/reference/forward.py"
        ))
        .arg("--model")
        .arg(model)
        .arg("--tokens")
        .arg(ids.join(","))
        .arg("--out")
        .arg(&out)
        .arg("--last")
        .arg(last.to_string())
        .status()
        .expect(
            "python3 must be installed (with numpy and gguf: tests/reference/requirements.txt)",
        );
    assert!(status.success(), "reference forward pass failed: {status}");
    let bytes = std::fs::read(&out).expect("reference output");
    let n_pos = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let n_vocab = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let logits: Vec<f32> = bytes[8..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(logits.len(), n_pos * n_vocab, "reference output size");
    (n_pos, n_vocab, logits)
}

/// log-softmax of a row, in f64.
pub fn log_softmax(row: &[f32]) -> Vec<f64> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let lse = row
        .iter()
        .map(|&l| (l as f64 - max).exp())
        .sum::<f64>()
        .ln()
        + max;
    row.iter().map(|&l| l as f64 - lse).collect()
}

/// KL(p || q) in nats from two rows of logits.
pub fn kl_divergence(p_logits: &[f32], q_logits: &[f32]) -> f64 {
    let lp = log_softmax(p_logits);
    let lq = log_softmax(q_logits);
    lp.iter().zip(&lq).map(|(a, b)| a.exp() * (a - b)).sum()
}

/// Index of the largest value (lowest index on ties).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}
