//! `retort compare`: several models side by side on one machine — size, parameters,
//! quantization, perplexity and bits per byte on a text, prompt and generation speed, time to
//! first token, peak RSS — as a markdown table (or JSON) and a plot (SVG and PNG).

mod plot;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use retort::bench::{compare_model, BenchParams, CompareParams, CompareProgress, CompareRow};
use retort::bench::{Machine, PerplexityParams};
use serde_json::json;

use super::perplexity::{ppl_with_error, PerplexityArgs};

/// Options of `retort compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Catalog name or GGUF path; repeat for each model (at least one).
    #[arg(short = 'm', long = "model", required = true)]
    models: Vec<String>,
    /// The text for perplexity: a catalog text name or a UTF-8 file.
    #[arg(long, default_value = "botchan")]
    text: String,
    /// Worker threads (default: all cores).
    #[arg(short = 't', long = "threads")]
    threads: Option<usize>,
    /// Tokens per perplexity chunk.
    #[arg(short = 'c', long = "ctx", default_value_t = 512)]
    ctx: usize,
    /// Score only the first N chunks of the text.
    #[arg(long)]
    chunks: Option<usize>,
    /// Prompt tokens of the pp test.
    #[arg(short = 'p', long = "n-prompt", default_value_t = 128)]
    n_prompt: usize,
    /// Decode steps of the tg test.
    #[arg(short = 'n', long = "n-gen", default_value_t = 64)]
    n_gen: usize,
    /// Timed repetitions of each speed test.
    #[arg(short = 'r', long = "repetitions", default_value_t = 5)]
    repetitions: usize,
    /// Logits with activations quantized once, like llama.cpp (see `retort run --help`).
    #[arg(long)]
    quantized_head: bool,
    /// Where compare.svg and compare.png are written.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Print one JSON object (every column of every model) instead of the table.
    #[arg(long)]
    json: bool,
}

/// Measures every model, one after another, and prints and plots the comparison.
pub fn run(args: CompareArgs) -> Result<()> {
    if args.n_prompt == 0 || args.n_gen == 0 {
        bail!("-p and -n must be at least 1: the comparison needs both speeds");
    }
    let text_path = super::resolve_text(&args.text)?;
    let text = retort::catalog::read_text(&text_path)?;
    let text_name = text_path
        .file_stem()
        .map_or_else(|| args.text.clone(), |s| s.to_string_lossy().into_owned());
    let ppl = PerplexityArgs::params(args.ctx, args.threads, args.quantized_head);
    let params = CompareParams {
        bench: BenchParams {
            n_prompt: vec![args.n_prompt],
            n_gen: vec![args.n_gen],
            repetitions: args.repetitions,
            session: ppl.session.clone(),
            ..BenchParams::default()
        },
        perplexity: PerplexityParams {
            max_chunks: args.chunks,
            ..ppl
        },
    };
    let paths = args
        .models
        .iter()
        .map(|m| super::resolve_model(Some(m)))
        .collect::<Result<Vec<_>>>()?;
    let machine = Machine::now();

    let bar = ProgressBar::new(paths.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("[{pos}/{len}] {spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let log = !std::io::stderr().is_terminal();
    let mut rows = Vec::new();
    for (label, path) in args.models.iter().zip(&paths) {
        let mut last_line = String::new();
        let row = compare_model(label, path, &text, &params, |p| {
            let msg = match p {
                CompareProgress::Bench(b) => {
                    format!("{label}: {} run {}/{}", b.test, b.done, b.total)
                }
                CompareProgress::Perplexity(c) => format!(
                    "{label}: perplexity chunk {}/{}, {}",
                    c.chunk,
                    c.n_chunks,
                    ppl_with_error(c.ppl, c.ppl_stderr)
                ),
            };
            // Off a terminal, one line per stage rather than per run.
            let stage: String = msg.split(" run ").next().unwrap_or("").into();
            if log && (stage != last_line || matches!(p, CompareProgress::Perplexity(_))) {
                eprintln!("{msg}");
                last_line = stage;
            }
            bar.set_message(msg);
            bar.tick();
        })
        .with_context(|| format!("comparing {}", path.display()))?;
        bar.inc(1);
        rows.push(row);
    }
    bar.finish_and_clear();

    let mut stdout = std::io::stdout().lock();
    if args.json {
        let v = json!({
            "text": text_name,
            "text_path": text_path.display().to_string(),
            "ctx": args.ctx,
            "machine": machine,
            "models": rows,
        });
        writeln!(stdout, "{v}")?;
    } else {
        write!(
            stdout,
            "{}",
            markdown(&rows, &text_name, args.ctx, &machine)
        )?;
    }

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let plot = plot_of(&rows, &text_name, &machine);
    let (svg, png) = (args.out.join("compare.svg"), args.out.join("compare.png"));
    plot::write_svg(&plot, &svg)?;
    plot::write_png(&plot, &png)?;
    eprintln!("plot: {} and {}", svg.display(), png.display());
    Ok(())
}

/// Whether the rows use more than one tokenizer (then perplexities are not comparable).
fn mixed_tokenizers(rows: &[CompareRow]) -> bool {
    rows.windows(2).any(|w| w[0].tokenizer != w[1].tokenizer)
}

/// The markdown table, with a note on what is comparable and how it was measured.
fn markdown(rows: &[CompareRow], text: &str, ctx: usize, machine: &Machine) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    let pp = first
        .bench
        .tests
        .first()
        .map_or("pp".into(), |t| t.name.clone());
    let tg = first
        .bench
        .tests
        .get(1)
        .map_or("tg".into(), |t| t.name.clone());
    let header = [
        "model".to_owned(),
        "params".into(),
        "quant".into(),
        "size MiB".into(),
        "tokenizer".into(),
        format!("PPL {text} (ctx {ctx})"),
        "bits/byte".into(),
        format!("{pp} t/s"),
        format!("{tg} t/s"),
        format!("TTFT{} ms", first.bench.ttft_prompt),
        "peak RSS MiB".into(),
    ];
    let mut out = format!("| {} |\n", header.join(" | "));
    let align: Vec<&str> = (0..header.len())
        .map(|i| if i < 5 { "---" } else { "---:" })
        .collect();
    out.push_str(&format!("| {} |\n", align.join(" | ")));
    let opt = |v: Option<f64>, d: usize| v.map_or_else(|| "n/a".into(), |v| format!("{v:.d$}"));
    for r in rows {
        let cells = [
            r.model.clone(),
            r.bench.info.params_label(),
            r.quantization.clone(),
            format!("{:.1}", r.size_bytes as f64 / MIB),
            r.tokenizer.clone(),
            ppl_with_error(r.ppl, r.ppl_stderr),
            opt(r.bits_per_byte, 4),
            opt(r.pp_tok_s, 1),
            opt(r.tg_tok_s, 1),
            opt(r.ttft_ms, 1),
            opt(r.peak_rss_bytes.map(|b| b as f64 / MIB), 1),
        ];
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push_str(&format!(
        "\nPerplexity compares only models that share a tokenizer (same `tokenizer` column{}); \
         bits per byte (the scored tokens' negative log-likelihood in bits over the UTF-8 bytes \
         they stand for) compares all. Perplexity: {} tokens scored per model, second halves of \
         {ctx}-token chunks, llama.cpp's definition, ± standard error. Speed: {} threads, median \
         of {} runs after a warm-up (`retort bench`); TTFT opens the file with the page cache \
         warm. {} ({} logical CPUs), tier {}, load average {} at the start.\n",
        if mixed_tokenizers(rows) {
            "; here they differ"
        } else {
            "; here all do"
        },
        first.ppl_tokens,
        first.threads,
        first.bench.repetitions,
        machine.cpu,
        machine.logical_cpus,
        machine.tier,
        machine
            .load_avg_1m
            .map_or("unknown".into(), |l| format!("{l:.2}")),
    ));
    out
}

const MIB: f64 = 1024.0 * 1024.0;

/// The plot: bits per byte against generation speed when tokenizers differ, perplexity when
/// they are all the same.
fn plot_of(rows: &[CompareRow], text: &str, machine: &Machine) -> plot::Plot {
    let by_bpb = mixed_tokenizers(rows);
    let points = rows
        .iter()
        .filter_map(|r| {
            Some(plot::Point {
                label: format!(
                    "{} ({} {})",
                    r.model,
                    r.bench.info.params_label(),
                    r.quantization
                ),
                x: r.tg_tok_s?,
                y: if by_bpb { r.bits_per_byte? } else { r.ppl },
                rss_bytes: r.peak_rss_bytes.unwrap_or(0),
            })
        })
        .collect();
    let threads = rows.first().map_or(0, |r| r.threads);
    plot::Plot {
        title: format!("Quality against speed on {text}"),
        x_label: format!("generation tokens/s ({threads} threads, higher is better)"),
        y_label: if by_bpb {
            format!("bits per byte of {text} (lower is better)")
        } else {
            format!("perplexity on {text} (lower is better)")
        },
        caption: format!(
            "Marker area ∝ peak RSS. {} ({} logical CPUs), load average {} at the start.{}",
            machine.cpu,
            machine.logical_cpus,
            machine
                .load_avg_1m
                .map_or("unknown".into(), |l| format!("{l:.1}")),
            if by_bpb {
                " Tokenizers differ: bits per byte, not perplexity."
            } else {
                ""
            }
        ),
        points,
    }
}
