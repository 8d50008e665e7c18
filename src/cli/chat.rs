//! `retort chat`: a multi-turn conversation in the terminal.
//!
//! Each turn renders the whole conversation with the model's chat template; the session keeps
//! its KV cache across turns ([`Conversation`]), so only the new turn is prefilled.
//!
//! Keys and commands: Enter sends a line; `/reset` forgets the conversation (the system message
//! stays); `/quit` or Ctrl-D leaves; Ctrl-C while the model replies stops the reply (a second
//! Ctrl-C before it has stopped ends the program), Ctrl-C at the prompt clears the line.
//!
//! With `--watermark KEYFILE` every reply is watermarked (`retort verify` finds the mark in a
//! reply's text); `--stats` also counts the marked tokens per reply.
//!
//! Full context policy: a turn needs its prompt plus room for a reply (`-n` tokens, or a
//! quarter of the context if that is less). When the conversation no longer leaves that room,
//! the oldest exchanges (a user message and its reply; the system message is kept) are dropped
//! until it does, and the drop is announced. A single message too long for the context is
//! refused with a note, and the conversation goes on. A reply that fills the context is cut
//! there, announced, and kept.

use std::io::Write;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use retort::conversation::Conversation;
use retort::generate::{GenerateParams, StopReason};
use retort::loader::open_model_and_tokenizer;
use retort::model::OutputHead;
use retort::session::{Session, SessionParams};
use retort::tokenizer::{ChatMessage, ChatTemplate, ChatTemplateParams, Tokenizer};
use rustyline::error::ReadlineError;

/// Context size when none is given: the model's, at most this (the KV cache is allocated up
/// front).
const DEFAULT_MAX_CTX: usize = 4096;

/// Options of `retort chat`.
#[derive(Args, Debug)]
pub struct ChatArgs {
    /// Catalog name or GGUF path (pulled on first use).
    #[arg(short = 'm', long = "model")]
    model: Option<String>,
    /// A system message that starts the conversation (kept by /reset).
    #[arg(long)]
    system: Option<String>,
    /// Tokens per reply at most.
    #[arg(short = 'n', long = "n-predict", default_value_t = 512)]
    n_predict: usize,
    #[command(flatten)]
    sampling: super::sampling_args::SamplingArgs,
    /// Context size (default: the model's, at most 4096).
    #[arg(long)]
    ctx: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(short = 't', long = "threads")]
    threads: Option<usize>,
    /// Compute the logits with activations quantized once (see `retort run --help`).
    #[arg(long)]
    quantized_head: bool,
    /// After each reply, print to stderr what the turn cost (prompt tokens from the cache and
    /// run, times, speed).
    #[arg(long)]
    stats: bool,
    /// Run the whole conversation again every turn instead of reusing the cache (to measure
    /// what the cache saves).
    #[arg(long)]
    no_cache: bool,
}

/// What a line typed at the prompt asks for.
enum Input {
    Message(String),
    Reset,
    Quit,
    Help,
    Unknown(String),
    Nothing,
}

fn parse_input(line: &str) -> Input {
    let trimmed = line.trim();
    match trimmed {
        "" => Input::Nothing,
        "/quit" | "/exit" | "/bye" => Input::Quit,
        "/reset" | "/clear" => Input::Reset,
        "/help" | "/?" => Input::Help,
        cmd if cmd.starts_with('/') && !cmd.contains(char::is_whitespace) => {
            Input::Unknown(cmd.to_owned())
        }
        _ => Input::Message(line.trim_end().to_owned()),
    }
}

const HELP: &str = "commands: /reset forgets the conversation, /quit (or Ctrl-D) leaves, \
                    Ctrl-C stops a reply";

/// Runs the conversation until /quit or end of input.
pub fn run(args: ChatArgs) -> Result<()> {
    let mut sampler = args.sampling.params()?;
    let path = super::resolve_model(args.model.as_deref())?;
    let (model, tok) = open_model_and_tokenizer(&path, &retort::catalog::load_params())
        .with_context(|| format!("loading {}", path.display()))?;
    super::warn_unkept_copy(&model);
    sampler.watermark = args.sampling.watermark.load(&tok, &path)?;
    if let Some(w) = &sampler.watermark {
        eprintln!(
            "[watermark] every reply is marked: key {} · {}",
            w.key_id(),
            w.scheme()
        );
    }
    super::sampling_args::warn_watermark_limitation(&sampler);
    let template = ChatTemplate::for_tokenizer(&tok, Some(&model.hparams.arch))
        .context("retort chat needs a chat template (use `retort run` for plain text)")?;
    let n_ctx = args
        .ctx
        .unwrap_or(model.hparams.n_ctx_train.min(DEFAULT_MAX_CTX));
    let session = Session::new(
        &model,
        &SessionParams {
            n_ctx: Some(n_ctx),
            n_threads: args.threads,
            output_head: if args.quantized_head {
                OutputHead::Quantized
            } else {
                OutputHead::Precise
            },
            ..SessionParams::default()
        },
    )?;
    let mut conversation = Conversation::new(session);

    let mut editor = rustyline::DefaultEditor::new()?;
    // Ctrl-C sets the flag (the reply stops at its next piece); a second one while the flag is
    // still set ends the program, so a stuck reply can always be left. Registered after the
    // editor, whose terminal setup replaces the SIGINT handler (at the prompt, Ctrl-C is a key
    // the editor reads itself).
    let interrupted = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register_conditional_default(
        signal_hook::consts::SIGINT,
        Arc::clone(&interrupted),
    )?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted))?;
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    if interactive {
        eprintln!(
            "retort chat: {} ({}), context {n_ctx} positions; {HELP}",
            path.file_stem().unwrap_or_default().to_string_lossy(),
            model.hparams.arch,
        );
    }
    let system: Vec<ChatMessage> = args
        .system
        .iter()
        .map(|s| ChatMessage::new("system", s.as_str()))
        .collect();
    let mut messages = system.clone();
    let reserve = args.n_predict.min(n_ctx / 4).max(1);
    let mut turn_no = 0usize;
    let mut stdout = std::io::stdout();
    loop {
        let line = match editor.readline(">>> ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                eprintln!("(Ctrl-C clears the line; /quit or Ctrl-D leaves)");
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        match parse_input(&line) {
            Input::Nothing => continue,
            Input::Quit => break,
            Input::Help => {
                eprintln!("{HELP}");
                continue;
            }
            Input::Unknown(cmd) => {
                eprintln!("unknown command {cmd}; {HELP}");
                continue;
            }
            Input::Reset => {
                messages.truncate(system.len());
                conversation.reset();
                eprintln!("[conversation reset]");
                continue;
            }
            Input::Message(text) => {
                let _ = editor.add_history_entry(&text);
                messages.push(ChatMessage::new("user", text));
            }
        }
        let Some(prompt) = fit(&template, &tok, &mut messages, system.len(), n_ctx, reserve)?
        else {
            continue;
        };
        if args.no_cache {
            conversation.reset();
        }
        turn_no += 1;
        interrupted.store(false, Ordering::Relaxed);
        let params = GenerateParams {
            max_tokens: args.n_predict,
            sampler: retort::sampling::SamplerParams {
                // Each turn draws afresh from the seed and the turn number.
                seed: sampler.seed.wrapping_add(turn_no as u64 - 1),
                ..sampler.clone()
            },
        };
        let started = Instant::now();
        let turn = conversation.generate(&tok, &prompt, &params, |piece| {
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
            if interrupted.load(Ordering::Relaxed) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        let stopped_by_user = interrupted.swap(false, Ordering::Relaxed);
        writeln!(stdout)?;
        let turn = turn?;
        let g = &turn.generation;
        if stopped_by_user && g.stop == StopReason::Stopped {
            eprintln!("[stopped]");
        }
        if g.stop == StopReason::ContextFull {
            eprintln!(
                "[context full ({n_ctx} positions): the reply was cut; the oldest exchanges \
                 will be dropped to make room]"
            );
        }
        messages.push(ChatMessage::new("assistant", g.text.clone()));
        if args.stats {
            eprintln!(
                "[turn {turn_no}: prompt {} tokens, {} from the cache, {} run in {:.1} ms | \
                 reply {} tokens, {:.1} tok/s | {:.0} ms in all]",
                prompt.len(),
                turn.reused,
                g.prompt_ids.len(),
                g.prompt_time.as_secs_f64() * 1e3,
                g.generated_ids.len(),
                g.gen_tps(),
                started.elapsed().as_secs_f64() * 1e3,
            );
            if sampler.watermark.is_some() {
                eprintln!(
                    "[watermark: {} of {} reply tokens marked]",
                    g.watermarked_tokens,
                    g.generated_ids.len()
                );
            }
        }
    }
    Ok(())
}

/// Encodes the conversation for the next reply, dropping the oldest exchanges while it leaves
/// fewer than `reserve` positions free. Returns `None` (and removes the message) when the last
/// user message alone does not fit.
fn fit(
    template: &ChatTemplate,
    tok: &Tokenizer,
    messages: &mut Vec<ChatMessage>,
    n_system: usize,
    n_ctx: usize,
    reserve: usize,
) -> Result<Option<Vec<u32>>> {
    let params = ChatTemplateParams {
        add_generation_prompt: true,
        ..Default::default()
    };
    let mut dropped = 0;
    loop {
        let prompt = template.encode(tok, messages, &params)?;
        if prompt.len() + reserve <= n_ctx {
            if dropped > 0 {
                eprintln!(
                    "[context full: dropped the oldest {dropped} message(s) to make room; \
                     {} tokens of {n_ctx} now]",
                    prompt.len()
                );
            }
            return Ok(Some(prompt));
        }
        // Keep the system message and the new user message; drop the oldest exchange.
        if messages.len() - n_system <= 1 {
            eprintln!(
                "[message too long: {} tokens with a reply's {reserve}, but the context holds \
                 {n_ctx}; not sent]",
                prompt.len()
            );
            messages.pop();
            return Ok(None);
        }
        let take = if messages.len() - n_system >= 3 { 2 } else { 1 };
        messages.drain(n_system..n_system + take);
        dropped += take;
    }
}
