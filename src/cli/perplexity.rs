//! `retort perplexity`: a model's perplexity on a text, by llama.cpp's definition (see
//! `retort::bench::perplexity`), with a progress bar and the running estimate.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use retort::bench::{perplexity, Perplexity, PerplexityParams, PerplexityProgress};
use retort::loader::open_model_and_tokenizer;
use retort::model::OutputHead;
use retort::session::SessionParams;

/// Options of `retort perplexity`.
#[derive(Args, Debug)]
pub struct PerplexityArgs {
    /// Catalog name or GGUF path (default: the default model).
    #[arg(short = 'm', long = "model")]
    model: Option<String>,
    /// The text: a catalog text name (`botchan`, `alice`; pulled on first use) or a UTF-8 file.
    #[arg(value_name = "TEXT")]
    text: String,
    /// Tokens per chunk; the second half of each chunk is scored.
    #[arg(short = 'c', long = "ctx", default_value_t = 512)]
    ctx: usize,
    /// Score only the first N chunks.
    #[arg(long)]
    chunks: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(short = 't', long = "threads")]
    threads: Option<usize>,
    /// Logits with activations quantized once, like llama.cpp (see `retort run --help`).
    #[arg(long)]
    quantized_head: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

impl PerplexityArgs {
    /// The library parameters these options ask for.
    pub fn params(ctx: usize, threads: Option<usize>, quantized_head: bool) -> PerplexityParams {
        PerplexityParams {
            ctx,
            max_chunks: None,
            session: SessionParams {
                n_threads: threads,
                output_head: if quantized_head {
                    OutputHead::Quantized
                } else {
                    OutputHead::Precise
                },
                ..SessionParams::default()
            },
        }
    }
}

/// Scores the text and prints the result.
pub fn run(args: PerplexityArgs) -> Result<()> {
    let model_path = super::resolve_model(args.model.as_deref())?;
    let text_path = super::resolve_text(&args.text)?;
    let text = retort::catalog::read_text(&text_path)?;
    let (model, tok) = open_model_and_tokenizer(&model_path, &retort::catalog::load_params())
        .with_context(|| format!("loading {}", model_path.display()))?;
    let params = PerplexityParams {
        max_chunks: args.chunks,
        ..PerplexityArgs::params(args.ctx, args.threads, args.quantized_head)
    };
    let mut report = ChunkReport::new();
    let result = perplexity(&model, &tok, &text, &params, |p| report.chunk(p))
        .with_context(|| format!("scoring {}", text_path.display()));
    report.finish();
    let r = result?;
    if args.json {
        let mut v = serde_json::to_value(&r)?;
        v["model"] = model_path.display().to_string().into();
        v["text"] = text_path.display().to_string().into();
        v["output_head"] = if args.quantized_head {
            "quantized"
        } else {
            "precise"
        }
        .into();
        println!("{v}");
    } else {
        print_result(&r);
    }
    Ok(())
}

/// `12.3456 ± 0.1234` (the error left out when there is none).
pub fn ppl_with_error(ppl: f64, stderr: Option<f64>) -> String {
    match stderr {
        Some(e) => format!("{ppl:.4} ± {e:.4}"),
        None => format!("{ppl:.4}"),
    }
}

fn print_result(r: &Perplexity) {
    println!("perplexity: {}", ppl_with_error(r.ppl, r.ppl_stderr));
    println!(
        "tokens scored: {} of {} ({} chunks of {}, second halves)",
        r.tokens, r.text_tokens, r.chunks, r.ctx
    );
    if let Some(bpb) = r.bits_per_byte {
        println!("bits per byte: {bpb:.4} ({} bytes scored)", r.bytes);
    }
    println!(
        "speed: {:.1} tokens/s ({:.1} s, {} threads)",
        r.tokens_per_s, r.seconds, r.threads
    );
}

/// The running estimate: a progress bar on a terminal, one line per chunk otherwise.
struct ChunkReport {
    bar: Option<ProgressBar>,
}

impl ChunkReport {
    fn new() -> ChunkReport {
        ChunkReport { bar: None }
    }

    fn chunk(&mut self, p: &PerplexityProgress) {
        let estimate = format!("ppl {}", ppl_with_error(p.ppl, p.ppl_stderr));
        if !std::io::stderr().is_terminal() {
            eprintln!("[{}/{}] {estimate}", p.chunk, p.n_chunks);
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = ProgressBar::new(p.n_chunks as u64);
            b.set_style(
                ProgressStyle::with_template("chunks [{bar:30}] {pos}/{len} {msg} (eta {eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        bar.set_position(p.chunk as u64);
        bar.set_message(estimate);
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
