//! Perplexity: the batched scoring path against a plain loop over `Session::logits_all`, and
//! what `retort perplexity` says about bad input.

mod support;

use std::process::Command;

use retort::bench::{perplexity, PerplexityParams};
use retort::catalog::read_text;
use retort::model::{Model, OutputHead};
use retort::session::{Session, SessionParams};
use retort::tokenizer::Tokenizer;
use serde_json::Value;

fn retort() -> Command {
    Command::new(env!("CARGO_BIN_EXE_retort"))
}

/// The first `n` bytes of Botchan (cut at a line end): a short, real text.
fn botchan_head(n: usize) -> String {
    let text = read_text(&support::text_path("botchan")).unwrap();
    let cut = text[..n].rfind('\n').unwrap() + 1;
    text[..cut].to_owned()
}

/// llama.cpp's perplexity by the plainest loop: every logit of every chunk from
/// `Session::logits_all`, an f64 log-softmax, the second halves summed.
fn plain_perplexity(
    model: &Model,
    tok: &Tokenizer,
    text: &str,
    ctx: usize,
    session: &SessionParams,
) -> (f64, usize, f64) {
    let tokens = tok.encode(text, true).unwrap();
    let mut s = Session::new(
        model,
        &SessionParams {
            n_ctx: Some(ctx),
            ..session.clone()
        },
    )
    .unwrap();
    let (mut nll, mut count, mut bytes) = (0.0f64, 0usize, 0usize);
    for chunk in tokens.chunks_exact(ctx) {
        let mut chunk = chunk.to_vec();
        if tok.adds_bos() {
            chunk[0] = tok.bos_id().unwrap();
        }
        s.reset();
        let mut logits = Vec::new();
        s.logits_all(&chunk, &mut logits).unwrap();
        let n_vocab = logits.len() / ctx;
        for i in ctx / 2..ctx - 1 {
            let lp = support::log_softmax(&logits[i * n_vocab..][..n_vocab]);
            nll -= lp[chunk[i + 1] as usize];
            count += 1;
            bytes += tok.token_to_piece(chunk[i + 1], false).unwrap().len();
        }
    }
    (
        (nll / count as f64).exp(),
        count,
        nll / std::f64::consts::LN_2 / bytes as f64,
    )
}

fn check_against_plain_loop(name: &str, ctx: usize, session: SessionParams) {
    let model = Model::open(support::model_path(name)).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let text = botchan_head(1500);
    let params = PerplexityParams {
        ctx,
        max_chunks: None,
        session: session.clone(),
    };
    let mut seen = Vec::new();
    let r = perplexity(&model, &tok, &text, &params, |p| seen.push(p.chunk)).unwrap();
    let (ppl, count, bpb) = plain_perplexity(&model, &tok, &text, ctx, &session);
    assert!(r.chunks >= 2, "{name}: the text must fill several chunks");
    assert_eq!(seen, (1..=r.chunks).collect::<Vec<_>>());
    assert_eq!(r.tokens, count);
    assert_eq!(r.tokens, r.chunks * (ctx - ctx / 2 - 1));
    // The two paths compute the same logits; only the log-softmax's float order differs.
    let rel = (r.ppl - ppl).abs() / ppl;
    assert!(
        rel < 1e-6,
        "{name}: batched {} vs plain {ppl} ({rel:e})",
        r.ppl
    );
    let bpb_rel = (r.bits_per_byte.unwrap() - bpb).abs() / bpb;
    assert!(
        bpb_rel < 1e-6,
        "{name}: bits per byte {:?} vs {bpb}",
        r.bits_per_byte
    );
    assert!(r.ppl_stderr.unwrap() > 0.0);
}

#[test]
fn perplexity_equals_a_plain_loop_over_logits_all() {
    // SmolLM2: one head product per batch (64 rows fit in the logits budget), precise head.
    check_against_plain_loop("smollm2-135m-instruct-q4_1", 64, SessionParams::default());
    // Gemma 3: 262,144-entry rows, 16 per head product; batches of 40, so the scored half
    // starts inside the first batch and the second is split 16 + 7; the once-quantized head.
    check_against_plain_loop(
        "gemma3-270m-q4_k_m",
        64,
        SessionParams {
            max_batch: 40,
            output_head: OutputHead::Quantized,
            ..SessionParams::default()
        },
    );
}

#[test]
fn perplexity_does_not_depend_on_the_thread_count() {
    let model = Model::open(support::model_path("smollm2-135m-instruct-q4_1")).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let text = botchan_head(800);
    let run = |threads| {
        let params = PerplexityParams {
            ctx: 48,
            max_chunks: Some(2),
            session: SessionParams {
                n_threads: Some(threads),
                ..SessionParams::default()
            },
        };
        perplexity(&model, &tok, &text, &params, |_| {}).unwrap()
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.chunks, 2);
    assert_eq!(one.ppl, two.ppl);
    assert_eq!(one.bits_per_byte, two.bits_per_byte);
}

#[test]
fn perplexity_cli_prints_json_with_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("head.txt");
    std::fs::write(&path, botchan_head(1200)).unwrap();
    let out = retort()
        .args([
            "perplexity",
            "-m",
            "smollm2-135m-instruct-q4_1",
            "--ctx",
            "64",
        ])
        .args(["-t", "2", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The running estimate, one line per chunk off a terminal.
    assert!(
        stderr.contains("[1/") && stderr.contains("ppl "),
        "{stderr}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "ppl",
        "ppl_stderr",
        "tokens",
        "ctx",
        "bits_per_byte",
        "tokens_per_s",
    ] {
        assert!(v[key].is_number(), "{key} in {v}");
    }
    assert_eq!(v["ctx"], 64);
    assert!(v["ppl"].as_f64().unwrap() > 1.0);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.txt");
    std::fs::write(&short, "Hello there, a short text.\n").unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let latin1 = dir.path().join("latin1.txt");
    std::fs::write(&latin1, b"Botchan ate a cr\xeape at the caf\xe9.\n").unwrap();
    let model = ["-m", "smollm2-135m-instruct-q4_1"];
    let cases: [(&[&str], &std::path::Path, &[&str]); 5] = [
        (
            &model,
            &short,
            &["tokens long", "shorter than one chunk of 512"],
        ),
        (&model, &empty, &["empty.txt", "is empty"]),
        (&model, &latin1, &["latin1.txt", "not UTF-8", "byte 16"]),
        (
            &["-m", "no-such-model"],
            &short,
            &["no-such-model", "neither a file nor a catalog model"],
        ),
        (
            &["--ctx", "2", "-m", "smollm2-135m-instruct-q4_1"],
            &short,
            &["at least 4"],
        ),
    ];
    for (args, text, wanted) in cases {
        let out = retort()
            .arg("perplexity")
            .args(args)
            .arg(text)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?} {text:?}: {err}");
        for w in wanted {
            assert!(err.contains(w), "{args:?} {text:?}: {w:?} not in {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = retort()
        .args([
            "perplexity",
            "-m",
            "smollm2-135m-instruct-q4_1",
            "no-such-text",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither a file nor a catalog text"));
}
