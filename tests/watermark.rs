//! The watermark as a library user sees it: calibrated p-values, marked generations from a real
//! model that verify under their key and only under it, a distortion-free draw that follows the
//! model's distribution, and a verifier that needs the vocabulary only.

mod support;

use std::io::Write;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort::gguf::{GgufError, GgufFile, GgufHeader};
use retort::model::Model;
use retort::sampling::{Sampler, SamplerParams};
use retort::session::{Session, SessionParams};
use retort::tokenizer::{GgufVocab, Tokenizer};
use retort::watermark::{
    binomial_sf, Detector, DetectorParams, KeyFile, Scheme, SchemeKind, SecretKey, Verdict,
    VocabularyId, Watermark,
};

const SMOLLM2: &str = "smollm2-135m-instruct-q4_1";

fn watermark(kind: SchemeKind, seed: u64) -> Watermark {
    let key = SecretKey::from_bytes(ChaCha8Rng::seed_from_u64(seed).random());
    Watermark::new(KeyFile::new(key, Scheme::default_for(kind), None)).unwrap()
}

fn detector(w: &Watermark) -> Detector {
    Detector::new(w.clone(), DetectorParams::default()).unwrap()
}

/// The Kolmogorov–Smirnov p-value of `samples` against Uniform(0, 1) (asymptotic law with
/// Stephens' small-sample correction).
fn ks_uniform_p(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len() as f64;
    let d = samples
        .iter()
        .enumerate()
        .map(|(i, &x)| (x - i as f64 / n).max((i as f64 + 1.0) / n - x))
        .fold(0.0, f64::max);
    let lambda = (n.sqrt() + 0.12 + 0.11 / n.sqrt()) * d;
    let mut p = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        p += 2.0 * (-1f64).powf(k - 1.0) * (-2.0 * k * k * lambda * lambda).exp();
    }
    p.clamp(0.0, 1.0)
}

/// A p-value made exactly uniform under the null: the green count is discrete, so its exact
/// p-value P(X ≥ k) is conservative (steps); drawing uniformly inside the step at k makes it
/// continuous, which a KS test can then check against the uniform law.
fn randomized_p(v: &Verdict, rng: &mut ChaCha8Rng) -> f64 {
    match v.green_fraction {
        Some(_) => {
            let k = v.score.round() as u64;
            let n = v.scored_tokens as u64;
            let rate = v.expected_score / n as f64;
            let above = binomial_sf(k + 1, n, rate);
            let at_or_above = binomial_sf(k, n, rate);
            above + rng.random::<f64>() * (at_or_above - above)
        }
        None => v.p_value,
    }
}

/// Random token sequences: uniform over the vocabulary, or Zipf-like over 40 ids (so contexts and
/// (anchor, token) pairs repeat a lot — the test that the detector counts each PRF input once).
fn random_texts(seed: u64, zipf: bool) -> Vec<Vec<u32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..2000)
        .map(|_| {
            let len = rng.random_range(20..300);
            (0..len)
                .map(|_| {
                    if zipf {
                        // Inverse CDF of a 1/x law on 1..40.
                        let u: f64 = rng.random();
                        (40f64.powf(u) as u32).min(39)
                    } else {
                        rng.random_range(0..49_152)
                    }
                })
                .collect()
        })
        .collect()
}

/// The p-value's guarantee is over the key: for any text written without the key, a random key
/// gives a uniform p-value. So every text is scored under its own key (under one key, texts
/// that share frequent (anchor, token) pairs share their colours and are not independent draws).
#[test]
fn p_values_are_calibrated_on_random_text() {
    for kind in [SchemeKind::GreenList, SchemeKind::DistortionFree] {
        for zipf in [false, true] {
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            let verdicts: Vec<Verdict> = random_texts(3, zipf)
                .iter()
                .enumerate()
                .map(|(i, t)| detector(&watermark(kind, 1_000_000 + i as u64)).score(t))
                .collect();
            let ps: Vec<f64> = verdicts.iter().map(|v| randomized_p(v, &mut rng)).collect();
            let ks = ks_uniform_p(ps);
            assert!(ks > 0.01, "{kind} zipf={zipf}: KS p = {ks}");
            // The exact p-values themselves never reject more often than they say.
            for alpha in [0.01, 0.05, 0.2] {
                let rate = verdicts.iter().filter(|v| v.p_value <= alpha).count() as f64
                    / verdicts.len() as f64;
                assert!(
                    rate <= alpha + 3.0 * (alpha / 2000.0).sqrt(),
                    "{kind} zipf={zipf} {alpha}: {rate}"
                );
            }
            if zipf {
                let r = verdicts.iter().map(|v| v.repeated_tokens).sum::<usize>();
                assert!(r > 500, "{kind}: only {r} repeats");
            }
        }
    }
}

/// Without counting each input once, a repeated n-gram would be "watermarked" under some keys;
/// with it, a text of one n-gram repeated has only a handful of scored tokens.
#[test]
fn one_repeated_ngram_is_not_watermarked() {
    let tok = tokenizer();
    let ids = tok
        .encode(&"the cat sat on the mat. ".repeat(300), false)
        .unwrap();
    for kind in [SchemeKind::GreenList, SchemeKind::DistortionFree] {
        for seed in 0..50 {
            let v = detector(&watermark(kind, seed)).score(&ids);
            assert!(!v.watermarked, "{kind} key {seed}: {v:?}");
            assert!(v.scored_tokens <= 12, "{kind}: {} scored", v.scored_tokens);
            assert!(v.repeated_tokens > 2000);
        }
    }
}

fn tokenizer() -> Tokenizer {
    let file = GgufFile::open(support::model_path(SMOLLM2)).unwrap();
    Tokenizer::from_gguf(&file).unwrap()
}

/// `n` tokens from SmolLM2 after `prompt` with end-of-generation banned, as `retort run --chat`
/// samples them.
fn generate(
    model: &Model,
    tok: &Tokenizer,
    prompt: &str,
    params: SamplerParams,
    n: usize,
) -> Vec<u32> {
    let mut session = Session::new(
        model,
        &SessionParams {
            n_ctx: Some(512),
            ..SessionParams::default()
        },
    )
    .unwrap();
    let prompt_ids = tok
        .encode(
            &format!("<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"),
            false,
        )
        .unwrap();
    let mut sampler = Sampler::new(params, tok.n_vocab()).unwrap();
    let mut history = prompt_ids.clone();
    let mut logits = session.prefill(&prompt_ids).unwrap().to_vec();
    let mut out = Vec::new();
    loop {
        for &e in tok.end_of_generation_ids() {
            logits[e as usize] = f32::NEG_INFINITY;
        }
        let t = sampler.sample(&logits, &history);
        out.push(t);
        history.push(t);
        if out.len() == n {
            return out;
        }
        logits = session.decode(t).unwrap().to_vec();
    }
}

#[test]
fn watermarked_generations_verify_under_their_key_only() {
    let model = Model::open(support::model_path(SMOLLM2)).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    for (kind, seed) in [(SchemeKind::GreenList, 1), (SchemeKind::DistortionFree, 2)] {
        let w = watermark(kind, 100 + seed);
        let params = SamplerParams {
            temperature: 1.0,
            seed,
            watermark: Some(w.clone()),
            ..SamplerParams::default()
        };
        let ids = generate(
            &model,
            &tok,
            "Write a story about a lighthouse keeper who finds a message in a bottle.",
            params,
            200,
        );
        // The verifier sees text: decode, then tokenize again.
        let text = tok.decode(&ids, false).unwrap();
        let seen = tok.encode(&text, false).unwrap();
        let v = detector(&w).score(&seen);
        assert!(v.watermarked && v.p_value < 1e-9, "{kind}: {v:?}\n{text}");
        for other in 0..20 {
            let v = detector(&watermark(kind, 5000 + other)).score(&seen);
            assert!(!v.watermarked, "{kind} under another key: {v:?}");
        }
        // The unmarked text of the same prompt and seed is not watermarked.
        let plain = generate(
            &model,
            &tok,
            "Write a story about a lighthouse keeper who finds a message in a bottle.",
            SamplerParams {
                temperature: 1.0,
                seed,
                ..SamplerParams::default()
            },
            200,
        );
        let v = detector(&w).score(
            &tok.encode(&tok.decode(&plain, false).unwrap(), false)
                .unwrap(),
        );
        assert!(!v.watermarked, "{kind} unmarked: {v:?}");
    }
}

/// The distortion-free draw over many keys follows the sampler's distribution for real logits
/// (SmolLM2 after a prompt; temperature 1, top-k 40): a chi-square test at a fixed seed.
#[test]
fn distortion_free_follows_the_model_over_keys() {
    let model = Model::open(support::model_path(SMOLLM2)).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let mut session = Session::new(&model, &SessionParams::default()).unwrap();
    let prompt = tok
        .encode("Once upon a time, in a small village by the", true)
        .unwrap();
    let logits = session.prefill(&prompt).unwrap().to_vec();
    // The sampler's distribution at temperature 1 with top-k 40 (no top-p, no min-p).
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    order.truncate(40);
    let max = logits[order[0]] as f64;
    let weights: Vec<f64> = order
        .iter()
        .map(|&i| (logits[i] as f64 - max).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let n = 20_000usize;
    let mut counts = vec![0usize; 40];
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for _ in 0..n {
        let key = SecretKey::from_bytes(rng.random());
        let mut scheme = Scheme::default_for(SchemeKind::DistortionFree);
        if let Scheme::DistortionFree(p) = &mut scheme {
            p.free_draws = 0.0;
        }
        let w = Watermark::new(KeyFile::new(key, scheme, None)).unwrap();
        let mut s = Sampler::new(
            SamplerParams {
                temperature: 1.0,
                top_k: 40,
                top_p: 1.0,
                min_p: 0.0,
                watermark: Some(w),
                ..SamplerParams::default()
            },
            logits.len(),
        )
        .unwrap();
        let t = s.sample(&logits, &prompt) as usize;
        counts[order.iter().position(|&i| i == t).expect("a top-40 token")] += 1;
    }
    // Bins with fewer than 5 expected draws are pooled.
    let (mut stat, mut bins, mut pool_obs, mut pool_exp) = (0.0, 0usize, 0.0, 0.0);
    for (c, w) in counts.iter().zip(&weights) {
        let e = n as f64 * w / total;
        if e < 5.0 {
            pool_obs += *c as f64;
            pool_exp += e;
        } else {
            stat += (*c as f64 - e).powi(2) / e;
            bins += 1;
        }
    }
    if pool_exp > 0.0 {
        stat += (pool_obs - pool_exp).powi(2) / pool_exp;
        bins += 1;
    }
    let p = statrs::function::gamma::gamma_ur((bins - 1) as f64 / 2.0, stat / 2.0);
    assert!(p > 1e-3, "chi-square {stat:.1} over {bins} bins: p = {p}");
}

/// A GGUF cut right after its metadata and tensor infos (no tensor data at all): the full open
/// refuses it, the vocabulary-only open reads the same tokenizer from it.
#[test]
fn the_verifier_needs_the_vocabulary_only() {
    let path = support::model_path(SMOLLM2);
    let full = GgufFile::open(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("no-weights.gguf");
    std::fs::File::create(&cut)
        .unwrap()
        .write_all(&bytes[..full.data_offset() as usize])
        .unwrap();
    match GgufFile::open(&cut) {
        Err(GgufError::TensorOutOfBounds { .. }) => {}
        other => panic!("the full open must refuse a file without tensor data: {other:?}"),
    }
    let header = GgufHeader::open(&cut).unwrap();
    assert_eq!(header.tensor_count(), full.tensors().len() as u64);
    assert!(header.metadata_bytes() < full.data_offset());
    let from_header =
        Tokenizer::from_vocab(&GgufVocab::from_metadata(header.metadata()).unwrap()).unwrap();
    let from_full = Tokenizer::from_gguf(&full).unwrap();
    assert_eq!(VocabularyId::of(&from_header), VocabularyId::of(&from_full));
    let text = "The lighthouse keeper climbed the stairs, 112 of them, as every night.";
    assert_eq!(
        from_header.encode(text, false).unwrap(),
        from_full.encode(text, false).unwrap()
    );
    // The whole file read through the header path reads no more than the metadata.
    let header_of_full = GgufHeader::from_bytes(&bytes).unwrap();
    assert_eq!(header_of_full.metadata_bytes(), header.metadata_bytes());
}
