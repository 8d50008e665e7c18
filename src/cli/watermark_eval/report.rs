//! The evaluation's tables, made from whatever the cache holds: detection, false positives,
//! robustness, perplexity cost and verifier speed, as `report.md` and `report.json`.
//!
//! Every text is scored the way `retort verify` scores it: its ids are decoded to text and the
//! text is tokenized again.
//!
//! A partial cache (a run stopped or still going) is reported over its complete prompts only: a
//! prompt counts at a temperature when its texts under all three conditions are there, and only
//! those texts (and their paraphrases and perplexities) enter the tables, so every comparison
//! between conditions is over the same prompts. The report says how many prompts that is.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use retort::tokenizer::{TokenType, Tokenizer};
use retort::watermark::{Detector, DetectorParams, SchemeKind, Verdict, Watermark};
use serde_json::{json, Value};

use super::attacks::{self, Attack};
use super::cache::{
    Cache, GenerationRecord, ParaphraseRecord, PerplexityRecord, GENERATIONS, PARAPHRASES,
    PERPLEXITIES,
};
use super::{derived_seed, Condition, Config, Keys, WatermarkEvalArgs, LENGTHS, TEMPERATURES};

const FPRS: [f64; 2] = [1e-3, 1e-6];
const RATES: [f64; 3] = [0.1, 0.2, 0.3];
const SCHEMES: [SchemeKind; 2] = [SchemeKind::GreenList, SchemeKind::DistortionFree];

fn condition_of(kind: SchemeKind) -> Condition {
    match kind {
        SchemeKind::GreenList => Condition::Green,
        SchemeKind::DistortionFree => Condition::DistortionFree,
    }
}

/// Text ids as the verifier sees them: decoded, then tokenized again.
fn as_verified(tok: &Tokenizer, ids: &[u32]) -> Result<Vec<u32>> {
    Ok(tok.encode(&tok.decode(ids, false)?, false)?)
}

fn detector(w: &Watermark) -> Detector {
    Detector::new(w.clone(), DetectorParams::default()).expect("default detector parameters")
}

fn rate_at(verdicts: &[f64], fpr: f64) -> f64 {
    if verdicts.is_empty() {
        return f64::NAN;
    }
    verdicts.iter().filter(|&&p| p <= fpr).count() as f64 / verdicts.len() as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pct(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{:.3}", x)
    }
}

/// Null-text false positives under one scheme.
#[derive(Default)]
struct NullTally {
    count: usize,
    fp: [usize; 2],
    min_p: f64,
}

impl NullTally {
    fn add(&mut self, v: &Verdict) {
        if self.count == 0 {
            self.min_p = 1.0;
        }
        self.count += 1;
        for (i, &f) in FPRS.iter().enumerate() {
            if v.p_value <= f {
                self.fp[i] += 1;
            }
        }
        self.min_p = self.min_p.min(v.p_value);
    }
}

/// Writes `report.md` and `report.json` into `out`.
#[allow(clippy::too_many_arguments)]
pub fn write(
    tok: &Tokenizer,
    prompts: &[String],
    keys: &Keys,
    cache: &Cache,
    args: &WatermarkEvalArgs,
    config: &Config,
    human: &str,
    out: &Path,
) -> Result<()> {
    let t_start = Instant::now();
    let all_gens: Vec<GenerationRecord> = cache.read(GENERATIONS)?;
    // The complete prompts of each temperature: all three conditions generated.
    let complete: HashMap<u32, BTreeSet<usize>> = TEMPERATURES
        .iter()
        .map(|&t| {
            let has = |p: usize, c: Condition| {
                all_gens
                    .iter()
                    .any(|r| r.temperature == t && r.prompt == p && r.condition == c)
            };
            let done = (0..prompts.len())
                .filter(|&p| Condition::ALL.iter().all(|&c| has(p, c)))
                .collect();
            (t.to_bits(), done)
        })
        .collect();
    let is_complete = |t: f32, p: usize| complete.get(&t.to_bits()).is_some_and(|s| s.contains(&p));
    let gens: Vec<GenerationRecord> = all_gens
        .iter()
        .filter(|r| is_complete(r.temperature, r.prompt))
        .cloned()
        .collect();
    let paraphrases: Vec<ParaphraseRecord> = cache
        .read::<ParaphraseRecord>(PARAPHRASES)?
        .into_iter()
        .filter(|r| is_complete(r.temperature, r.prompt))
        .collect();
    let perplexities: Vec<PerplexityRecord> = cache
        .read::<PerplexityRecord>(PERPLEXITIES)?
        .into_iter()
        .filter(|r| is_complete(r.temperature, r.prompt))
        .collect();
    let lengths: Vec<usize> = LENGTHS
        .iter()
        .copied()
        .filter(|&l| l <= args.tokens)
        .collect();
    let mut md = String::new();
    let mut js = serde_json::Map::new();
    writeln!(
        md,
        "# Watermark evaluation\n\n`retort watermark-eval --seed {}` — model `{}`, {} prompts, \
         {} tokens per text, sampler: CLI defaults (top-k 40, top-p 0.95, min-p 0.05) at \
         temperatures {:?}; end-of-generation and control tokens banned so every text is full \
         length; shorter lengths are prefixes. Texts are scored as `retort verify` scores them \
         (decoded, then tokenized again).\n\nSchemes: {} · {}\n",
        args.seed,
        config.model,
        prompts.len(),
        args.tokens,
        TEMPERATURES,
        keys.green.scheme(),
        keys.distortion_free.scheme()
    )?;
    js.insert("config".into(), serde_json::to_value(config)?);
    let count = |t: f32, c: Condition| {
        gens.iter()
            .filter(|r| r.temperature == t && r.condition == c)
            .count()
    };
    writeln!(
        md,
        "Coverage: a prompt enters the tables at a temperature when its texts under all three \
         conditions are cached ({} texts cached in all, {} of them in complete prompts).\n",
        all_gens.len(),
        gens.len()
    )?;
    writeln!(
        md,
        "| T | complete prompts (of {}) | prompt indices | none | green | distortion-free \
         |\n|---|---|---|---|---|---|",
        prompts.len()
    )?;
    let mut coverage_js = Vec::new();
    for &t in &TEMPERATURES {
        let done = &complete[&t.to_bits()];
        let ranges = index_ranges(done);
        writeln!(
            md,
            "| {t} | {} | {ranges} | {} | {} | {} |",
            done.len(),
            count(t, Condition::Plain),
            count(t, Condition::Green),
            count(t, Condition::DistortionFree)
        )?;
        coverage_js.push(json!({
            "temperature": t, "complete_prompts": done.len(), "of": prompts.len(),
            "prompt_indices": ranges,
        }));
    }
    js.insert("coverage".into(), Value::Array(coverage_js));

    // Verified ids of every text at every length, made once.
    let mut verified: HashMap<(u32, usize, Condition, usize), Vec<u32>> = HashMap::new();
    for r in &gens {
        for &l in &lengths {
            let ids = &r.ids[..l.min(r.ids.len())];
            verified.insert(
                (r.temperature.to_bits(), r.prompt, r.condition, l),
                as_verified(tok, ids)?,
            );
        }
    }
    let text = |t: f32, p: usize, c: Condition, l: usize| verified.get(&(t.to_bits(), p, c, l));

    // --- Detection ---
    writeln!(
        md,
        "\n## Detection (true-positive rate at FPR 1e-3 / 1e-6)\n\n| scheme | T | tokens | \
         texts | TPR@1e-3 | TPR@1e-6 | median z | median p | mean scored |\n\
         |---|---|---|---|---|---|---|---|---|"
    )?;
    let mut detection = Vec::new();
    for kind in SCHEMES {
        let d = detector(keys.for_scheme(kind));
        for &t in &TEMPERATURES {
            for &l in &lengths {
                let scored_texts: Vec<(usize, Verdict)> = (0..prompts.len())
                    .filter_map(|p| text(t, p, condition_of(kind), l).map(|ids| (p, d.score(ids))))
                    .collect();
                // The texts missed at 1e-6, by prompt, to read why (loops show as few scored).
                let missed: Vec<Value> = scored_texts
                    .iter()
                    .filter(|(_, v)| v.p_value > 1e-6)
                    .map(|(p, v)| json!({"prompt": p, "p_value": v.p_value, "scored": v.scored_tokens}))
                    .collect();
                let verdicts: Vec<Verdict> = scored_texts.into_iter().map(|(_, v)| v).collect();
                let ps: Vec<f64> = verdicts.iter().map(|v| v.p_value).collect();
                let zs: Vec<f64> = verdicts.iter().filter_map(|v| v.z).collect();
                let scored = verdicts.iter().map(|v| v.scored_tokens).sum::<usize>() as f64
                    / verdicts.len().max(1) as f64;
                let row = json!({
                    "scheme": kind.name(), "temperature": t, "tokens": l,
                    "texts": verdicts.len(),
                    "tpr_1e-3": rate_at(&ps, 1e-3), "tpr_1e-6": rate_at(&ps, 1e-6),
                    "median_z": median(zs.clone()), "median_p": median(ps.clone()),
                    "mean_scored": scored, "missed_1e-6": missed,
                });
                writeln!(
                    md,
                    "| {} | {t} | {l} | {} | {} | {} | {:.2} | {:.1e} | {:.0} |",
                    kind.name(),
                    verdicts.len(),
                    pct(rate_at(&ps, 1e-3)),
                    pct(rate_at(&ps, 1e-6)),
                    median(zs),
                    median(ps),
                    scored
                )?;
                detection.push(row);
            }
        }
    }
    js.insert("detection".into(), Value::Array(detection));

    // --- Null texts ---
    let human_ids = tok.encode(human, false)?;
    let mut human_pieces: Vec<(usize, Vec<u32>)> = Vec::new();
    for &l in &lengths {
        for chunk in human_ids.chunks_exact(l) {
            human_pieces.push((l, as_verified(tok, chunk)?));
        }
    }
    writeln!(
        md,
        "\n## False positives over null texts\n\nEvery text below was written without the key \
         it is scored under. Expected false positives at FPR f: count × f.\n\n| scheme | null \
         texts | count | FP@1e-3 | FP@1e-6 | smallest p |\n|---|---|---|---|---|---|"
    )?;
    let mut nulls_js = Vec::new();
    let mut all_nulls = [0usize; 2];
    let mut all_fp = [[0usize; 2]; 2];
    for (s, kind) in SCHEMES.into_iter().enumerate() {
        let own = detector(keys.for_scheme(kind));
        let others: Vec<Detector> = keys.others(kind).iter().map(detector).collect();
        let mut tallies: Vec<(String, NullTally)> = Vec::new();
        // Unwatermarked generations under the scheme's key.
        let mut t = NullTally::default();
        for ((_, _, c, _), ids) in &verified {
            if *c == Condition::Plain {
                t.add(&own.score(ids));
            }
        }
        tallies.push(("unwatermarked generations, the key".into(), t));
        // Watermarked generations (both schemes) under other keys of this scheme, and the other
        // scheme's texts under this scheme's key.
        let mut t = NullTally::default();
        for ((_, _, c, _), ids) in &verified {
            if *c == Condition::Plain {
                continue;
            }
            for d in &others {
                t.add(&d.score(ids));
            }
            if *c != condition_of(kind) {
                t.add(&own.score(ids));
            }
        }
        tallies.push((
            format!(
                "watermarked generations under {} other keys (and the other scheme's under the key)",
                others.len()
            ),
            t,
        ));
        // Human text, under the key and the other keys.
        let mut t = NullTally::default();
        for (_, ids) in &human_pieces {
            t.add(&own.score(ids));
            for d in &others {
                t.add(&d.score(ids));
            }
        }
        tallies.push((
            format!(
                "human text ({} pieces of {:?} tokens) under {} keys",
                human_pieces.len(),
                lengths,
                others.len() + 1
            ),
            t,
        ));
        for (name, t) in &tallies {
            all_nulls[s] += t.count;
            all_fp[s][0] += t.fp[0];
            all_fp[s][1] += t.fp[1];
            writeln!(
                md,
                "| {} | {name} | {} | {} | {} | {:.1e} |",
                kind.name(),
                t.count,
                t.fp[0],
                t.fp[1],
                t.min_p
            )?;
            nulls_js.push(json!({
                "scheme": kind.name(), "texts": name, "count": t.count,
                "fp_1e-3": t.fp[0], "fp_1e-6": t.fp[1], "min_p": t.min_p,
            }));
        }
    }
    writeln!(
        md,
        "\nIn all: {} null texts, {} false positives at 1e-6 ({} at 1e-3, expected about {:.0}).",
        all_nulls[0] + all_nulls[1],
        all_fp[0][1] + all_fp[1][1],
        all_fp[0][0] + all_fp[1][0],
        (all_nulls[0] + all_nulls[1]) as f64 * 1e-3
    )?;
    js.insert("nulls".into(), Value::Array(nulls_js));

    // --- Robustness ---
    let pool: Vec<u32> = (0..tok.n_vocab() as u32)
        .filter(|&id| tok.token_type(id).is_ok_and(|t| t == TokenType::Normal))
        .collect();
    writeln!(
        md,
        "\n## Robustness (TPR at FPR 1e-6, with 1e-3 in brackets)\n\nEdits are made on the \
         verified ids of each watermarked text, which is then decoded and tokenized again. The \
         paraphrase-like attack re-generates every other sentence with the same model without \
         the key (T = {}, first {} prompts).\n\n| scheme | T | tokens | attack | 10 % | 20 % | \
         30 % |\n|---|---|---|---|---|---|---|",
        TEMPERATURES[0], args.paraphrase_prompts
    )?;
    let mut robust_js = Vec::new();
    for kind in SCHEMES {
        let d = detector(keys.for_scheme(kind));
        for &t in &TEMPERATURES {
            for &l in lengths.iter().filter(|&&l| l >= 200) {
                for attack in Attack::ALL {
                    let mut cells = Vec::new();
                    for &rate in &RATES {
                        let mut ps = Vec::new();
                        for p in 0..prompts.len() {
                            let Some(ids) = text(t, p, condition_of(kind), l) else {
                                continue;
                            };
                            let seed = derived_seed(
                                args.seed,
                                &format!("{}/{rate}/{l}", attack.name()),
                                t,
                                p,
                                condition_of(kind),
                            );
                            let mut rng = ChaCha8Rng::seed_from_u64(seed);
                            let edited = attacks::apply(attack, ids, rate, &pool, &mut rng);
                            ps.push(d.score(&as_verified(tok, &edited)?).p_value);
                        }
                        robust_js.push(json!({
                            "scheme": kind.name(), "temperature": t, "tokens": l,
                            "attack": attack.name(), "rate": rate, "texts": ps.len(),
                            "tpr_1e-6": rate_at(&ps, 1e-6), "tpr_1e-3": rate_at(&ps, 1e-3),
                        }));
                        cells.push(format!(
                            "{} ({})",
                            pct(rate_at(&ps, 1e-6)),
                            pct(rate_at(&ps, 1e-3))
                        ));
                    }
                    writeln!(
                        md,
                        "| {} | {t} | {l} | {} | {} |",
                        kind.name(),
                        attack.name(),
                        cells.join(" | ")
                    )?;
                }
            }
        }
        // Paraphrase, at each length up to the text's.
        for &l in lengths.iter().filter(|&&l| l >= 200) {
            let ps: Vec<f64> = paraphrases
                .iter()
                .filter(|r| r.condition == condition_of(kind))
                .map(|r| -> Result<f64> {
                    Ok(d.score(&as_verified(tok, &r.ids[..l.min(r.ids.len())])?)
                        .p_value)
                })
                .collect::<Result<_>>()?;
            let replaced: usize = paraphrases
                .iter()
                .filter(|r| r.condition == condition_of(kind))
                .map(|r| r.replaced)
                .sum();
            let sentences: usize = paraphrases
                .iter()
                .filter(|r| r.condition == condition_of(kind))
                .map(|r| r.sentences)
                .sum();
            robust_js.push(json!({
                "scheme": kind.name(), "temperature": TEMPERATURES[0], "tokens": l,
                "attack": "paraphrase", "texts": ps.len(),
                "tpr_1e-6": rate_at(&ps, 1e-6), "tpr_1e-3": rate_at(&ps, 1e-3),
                "sentences_replaced": replaced, "sentences": sentences,
            }));
            writeln!(
                md,
                "| {} | {} | {l} | paraphrase ({} texts, {replaced} of {sentences} sentences \
                 re-generated) | {} ({}) | | |",
                kind.name(),
                TEMPERATURES[0],
                ps.len(),
                pct(rate_at(&ps, 1e-6)),
                pct(rate_at(&ps, 1e-3))
            )?;
        }
    }
    js.insert("robustness".into(), Value::Array(robust_js));

    // --- Perplexity ---
    writeln!(
        md,
        "\n## Quality: perplexity under the scorer `{}`\n\nEach text's perplexity given its \
         prompt. The cost is the watermarked texts' perplexity over the unwatermarked ones', \
         paired by prompt: exp(mean per-prompt difference of mean log-likelihood per token), \
         with a 95 % interval (normal, over prompts).\n\n| T | watermark | texts | pooled ppl | \
         cost vs none | 95 % interval |\n|---|---|---|---|---|---|",
        args.scorer
    )?;
    let mut ppl_js = Vec::new();
    for &t in &TEMPERATURES {
        let per_text: HashMap<(usize, Condition), f64> = perplexities
            .iter()
            .filter(|r| r.temperature == t && r.tokens > 0)
            .map(|r| ((r.prompt, r.condition), r.nll / r.tokens as f64))
            .collect();
        for c in Condition::ALL {
            let mine: Vec<&PerplexityRecord> = perplexities
                .iter()
                .filter(|r| r.temperature == t && r.condition == c)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let pooled = (mine.iter().map(|r| r.nll).sum::<f64>()
                / mine.iter().map(|r| r.tokens).sum::<usize>().max(1) as f64)
                .exp();
            let diffs: Vec<f64> = mine
                .iter()
                .filter_map(|r| {
                    let base = per_text.get(&(r.prompt, Condition::Plain))?;
                    Some(r.nll / r.tokens.max(1) as f64 - base)
                })
                .collect();
            let (cost, lo, hi) = if c == Condition::Plain || diffs.len() < 2 {
                (f64::NAN, f64::NAN, f64::NAN)
            } else {
                let n = diffs.len() as f64;
                let mean = diffs.iter().sum::<f64>() / n;
                let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let se = (var / n).sqrt();
                (
                    mean.exp() - 1.0,
                    (mean - 1.96 * se).exp() - 1.0,
                    (mean + 1.96 * se).exp() - 1.0,
                )
            };
            ppl_js.push(json!({
                "temperature": t, "watermark": c.name(), "texts": mine.len(),
                "pooled_ppl": pooled, "paired_texts": diffs.len(),
                "cost": cost, "cost_low": lo, "cost_high": hi,
            }));
            let show = |x: f64| {
                if x.is_nan() {
                    "–".to_string()
                } else {
                    format!("{:+.1} %", 100.0 * x)
                }
            };
            writeln!(
                md,
                "| {t} | {} | {} | {pooled:.2} | {} | {} … {} |",
                c.name(),
                mine.len(),
                show(cost),
                show(lo),
                show(hi)
            )?;
        }
    }
    js.insert("perplexity".into(), Value::Array(ppl_js));

    // --- Verifier speed ---
    // As a verifier meets them: each generated text on its own (its own set of scored pairs),
    // and, apart, all of them as one long text (a set of hundreds of thousands of pairs).
    let texts: Vec<&[u32]> = gens.iter().map(|r| r.ids.as_slice()).collect();
    let stream: Vec<u32> = texts.concat();
    let mut speed_js = Vec::new();
    writeln!(
        md,
        "\n## Verifier speed (one core)\n\n| what | tokens | tokens/s |\n|---|---|---|"
    )?;
    if !stream.is_empty() {
        for kind in SCHEMES {
            let d = detector(keys.for_scheme(kind));
            let (n, secs) = timed(|| {
                texts
                    .iter()
                    .map(|ids| {
                        std::hint::black_box(d.score(ids));
                        ids.len()
                    })
                    .sum()
            });
            let (n_long, secs_long) = timed(|| {
                std::hint::black_box(d.score(&stream));
                stream.len()
            });
            writeln!(
                md,
                "| score ({}), {} texts one by one | {} | {:.2e} |\n\
                 | score ({}), the same as one text | {} | {:.2e} |",
                kind.name(),
                texts.len(),
                stream.len(),
                n as f64 / secs,
                kind.name(),
                stream.len(),
                n_long as f64 / secs_long
            )?;
            speed_js.push(json!({"what": format!("score {}", kind.name()),
                                 "tokens_per_s": n as f64 / secs,
                                 "one_text_tokens_per_s": n_long as f64 / secs_long}));
        }
        let decoded = texts
            .iter()
            .map(|ids| tok.decode(ids, false))
            .collect::<Result<Vec<String>, _>>()?;
        let bytes: usize = decoded.iter().map(String::len).sum();
        let (n, secs) = timed(|| {
            decoded
                .iter()
                .map(|t| tok.encode(t, false).map_or(0, |ids| ids.len()))
                .sum()
        });
        writeln!(
            md,
            "| tokenize (SmolLM2 vocabulary), {} texts one by one, {bytes} bytes | {} | {:.2e} |",
            texts.len(),
            n,
            n as f64 / secs
        )?;
        speed_js.push(json!({"what": "tokenize", "tokens_per_s": n as f64 / secs}));
    }
    js.insert("speed".into(), Value::Array(speed_js));

    std::fs::write(out.join("report.md"), &md)?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&Value::Object(js))?,
    )?;
    println!("{md}");
    eprintln!(
        "[report] {} and report.json written in {:.1} s",
        out.join("report.md").display(),
        t_start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `0–4, 6, 9–12`: a set of indices as ranges.
fn index_ranges(set: &BTreeSet<usize>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if end == start {
            start.to_string()
        } else {
            format!("{start}–{end}")
        });
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// Runs `f` (which returns the tokens it processed) until a second has passed; the total tokens
/// and seconds.
fn timed(mut f: impl FnMut() -> usize) -> (usize, f64) {
    let t0 = Instant::now();
    let mut n = 0;
    while t0.elapsed().as_secs_f64() < 1.0 {
        n += f();
    }
    (n, t0.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_ranges_join_runs() {
        let set: BTreeSet<usize> = [0, 1, 2, 3, 4, 6, 9, 10, 11, 12].into_iter().collect();
        assert_eq!(index_ranges(&set), "0–4, 6, 9–12");
        assert_eq!(index_ranges(&BTreeSet::new()), "none");
    }
}
