//! What the watermark costs a decode step: the sampler's time per token with and without each
//! scheme, next to the model's decode time per token, on SmolLM2-135M with one thread.
//!
//! A busy host's speed comes and goes, so every measurement is the fastest of many short
//! batches, and the batches of the different samplers alternate, so they meet the same quiet
//! moments (as `kernels_fastest` does).
//!
//! ```sh
//! cargo bench --bench watermark_overhead            # about a minute; -- SECONDS to change it
//! ```

use std::time::{Duration, Instant};

use retort::catalog::{self, Catalog, NoProgress};
use retort::model::Model;
use retort::sampling::{Sampler, SamplerParams};
use retort::session::{Session, SessionParams};
use retort::tokenizer::Tokenizer;
use retort::watermark::{KeyFile, Scheme, SchemeKind, SecretKey, Watermark};

const STEPS: usize = 64;

fn main() {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(40.0);
    let catalog = Catalog::builtin().expect("catalog");
    let path = catalog::resolve(&catalog, "smollm2-135m-instruct-q4_1", &mut NoProgress)
        .expect("the default model");
    let model = Model::open(&path).expect("model");
    let tok = Tokenizer::from_gguf(model.gguf()).expect("tokenizer");
    let session_params = SessionParams {
        n_ctx: Some(512),
        n_threads: Some(1),
        ..SessionParams::default()
    };
    let mut session = Session::new(&model, &session_params).expect("session");
    let prompt = tok
        .encode(
            "<|im_start|>user\nWrite a story about a lighthouse keeper.<|im_end|>\n<|im_start|>assistant\n",
            false,
        )
        .expect("prompt");

    // The logits of a real generation, step by step, and its history.
    let mut sampler = Sampler::new(SamplerParams::default(), tok.n_vocab()).expect("sampler");
    let mut history = prompt.clone();
    let mut steps: Vec<Vec<f32>> = Vec::with_capacity(STEPS);
    let mut logits = session.prefill(&prompt).expect("prefill").to_vec();
    for _ in 0..STEPS {
        let t = sampler.sample(&logits, &history);
        steps.push(logits.clone());
        history.push(t);
        logits = session.decode(t).expect("decode").to_vec();
    }

    let key = |kind| {
        Watermark::new(KeyFile::new(
            SecretKey::from_passphrase("retort watermark overhead bench").expect("key"),
            Scheme::default_for(kind),
            None,
        ))
        .expect("watermark")
    };
    let configs: Vec<(&str, SamplerParams)> = {
        let mut v = Vec::new();
        for (name, base) in [
            ("defaults (top-k 40)", SamplerParams::default()),
            (
                "top-k 0, top-p 0.95",
                SamplerParams {
                    top_k: 0,
                    min_p: 0.0,
                    ..SamplerParams::default()
                },
            ),
        ] {
            v.push((name, "none", base.clone()));
            for (label, kind) in [
                ("green", SchemeKind::GreenList),
                ("distortion-free", SchemeKind::DistortionFree),
            ] {
                v.push((
                    name,
                    label,
                    SamplerParams {
                        watermark: Some(key(kind)),
                        ..base.clone()
                    },
                ));
            }
        }
        v.into_iter()
            .map(|(a, b, p)| (Box::leak(format!("{a} | {b}").into_boxed_str()) as &str, p))
            .collect()
    };

    let n_vocab = tok.n_vocab();
    let run_sampler = |params: &SamplerParams| {
        let mut s = Sampler::new(params.clone(), n_vocab).expect("sampler");
        let t0 = Instant::now();
        for (i, l) in steps.iter().enumerate() {
            std::hint::black_box(s.sample(l, &history[..prompt.len() + i]));
        }
        t0.elapsed()
    };
    let mut decode_session = Session::new(&model, &session_params).expect("session");
    let mut run_decode = || {
        decode_session.reset();
        decode_session.prefill(&prompt).expect("prefill");
        let t0 = Instant::now();
        for &t in &history[prompt.len()..] {
            std::hint::black_box(decode_session.decode(t).expect("decode"));
        }
        t0.elapsed()
    };

    let mut best_sampler = vec![Duration::MAX; configs.len()];
    let mut best_decode = Duration::MAX;
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed().as_secs_f64() < seconds || rounds < 3 {
        best_decode = best_decode.min(run_decode());
        for (b, (_, p)) in best_sampler.iter_mut().zip(&configs) {
            *b = (*b).min(run_sampler(p));
        }
        rounds += 1;
    }
    let per_token = |d: Duration| d.as_secs_f64() / STEPS as f64;
    let decode = per_token(best_decode);
    println!(
        "SmolLM2-135M Q4_1, 1 thread, fastest of {rounds} rounds of {STEPS} steps: decode {:.3} ms/token\n",
        decode * 1e3
    );
    println!("| sampler | watermark | µs/token | overhead on decode + sampling |");
    println!("|---|---|---|---|");
    for (i, (name, _)) in configs.iter().enumerate() {
        let base = per_token(best_sampler[i - i % 3]);
        let mine = per_token(best_sampler[i]);
        let (sampler, mark) = name.split_once(" | ").expect("label");
        println!(
            "| {sampler} | {mark} | {:.1} | {:+.2} % |",
            mine * 1e6,
            100.0 * (mine - base) / (decode + base)
        );
    }
}
