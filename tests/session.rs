//! Sessions: context limits are clear errors (or a documented stop), sessions share one model,
//! and prefill in several batches equals prefill in one.

mod support;

use retort::generate::{generate, GenerateParams, StopReason};
use retort::model::{Model, ModelError, OutputHead};
use retort::sampling::SamplerParams;
use retort::session::{Session, SessionParams};
use retort::tokenizer::Tokenizer;

fn smollm2() -> Model {
    Model::open(support::model_path("smollm2-135m-instruct-q4_1")).unwrap()
}

#[test]
fn a_prompt_longer_than_the_context_is_an_error() {
    let model = smollm2();
    let params = SessionParams {
        n_ctx: Some(8),
        ..Default::default()
    };
    let mut s = Session::new(&model, &params).unwrap();
    let err = s.prefill(&[1; 9]).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::ContextFull {
                needed: 9,
                capacity: 8,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("--ctx"), "{err}");
    // The session is still usable after the refusal.
    s.prefill(&[504, 3575]).unwrap();
    assert_eq!(s.pos(), 2);
}

#[test]
fn generation_stops_when_the_context_is_full() {
    let model = smollm2();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let mut s = Session::new(
        &model,
        &SessionParams {
            n_ctx: Some(12),
            ..Default::default()
        },
    )
    .unwrap();
    let ids = tok.encode("The capital of France is", true).unwrap();
    let params = GenerateParams {
        max_tokens: 100,
        sampler: SamplerParams {
            temperature: 0.0,
            ..Default::default()
        },
    };
    let g = generate(&mut s, &tok, &ids, &params, |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(g.stop, StopReason::ContextFull);
    assert_eq!(
        ids.len() + g.generated_ids.len(),
        12 + 1,
        "the last sampled token is kept"
    );
}

#[test]
fn the_text_callback_can_stop_generation() {
    let model = smollm2();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let mut s = Session::new(&model, &SessionParams::default()).unwrap();
    let ids = tok.encode("The capital of France is", true).unwrap();
    let params = GenerateParams {
        max_tokens: 32,
        sampler: SamplerParams {
            temperature: 0.0,
            ..Default::default()
        },
    };
    let mut pieces = Vec::new();
    let g = generate(&mut s, &tok, &ids, &params, |piece| {
        pieces.push(piece.to_owned());
        if pieces.len() == 2 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(g.stop, StopReason::Stopped);
    assert_eq!(pieces.len(), 2, "no piece after the callback asked to stop");
    assert_eq!(g.text, pieces.concat());
    // Nothing was decoded after the stop: the session holds the prompt and the tokens before
    // the last one generated.
    assert_eq!(s.pos(), ids.len() + g.generated_ids.len() - 1);
}

#[test]
fn bad_session_parameters_are_errors() {
    let model = smollm2();
    for p in [
        SessionParams {
            n_ctx: Some(0),
            ..Default::default()
        },
        SessionParams {
            n_ctx: Some(1 << 30),
            ..Default::default()
        },
        SessionParams {
            n_threads: Some(0),
            ..Default::default()
        },
        SessionParams {
            max_batch: 0,
            ..Default::default()
        },
    ] {
        assert!(
            matches!(Session::new(&model, &p), Err(ModelError::BadParam(_))),
            "{p:?}"
        );
    }
    let mut s = Session::new(
        &model,
        &SessionParams {
            n_ctx: Some(16),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(
        s.prefill(&[49152]),
        Err(ModelError::BadToken { id: 49152, .. })
    ));
}

#[test]
fn batch_size_does_not_change_the_logits() {
    let model = smollm2();
    let prompt: Vec<u32> = vec![504, 3575, 282, 4649, 314, 7042, 30, 198, 198, 504, 1797];
    let run = |max_batch| {
        let mut s = Session::new(
            &model,
            &SessionParams {
                n_ctx: Some(64),
                n_threads: Some(2),
                max_batch,
                ..Default::default()
            },
        )
        .unwrap();
        s.prefill(&prompt).unwrap().to_vec()
    };
    // Each element comes from the same kernel pattern whatever the batch (gemv and gemm rows are
    // bit-identical to vec_dot), so the logits are equal bit for bit.
    assert_eq!(run(64), run(3));
    assert_eq!(run(64), run(1));
}

#[test]
fn sessions_share_one_model_across_threads() {
    let model = smollm2();
    let first = |m: &Model| {
        let mut s = Session::new(
            m,
            &SessionParams {
                n_ctx: Some(32),
                n_threads: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
        let l = s.prefill(&[504, 3575, 282, 4649, 314]).unwrap();
        l.iter()
            .enumerate()
            .fold(0, |b, (i, &v)| if v > l[b] { i } else { b })
    };
    let expected = first(&model);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3).map(|_| scope.spawn(|| first(&model))).collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), expected);
        }
    });
}

#[test]
fn both_output_heads_are_thread_count_invariant_and_close() {
    let model = smollm2();
    let prompt: Vec<u32> = vec![504, 3575, 282, 4649, 314, 7042, 30, 198, 198, 504, 1797];
    let run = |output_head, n_threads| {
        let mut s = Session::new(
            &model,
            &SessionParams {
                n_ctx: Some(64),
                n_threads: Some(n_threads),
                output_head,
                ..Default::default()
            },
        )
        .unwrap();
        s.prefill(&prompt).unwrap().to_vec()
    };
    let precise = run(OutputHead::Precise, 1);
    let quantized = run(OutputHead::Quantized, 1);
    // Rows are split differently at 2 and 3 threads; each logit is the same kernel calls.
    assert_eq!(precise, run(OutputHead::Precise, 2));
    assert_eq!(precise, run(OutputHead::Precise, 3));
    assert_eq!(quantized, run(OutputHead::Quantized, 2));
    // The two heads see the same hidden state and differ only by the activation rounding of
    // the head: close everywhere, but not identical.
    let max_diff = precise
        .iter()
        .zip(&quantized)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff > 0.0, "the quantized head gave the precise logits");
    assert!(max_diff < 0.25, "heads differ by up to {max_diff} logits");
}
