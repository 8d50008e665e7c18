//! Retort's forward pass against the independent numpy reference (tests/reference/forward.py):
//! on several prompts, at every position, the top-1 token must agree unless the reference itself
//! ranks the two candidates within [`NEAR_TIE`] logits, and the mean KL divergence between the
//! two next-token distributions must stay within 0.01 nats.
//!
//! Why near-ties are exempt: Retort multiplies 8-bit-quantized activations (as llama.cpp does),
//! so its logits differ from the f32 reference's by up to about 0.1 at these positions, and a
//! change at the level of float rounding anywhere upstream tips which side of a near-tie they
//! fall on. Measured: summing the attention dot products in four partial sums instead of eight
//! flipped SmolLM2's position 27 of the Fibonacci prompt (reference margin 0.092); the blocked
//! attention flipped Qwen2.5's position 6 of the capitals prompt (0.067) and 19 of the fisherman
//! prompt (0.040), the F16 KV cache Gemma 3's position 28 of the Fibonacci prompt (0.062). Every
//! mismatch is printed with both margins.

mod support;

use retort::model::Model;
use retort::session::{Session, SessionParams};
use retort::tokenizer::Tokenizer;

const PROMPTS: [&str; 3] = [
    "The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    if n < 2:\n        return n\n",
    "Once upon a time, in a small village by the sea, there lived an old fisherman who",
];

const MAX_MEAN_KL: f64 = 0.01;

/// Reference margins (its top-1 logit minus its logit of our top-1) up to this are near-ties.
const NEAR_TIE: f32 = 0.1;

struct Agreement {
    positions: usize,
    top1_mismatches: Vec<usize>,
    mean_kl: f64,
    max_kl: f64,
}

fn compare(model_name: &str, prompt: &str, threads: usize) -> Agreement {
    let path = support::model_path(model_name);
    let model = Model::open(&path).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let ids = tok.encode(prompt, true).unwrap();
    let (n_pos, n_vocab, reference) = support::reference_logits(&path, &ids);
    assert_eq!((n_pos, n_vocab), (ids.len(), model.hparams.n_vocab));

    let params = SessionParams {
        n_ctx: Some(1024),
        n_threads: Some(threads),
        ..Default::default()
    };
    let mut session = Session::new(&model, &params).unwrap();
    let mut ours = Vec::new();
    session.logits_all(&ids, &mut ours).unwrap();

    let mut a = Agreement {
        positions: n_pos,
        top1_mismatches: Vec::new(),
        mean_kl: 0.0,
        max_kl: 0.0,
    };
    for p in 0..n_pos {
        let r = &reference[p * n_vocab..][..n_vocab];
        let o = &ours[p * n_vocab..][..n_vocab];
        let (rt, ot) = (support::argmax(r), support::argmax(o));
        if rt != ot {
            let margin = r[rt] - r[ot];
            println!(
                "  position {p}: reference top-1 {rt} ({:.4}) vs ours {ot} ({:.4}); reference logit of ours {:.4} (margin {margin:.4}{}), our logit of theirs {:.4}",
                r[rt], o[ot], r[ot], if margin <= NEAR_TIE { ", a near-tie" } else { "" }, o[rt]
            );
            if margin > NEAR_TIE {
                a.top1_mismatches.push(p);
            }
        }
        let kl = support::kl_divergence(r, o);
        a.mean_kl += kl / n_pos as f64;
        a.max_kl = a.max_kl.max(kl);
    }
    a
}

fn check(model_name: &str) {
    for prompt in PROMPTS {
        let a = compare(model_name, prompt, 2);
        println!(
            "{model_name}: {} positions, mean KL {:.5} nats (max {:.5}), top-1 mismatches at {:?}",
            a.positions, a.mean_kl, a.max_kl, a.top1_mismatches
        );
        assert!(
            a.top1_mismatches.is_empty(),
            "{model_name}: top-1 differs from the reference at positions {:?} of {prompt:?}",
            a.top1_mismatches
        );
        assert!(
            a.mean_kl <= MAX_MEAN_KL,
            "{model_name}: mean KL {} > {MAX_MEAN_KL} on {prompt:?}",
            a.mean_kl
        );
    }
}

#[test]
fn smollm2_matches_the_reference() {
    check("smollm2-135m-instruct-q4_1");
}

#[test]
fn gemma3_matches_the_reference() {
    check("gemma3-270m-q4_k_m");
}

#[test]
fn qwen2_matches_the_reference() {
    check("qwen2.5-coder-0.5b-instruct-q4_k_m");
}

/// The 1.5B Qwen, checked once by hand (not in CI: a 1.1 GB download and minutes of numpy):
/// `retort pull qwen2.5-coder-1.5b-instruct-q4_k_m`, then
/// `cargo test --test forward_reference qwen2_1_5b -- --ignored --nocapture`.
///
/// Its criterion differs from the CI models' in two stated ways. Position 0 (the first prompt
/// token, which this model turns into an attention sink with activations in the thousands) is
/// reported, not asserted: 8-bit activations of those rows lose the small elements that share a
/// block with the huge ones, so Retort's position-0 logits differ from the f32 reference's (KL
/// 3–7 nats) exactly as llama.cpp's do (both pick "0" after "The", the reference "1"); with f32
/// activations the KL there drops to 0.002. And top-1 must agree wherever the reference's own
/// margin exceeds 0.01 logits (one position on these prompts is a 0.0007-logit tie).
#[test]
#[ignore = "the 1.5B model is not pulled in CI (size and reference time)"]
fn qwen2_1_5b_matches_the_reference() {
    let name = "qwen2.5-coder-1.5b-instruct-q4_k_m";
    let path = support::model_path(name);
    let model = Model::open(&path).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    for prompt in PROMPTS {
        let ids = tok.encode(prompt, true).unwrap();
        let (n_pos, n_vocab, reference) = support::reference_logits(&path, &ids);
        let params = SessionParams {
            n_ctx: Some(1024),
            n_threads: Some(2),
            ..Default::default()
        };
        let mut session = Session::new(&model, &params).unwrap();
        let mut ours = Vec::new();
        session.logits_all(&ids, &mut ours).unwrap();
        let (mut mean_kl, mut flips) = (0.0, Vec::new());
        for p in 0..n_pos {
            let r = &reference[p * n_vocab..][..n_vocab];
            let o = &ours[p * n_vocab..][..n_vocab];
            let kl = support::kl_divergence(r, o);
            let (rt, ot) = (support::argmax(r), support::argmax(o));
            if p == 0 {
                println!("{name}: position 0: KL {kl:.4}, top-1 ours {ot} reference {rt}");
                continue;
            }
            mean_kl += kl / (n_pos - 1) as f64;
            if rt != ot {
                let margin = r[rt] - r[ot];
                println!("{name}: position {p}: top-1 ours {ot} reference {rt}, reference margin {margin:.4}");
                if margin > 0.01 {
                    flips.push(p);
                }
            }
        }
        println!("{name}: positions 1..{n_pos}: mean KL {mean_kl:.5}");
        assert!(
            flips.is_empty(),
            "top-1 differs beyond a tie at {flips:?} of {prompt:?}"
        );
        assert!(mean_kl <= MAX_MEAN_KL, "mean KL {mean_kl} on {prompt:?}");
    }
}

/// A prompt longer than Gemma 3's 512-token sliding window: the last 32 positions see a window
/// that has slid, on the local layers, while the global layers see everything.
#[test]
fn gemma3_sliding_window_matches_the_reference() {
    let path = support::model_path("gemma3-270m-q4_k_m");
    let model = Model::open(&path).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!(
            "Entry {i}: the lighthouse keeper counted {} ships and wrote the number in the log. ",
            i * 7 + 3
        ));
    }
    let ids = tok.encode(&text, true).unwrap();
    assert!(ids.len() > 600, "{} tokens", ids.len());
    let tail = 32;
    let (n_pos, n_vocab, reference) = support::reference_logits_last(&path, &ids, tail);
    assert_eq!(n_pos, tail);

    let params = SessionParams {
        n_ctx: Some(1024),
        n_threads: Some(2),
        ..Default::default()
    };
    let mut session = Session::new(&model, &params).unwrap();
    let split = ids.len() - tail;
    session.prefill(&ids[..split]).unwrap();
    let mut ours = Vec::new();
    session.logits_all(&ids[split..], &mut ours).unwrap();

    let mut mean_kl = 0.0;
    let mut mismatches = Vec::new();
    for p in 0..tail {
        let r = &reference[p * n_vocab..][..n_vocab];
        let o = &ours[p * n_vocab..][..n_vocab];
        if support::argmax(r) != support::argmax(o) {
            mismatches.push(split + p);
        }
        mean_kl += support::kl_divergence(r, o) / tail as f64;
    }
    println!(
        "gemma3 sliding window: {} tokens, last {tail} positions: mean KL {mean_kl:.5}, top-1 mismatches at {mismatches:?}",
        ids.len()
    );
    assert!(mismatches.is_empty(), "top-1 differs at {mismatches:?}");
    assert!(mean_kl <= MAX_MEAN_KL, "mean KL {mean_kl}");
}
