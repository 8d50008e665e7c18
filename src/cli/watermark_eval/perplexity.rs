//! Each text's perplexity under the larger scorer model, given its prompt: the quality cost of a
//! watermark is the scorer's perplexity of watermarked replies over that of unwatermarked ones.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use retort::model::Model;
use retort::session::{Session, SessionParams};
use retort::tokenizer::Tokenizer;

use super::cache::{Cache, GenerationRecord, PerplexityRecord, GENERATIONS, PERPLEXITIES};
use super::{WatermarkEvalArgs, TEMPERATURES};

/// Room for a prompt and a 400-token reply in any scorer's tokens.
const N_CTX: usize = 2048;
/// Positions whose logits are held at once (a row is the scorer's whole vocabulary).
const CHUNK: usize = 32;

/// Scores every generated text not scored yet, first temperature first.
pub fn score_all(
    scorer_path: &Path,
    tok: &Tokenizer,
    prompts: &[String],
    cache: &Cache,
    args: &WatermarkEvalArgs,
) -> Result<()> {
    cache.repair(PERPLEXITIES)?;
    let mut records: Vec<GenerationRecord> = cache.read(GENERATIONS)?;
    let limit = args.perplexity_prompts.unwrap_or(prompts.len());
    records.retain(|r| r.prompt < limit && args.mine(r.prompt));
    let order = |t: f32| {
        TEMPERATURES
            .iter()
            .position(|&x| x == t)
            .unwrap_or(usize::MAX)
    };
    records.sort_by_key(|r| (order(r.temperature), r.prompt, r.condition));
    let done: HashSet<(u32, usize, super::Condition)> = cache
        .read::<PerplexityRecord>(PERPLEXITIES)?
        .into_iter()
        .map(|r| (r.temperature.to_bits(), r.prompt, r.condition))
        .collect();
    records.retain(|r| !done.contains(&(r.temperature.to_bits(), r.prompt, r.condition)));
    if records.is_empty() {
        eprintln!("[perplexity] every generated text is scored");
        return Ok(());
    }
    let scorer = Model::open(scorer_path)
        .with_context(|| format!("loading the scorer {}", scorer_path.display()))?;
    let stok = Tokenizer::from_gguf(scorer.gguf())?;
    let mut session = Session::new(
        &scorer,
        &SessionParams {
            n_ctx: Some(N_CTX.min(scorer.hparams.n_ctx_train)),
            n_threads: Some(args.threads),
            ..SessionParams::default()
        },
    )?;
    let total = records.len();
    for (k, r) in records.iter().enumerate() {
        let t0 = Instant::now();
        let text = tok.decode(&r.ids, false)?;
        let context = stok.encode(&format!("{}\n\n", prompts[r.prompt]), true)?;
        let body = stok.encode(&text, false)?;
        let nll = negative_log_likelihood(&mut session, &context, &body)?;
        cache.append(
            PERPLEXITIES,
            &PerplexityRecord {
                temperature: r.temperature,
                prompt: r.prompt,
                condition: r.condition,
                tokens: body.len(),
                nll,
            },
        )?;
        eprintln!(
            "[perplexity] {}/{total} T={} prompt {} {}: {} tokens, ppl {:.2}, {:.1} s",
            k + 1,
            r.temperature,
            r.prompt,
            r.condition.name(),
            body.len(),
            (nll / body.len().max(1) as f64).exp(),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The summed negative log-likelihood (nats) of `body` after `context`.
fn negative_log_likelihood(
    session: &mut Session<'_>,
    context: &[u32],
    body: &[u32],
) -> Result<f64> {
    let all: Vec<u32> = context.iter().chain(body).copied().collect();
    session.reset();
    let mut rows = Vec::new();
    let mut nll = 0.0f64;
    // The last token's logits predict nothing we score, so it is never run.
    let fed = &all[..all.len().saturating_sub(1)];
    for (c, chunk) in fed.chunks(CHUNK).enumerate() {
        rows.clear();
        session.logits_all(chunk, &mut rows)?;
        let n_vocab = rows.len() / chunk.len();
        for (r, row) in rows.chunks_exact(n_vocab).enumerate() {
            let target_pos = c * CHUNK + r + 1;
            if target_pos < context.len() {
                continue;
            }
            let target = all[target_pos] as usize;
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let sum: f64 = row.iter().map(|&x| f64::from(x - max).exp()).sum();
            nll += sum.ln() - f64::from(row[target] - max);
        }
    }
    Ok(nll)
}
