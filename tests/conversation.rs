//! Reusing a session's cache across prompts that share a prefix (`Session::truncate`,
//! `Conversation`): the tokens are those a fresh session computes for the whole prompt, the
//! cache is really reused, and a sliding-window ring that lost what a rewind needs falls back
//! to a full prefill.

mod support;

use retort::conversation::Conversation;
use retort::generate::{generate, GenerateParams};
use retort::kv_cache::BLOCK;
use retort::model::Model;
use retort::sampling::SamplerParams;
use retort::session::{Session, SessionParams};
use retort::tokenizer::{ChatMessage, ChatTemplate, ChatTemplateParams, Tokenizer};

fn greedy(max_tokens: usize) -> GenerateParams {
    GenerateParams {
        max_tokens,
        sampler: SamplerParams {
            temperature: 0.0,
            // The penalty's window must see the cached prefix too for the results to agree.
            repeat_penalty: 1.3,
            repeat_last_n: 256,
            ..Default::default()
        },
    }
}

fn session_params(n_ctx: usize, max_batch: usize) -> SessionParams {
    SessionParams {
        n_ctx: Some(n_ctx),
        n_threads: Some(2),
        max_batch,
        ..Default::default()
    }
}

#[test]
fn three_chat_turns_reuse_the_cache_and_match_fresh_sessions() {
    let model = Model::open(support::model_path("smollm2-135m-instruct-q4_1")).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let template = ChatTemplate::for_tokenizer(&tok, Some(&model.hparams.arch)).unwrap();
    let params = ChatTemplateParams {
        add_generation_prompt: true,
        ..Default::default()
    };
    let sp = session_params(1024, 16);
    let mut conversation = Conversation::new(Session::new(&model, &sp).unwrap());
    let mut messages = vec![ChatMessage::new("system", "You are a terse assistant.")];
    for (turn, question) in ["Name a fruit.", "What colour is it?", "Spell it backwards."]
        .into_iter()
        .enumerate()
    {
        messages.push(ChatMessage::new("user", question));
        let prompt = template.encode(&tok, &messages, &params).unwrap();
        let cached = conversation
            .generate(&tok, &prompt, &greedy(20), |_| {
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        let mut fresh_session = Session::new(&model, &sp).unwrap();
        let fresh = generate(&mut fresh_session, &tok, &prompt, &greedy(20), |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(
            cached.generation.generated_ids, fresh.generated_ids,
            "turn {turn}: the cached conversation diverged from a fresh session"
        );
        if turn == 0 {
            assert_eq!(cached.reused, 0);
        } else {
            // Everything up to the end of the previous reply is already in the cache: at most
            // the end-of-turn marker and the new message are run.
            assert!(
                cached.reused + cached.generation.prompt_ids.len() == prompt.len()
                    && cached.reused > prompt.len() / 2,
                "turn {turn}: reused {} of {} prompt tokens",
                cached.reused,
                prompt.len()
            );
        }
        assert_eq!(conversation.held().len(), conversation.session().pos());
        assert_eq!(&conversation.held()[..prompt.len()], &prompt[..]);
        messages.push(ChatMessage::new(
            "assistant",
            cached.generation.text.clone(),
        ));
    }
}

#[test]
fn an_identical_prompt_runs_only_its_last_token_again() {
    let model = Model::open(support::model_path("smollm2-135m-instruct-q4_1")).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let prompt = tok.encode("The capital of France is", true).unwrap();
    let mut conversation =
        Conversation::new(Session::new(&model, &session_params(256, 64)).unwrap());
    let run = |c: &mut Conversation| {
        c.generate(&tok, &prompt, &greedy(8), |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap()
    };
    let first = run(&mut conversation);
    let second = run(&mut conversation);
    assert_eq!(second.reused, prompt.len() - 1);
    assert_eq!(second.generation.prompt_ids.len(), 1);
    assert_eq!(
        first.generation.generated_ids,
        second.generation.generated_ids
    );
}

/// Deterministic ordinary token ids (no control tokens) for long prompts.
fn filler(tok: &Tokenizer, n: usize) -> Vec<u32> {
    let text = "The river bends past the old mill, where children count the boats and the \
                miller sings about the weather and the price of flour. ";
    let mut ids = Vec::with_capacity(n);
    if let Some(bos) = tok.bos_id() {
        ids.push(bos);
    }
    let unit = tok.encode(text, false).unwrap();
    while ids.len() < n {
        ids.extend_from_slice(&unit);
    }
    ids.truncate(n);
    ids
}

#[test]
fn gemma3_rewinds_inside_its_sliding_window_and_refuses_beyond_it() {
    let model = Model::open(support::model_path("gemma3-270m-q4_k_m")).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let window = model
        .spec
        .layers
        .iter()
        .filter_map(|l| l.sliding_window)
        .min()
        .expect("Gemma 3 has sliding-window layers");
    // A ring of window + batch - 1 positions, in whole blocks of the cache; run past it so it
    // wraps.
    let batch = 16;
    let ring = (window + batch - 1).div_ceil(BLOCK) * BLOCK;
    let end = ring + 40;
    let sp = session_params(end + 64, batch);
    let ids = filler(&tok, end);

    let mut fresh = Session::new(&model, &sp).unwrap();
    let want = fresh.prefill(&ids).unwrap().to_vec();

    let mut s = Session::new(&model, &sp).unwrap();
    s.prefill(&ids).unwrap();
    // Positions before end - ring were overwritten. A rewind to `ok` needs keys from
    // ok + 1 - window on, which are still held; a rewind to `lost` needs older ones.
    let ok = end - 8;
    assert!(ok + 1 - window >= end - ring);
    assert_eq!(
        s.truncate(ok),
        ok,
        "a rewind inside the window must keep the cache"
    );
    let got = s.prefill(&ids[ok..]).unwrap().to_vec();
    let diff = want
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-4, "logits after the rewind differ by {diff}");

    let lost = end - ring + window - 10;
    assert!(lost + 1 - window < end - ring);
    assert_eq!(
        s.truncate(lost),
        0,
        "keys the rewind needs were overwritten"
    );
    assert_eq!(s.pos(), 0);

    // Through a conversation: the shared prefix cannot be kept, so the whole prompt is run,
    // and the tokens are still a fresh session's.
    let mut conversation = Conversation::new(Session::new(&model, &sp).unwrap());
    let first = conversation
        .generate(&tok, &ids, &greedy(4), |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(first.reused, 0);
    let mut branch = ids[..lost].to_vec();
    branch.extend(tok.encode(" Then the bell rang.", false).unwrap());
    let second = conversation
        .generate(&tok, &branch, &greedy(6), |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(
        second.reused, 0,
        "the ring lost the window; nothing may be reused"
    );
    let mut fresh = Session::new(&model, &sp).unwrap();
    let want = generate(&mut fresh, &tok, &branch, &greedy(6), |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(second.generation.generated_ids, want.generated_ids);

    // A branch inside the window keeps the shared prefix (that the logits are then right is
    // checked above).
    let near = conversation.held().len() - 6;
    let mut close = conversation.held()[..near].to_vec();
    close.extend(tok.encode(" And then?", false).unwrap());
    let third = conversation
        .generate(&tok, &close, &greedy(6), |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(third.reused, near);
}
