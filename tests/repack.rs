//! Repacked weights (the default load) give the numbers of the file's layout bit for bit: every
//! logit of a prompt run in batches of several sizes (so the x8 products see one activation row,
//! tiles and edges), and of decode steps, at one and at three threads (three splits rows into
//! pieces that are not whole stripes of eight). The three families cover every type with an x8
//! form: Q4_1 (SmolLM2), Q5_0, Q8_0, Q4_K and Q6_K (Gemma 3, Qwen 2).

mod support;

use retort::model::{LoadParams, Model};
use retort::session::{Session, SessionParams};

/// Logits after every prompt token (batches of `batch`), then after three decode steps.
fn logits(model: &Model, threads: usize, batch: usize, prompt: &[u32]) -> Vec<f32> {
    let params = SessionParams {
        n_ctx: Some(64),
        n_threads: Some(threads),
        max_batch: batch,
        ..Default::default()
    };
    let mut s = Session::new(model, &params).unwrap();
    let mut out = Vec::new();
    s.logits_all(prompt, &mut out).unwrap();
    for t in [17u32, 1000, 42] {
        out.extend_from_slice(s.decode(t).unwrap());
    }
    out
}

fn check(name: &str) {
    let path = support::model_path(name);
    let packed = Model::open(&path).unwrap();
    let plain = Model::open_with(
        &path,
        &LoadParams {
            repack: false,
            ..LoadParams::default()
        },
    )
    .unwrap();
    let layer = &packed.weights.layers[0];
    for m in layer.matrices() {
        assert!(m.packed.is_some(), "{name}: {} was not repacked", m.name);
    }
    assert!(plain.weights.layers[0].w_up.packed.is_none());
    let prompt: Vec<u32> = (0..23u32).map(|i| 100 + 37 * i).collect();
    let want = logits(&plain, 1, 64, &prompt);
    for (threads, batch) in [(1, 64), (1, 5), (3, 7), (3, 1)] {
        let got = logits(&packed, threads, batch, &prompt);
        assert_eq!(got.len(), want.len());
        let differ = got
            .iter()
            .zip(&want)
            .position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(
            differ, None,
            "{name}: {threads} threads, batches of {batch}: the repacked model's logit {differ:?} differs"
        );
    }
}

#[test]
fn repacked_smollm2_gives_the_plain_logits() {
    check("smollm2-135m-instruct-q4_1");
}

#[test]
fn repacked_gemma3_gives_the_plain_logits() {
    check("gemma3-270m-q4_k_m");
}

#[test]
fn repacked_qwen2_gives_the_plain_logits() {
    check("qwen2.5-coder-0.5b-instruct-q4_k_m");
}
