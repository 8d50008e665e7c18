//! `retort run`: generate text from a prompt, streaming it to stdout, statistics to stderr.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use retort::generate::{generate, GenerateParams, StopReason};
use retort::kv_cache::KvCacheType;
use retort::loader::open_model_and_tokenizer;
use retort::model::{LoadParams, OutputHead};
use retort::session::{Session, SessionParams};
use retort::tokenizer::{ChatMessage, ChatTemplate, ChatTemplateParams, Tokenizer};
use serde_json::json;

/// Options of `retort run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The prompt (or use -p).
    #[arg(value_name = "PROMPT")]
    prompt_pos: Option<String>,
    /// The prompt.
    #[arg(short = 'p', long = "prompt", conflicts_with = "prompt_pos")]
    prompt: Option<String>,
    /// Catalog name or GGUF path (pulled on first use).
    #[arg(short = 'm', long = "model")]
    model: Option<String>,
    /// Tokens to generate at most.
    #[arg(short = 'n', long = "n-predict", default_value_t = 128)]
    n_predict: usize,
    /// Worker threads (default: all cores).
    #[arg(short = 't', long = "threads")]
    threads: Option<usize>,
    #[command(flatten)]
    sampling: super::sampling_args::SamplingArgs,
    /// Wrap the prompt in the model's chat template as a user message.
    #[arg(long)]
    chat: bool,
    /// A system message for --chat.
    #[arg(long, requires = "chat")]
    system: Option<String>,
    /// Context size (default: the model's).
    #[arg(long)]
    ctx: Option<usize>,
    /// Compute the logits with activations quantized like every other projection (as llama.cpp
    /// does) instead of twice (value and residual): less integer work, noisier at near-ties.
    #[arg(long)]
    quantized_head: bool,
    /// Keep the file's weight layout instead of repacking the layer matrices at load
    /// (slower products, the same numbers; for comparisons).
    #[arg(long)]
    no_repack: bool,
    /// KV cache element type: f16 (the default), f32 (exact) or q8_0 (smallest).
    #[arg(long = "kv-cache", value_parser = super::bench::parse_kv_type)]
    kv_cache: Option<KvCacheType>,
    /// End the output with one JSON line (ids, text, timings).
    #[arg(long)]
    json: bool,
}

/// Runs the generation.
pub fn run(args: RunArgs) -> Result<()> {
    let Some(prompt) = args.prompt.clone().or(args.prompt_pos.clone()) else {
        bail!("no prompt: give it as an argument or with -p");
    };
    let mut sampler = args.sampling.params()?;
    let seed = sampler.seed;

    let path = super::resolve_model(args.model.as_deref())?;
    let t_load = Instant::now();
    let load = LoadParams {
        repack: !args.no_repack,
        ..retort::catalog::load_params()
    };
    let (model, tok) = open_model_and_tokenizer(&path, &load)
        .with_context(|| format!("loading {}", path.display()))?;
    let load_time = t_load.elapsed();
    super::warn_unkept_copy(&model);
    sampler.watermark = args.sampling.watermark.load(&tok, &path)?;
    super::sampling_args::warn_watermark_limitation(&sampler);

    let prompt_ids = if args.chat {
        chat_prompt_ids(&tok, &model.hparams.arch, args.system.as_deref(), &prompt)?
    } else {
        tok.encode(&prompt, true)?
    };

    let session_params = SessionParams {
        n_ctx: Some(args.ctx.unwrap_or(model.hparams.n_ctx_train)),
        n_threads: args.threads,
        output_head: if args.quantized_head {
            OutputHead::Quantized
        } else {
            OutputHead::Precise
        },
        ..SessionParams::default()
    };
    let session_params = SessionParams {
        kv_cache: args.kv_cache.unwrap_or(session_params.kv_cache),
        ..session_params
    };
    let mut session = Session::new(&model, &session_params)?;
    let watermark = sampler.watermark.clone();
    let params = GenerateParams {
        max_tokens: args.n_predict,
        sampler,
    };
    let mut stdout = std::io::stdout().lock();
    let gen = generate(&mut session, &tok, &prompt_ids, &params, |piece| {
        let _ = stdout.write_all(piece.as_bytes());
        let _ = stdout.flush();
        std::ops::ControlFlow::Continue(())
    })?;
    writeln!(stdout)?;

    let stop = match gen.stop {
        StopReason::EndOfGeneration => "end of generation",
        StopReason::MaxTokens => "token limit",
        StopReason::ContextFull => "context full",
        StopReason::Stopped => "stopped",
    };
    eprintln!(
        "\n[{}] load {:.0} ms | prompt {} tokens, {:.1} tok/s | generated {} tokens, {:.1} tok/s | stop: {stop} | {} threads, tier {}, seed {seed}",
        model.hparams.arch,
        load_time.as_secs_f64() * 1e3,
        gen.prompt_ids.len(),
        gen.prompt_tps(),
        gen.generated_ids.len(),
        gen.gen_tps(),
        session.n_threads(),
        retort_kernels::ops::active_tier(),
    );
    if let Some(w) = &watermark {
        eprintln!(
            "[watermark] key {} · {} · {} of {} tokens marked",
            w.key_id(),
            w.scheme(),
            gen.watermarked_tokens,
            gen.generated_ids.len()
        );
    }
    if args.json {
        let line = json!({
            "model": path.display().to_string(),
            "prompt_ids": gen.prompt_ids,
            "generated_ids": gen.generated_ids,
            "text": gen.text,
            "stop": stop,
            "seed": seed,
            "threads": session.n_threads(),
            "tier": retort_kernels::ops::active_tier().name(),
            "output_head": if args.quantized_head { "quantized" } else { "precise" },
            "watermark": watermark.as_ref().map(|w| json!({
                "key_id": w.key_id().to_string(),
                "scheme": w.scheme().kind().name(),
                "parameters": w.scheme().to_string(),
                "marked_tokens": gen.watermarked_tokens,
            })),
            "repacked": model.repacked_bytes() > 0,
            "repacked_bytes": model.repacked_bytes(),
            "packed_copy": model.packed_origin().kind(),
            "kv_cache": session_params.kv_cache.name(),
            "timings": {
                "load_ms": load_time.as_secs_f64() * 1e3,
                "prompt_ms": gen.prompt_time.as_secs_f64() * 1e3,
                "gen_ms": gen.gen_time.as_secs_f64() * 1e3,
                "prompt_tokens_per_s": gen.prompt_tps(),
                "gen_tokens_per_s": gen.gen_tps(),
            },
        });
        writeln!(stdout, "{line}")?;
    }
    Ok(())
}

/// The ids of `prompt` as a user message in the model's chat template (after `system`, if any),
/// ready for the assistant's reply, with BOS when the vocabulary asks for it.
pub fn chat_prompt_ids(
    tok: &Tokenizer,
    arch: &str,
    system: Option<&str>,
    prompt: &str,
) -> Result<Vec<u32>> {
    let template = ChatTemplate::for_tokenizer(tok, Some(arch))?;
    let mut messages = Vec::new();
    if let Some(s) = system {
        messages.push(ChatMessage::new("system", s));
    }
    messages.push(ChatMessage::new("user", prompt));
    Ok(template.encode(
        tok,
        &messages,
        &ChatTemplateParams {
            add_generation_prompt: true,
            ..Default::default()
        },
    )?)
}
