//! Each text's perplexity under the larger scorer model, given its prompt: the quality cost of a
//! watermark is the scorer's perplexity of watermarked replies over that of unwatermarked ones.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use retort::loader::open_model_and_tokenizer;
use retort::session::{Session, SessionParams};
use retort::tokenizer::Tokenizer;

use super::cache::{Cache, GenerationRecord, PerplexityRecord, GENERATIONS, PERPLEXITIES};
use super::{WatermarkEvalArgs, TEMPERATURES};

/// Room for a prompt and a 400-token reply in any scorer's tokens.
const N_CTX: usize = 2048;

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
    records.retain(|r| r.prompt < limit && args.mine(r.prompt) && args.wants(r.condition));
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
    let (scorer, stok) = open_model_and_tokenizer(scorer_path, &retort::catalog::load_params())
        .with_context(|| format!("loading the scorer {}", scorer_path.display()))?;
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

/// The summed negative log-likelihood (nats) of `body` after `context`, at prefill speed.
fn negative_log_likelihood(
    session: &mut Session<'_>,
    context: &[u32],
    body: &[u32],
) -> Result<f64> {
    let all: Vec<u32> = context.iter().chain(body).copied().collect();
    session.reset();
    // Position i's log-probability is that of all[i + 1]: the body's first token is predicted
    // at the context's last position.
    let from = context.len().saturating_sub(1);
    let lps = session.token_log_probs(&all, from)?;
    Ok(-lps.iter().sum::<f64>())
}
