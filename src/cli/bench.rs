//! `retort bench`: speed and memory per model and thread count, shaped like llama-bench
//! (markdown table by default, one JSON object per line with `--json`).

use std::io::Write;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use retort::bench::{bench_model, BenchParams, ModelBench, Summary};
use retort::kv_cache::KvCacheType;
use retort::model::OutputHead;
use retort::session::SessionParams;
use serde_json::json;

/// Options of `retort bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Catalog name or GGUF path; repeat for several models (default: the default model).
    #[arg(short = 'm', long = "model")]
    models: Vec<String>,
    /// Thread counts, comma-separated (default: all cores).
    #[arg(short = 't', long = "threads", value_delimiter = ',')]
    threads: Vec<usize>,
    /// Prompt lengths of the pp tests, comma-separated (0 skips).
    #[arg(
        short = 'p',
        long = "n-prompt",
        value_delimiter = ',',
        default_value = "128"
    )]
    n_prompt: Vec<usize>,
    /// Decode steps of the tg tests, comma-separated (0 skips).
    #[arg(
        short = 'n',
        long = "n-gen",
        value_delimiter = ',',
        default_value = "64"
    )]
    n_gen: Vec<usize>,
    /// Context depths the tg tests start from, comma-separated.
    #[arg(
        short = 'd',
        long = "n-depth",
        value_delimiter = ',',
        default_value = "0"
    )]
    depths: Vec<usize>,
    /// Timed repetitions of every test.
    #[arg(short = 'r', long = "repetitions", default_value_t = 5)]
    repetitions: usize,
    /// Prompt tokens of the time-to-first-token test (0 skips it).
    #[arg(long = "ttft", default_value_t = 16)]
    ttft: usize,
    /// Skip the untimed warm-up run of each test.
    #[arg(long)]
    no_warmup: bool,
    /// Largest prefill batch (default: the session's).
    #[arg(short = 'b', long = "batch")]
    batch: Option<usize>,
    /// Context size (default: what the largest test needs, as llama-bench does).
    #[arg(long)]
    ctx: Option<usize>,
    /// KV cache element type: f16 (the default), f32 or q8_0 (llama-bench's -ctk/-ctv; one
    /// type for both).
    #[arg(long = "kv-cache", alias = "ctk", value_parser = parse_kv_type)]
    kv_cache: Option<KvCacheType>,
    /// Logits with activations quantized once, like llama.cpp (see `retort run --help`).
    #[arg(long)]
    quantized_head: bool,
    /// Seed of the random token ids.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
    /// Measure the machine's memory read bandwidth at each thread count first (a few seconds),
    /// and give each tg test's achieved bandwidth as a share of it: decode's roofline.
    #[arg(long)]
    bandwidth: bool,
    /// Print one JSON object per model and thread count instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark.
pub fn run(args: BenchArgs) -> Result<()> {
    let models = if args.models.is_empty() {
        vec![None]
    } else {
        args.models.iter().map(|m| Some(m.as_str())).collect()
    };
    let threads: Vec<Option<usize>> = if args.threads.is_empty() {
        vec![None]
    } else {
        args.threads.iter().map(|&t| Some(t)).collect()
    };
    let mut rows = Vec::new();
    let mut stdout = std::io::stdout().lock();
    for name in models {
        let path = super::resolve_model(name)?;
        let label = name.map_or_else(
            || {
                path.file_stem().map_or_else(
                    || path.display().to_string(),
                    |s| s.to_string_lossy().into(),
                )
            },
            str::to_owned,
        );
        for &t in &threads {
            let mut session = SessionParams {
                n_ctx: args.ctx,
                n_threads: t,
                ..SessionParams::default()
            };
            if let Some(b) = args.batch {
                session.max_batch = b;
            }
            if args.quantized_head {
                session.output_head = OutputHead::Quantized;
            }
            if let Some(ty) = args.kv_cache {
                session.kv_cache = ty;
            }
            let params = BenchParams {
                n_prompt: args.n_prompt.clone(),
                n_gen: args.n_gen.clone(),
                depths: args.depths.clone(),
                repetitions: args.repetitions,
                ttft_prompt: args.ttft,
                warmup: !args.no_warmup,
                session,
                seed: args.seed,
                bandwidth: args.bandwidth,
                load: retort::catalog::load_params(),
            };
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            let threads_label = t.map_or_else(|| "all".to_owned(), |t| t.to_string());
            let result = bench_model(&path, &params, |p| {
                bar.set_message(format!(
                    "{label}, {threads_label} threads: {} {}/{}",
                    p.test, p.done, p.total
                ));
                bar.tick();
            })
            .with_context(|| format!("benchmarking {}", path.display()))?;
            bar.finish_and_clear();
            if args.json {
                writeln!(stdout, "{}", json_line(&label, &result)?)?;
                stdout.flush()?;
            }
            rows.push((label.clone(), result));
        }
    }
    if !args.json {
        write!(stdout, "{}", markdown(&rows))?;
    }
    Ok(())
}

/// The JSON object of one (model, threads): `model` (as given on the command line) and then
/// every field of [`ModelBench`].
fn json_line(label: &str, b: &ModelBench) -> Result<String> {
    let mut value = serde_json::to_value(b)?;
    if let Some(obj) = value.as_object_mut() {
        let mut with_model = serde_json::Map::new();
        with_model.insert("model".into(), json!(label));
        with_model.extend(std::mem::take(obj));
        *obj = with_model;
    }
    Ok(serde_json::to_string(&value)?)
}

/// A llama-bench-like markdown table: one row per (model, threads), a column per test.
fn markdown(rows: &[(String, ModelBench)]) -> String {
    let Some((_, first)) = rows.first() else {
        return String::new();
    };
    let mut header = vec![
        "model".to_owned(),
        "size".into(),
        "params".into(),
        "quant".into(),
        "threads".into(),
    ];
    header.extend(first.tests.iter().map(|t| format!("{} t/s", t.name)));
    // Each tg test's achieved bandwidth, and the machine's when measured.
    header.extend(
        first
            .tests
            .iter()
            .filter(|t| t.read_bytes_s.is_some())
            .map(|t| format!("{} GB/s", t.name)),
    );
    if first.read_bandwidth.is_some() {
        header.push("memory GB/s".into());
    }
    if first.ttft.is_some() {
        header.push(format!("TTFT{} ms", first.ttft_prompt));
    }
    header.push("peak RSS MiB".into());
    header.push("beyond file MiB".into());
    let mut out = String::new();
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let align: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, _)| if i < 4 { "---" } else { "---:" })
        .collect();
    out.push_str(&format!("| {} |\n", align.join(" | ")));
    for (label, b) in rows {
        let mut cells = vec![
            label.clone(),
            format!("{:.1} MiB", b.info.size_bytes as f64 / MIB),
            b.info.params_label(),
            b.info.file_type.clone(),
            b.threads.to_string(),
        ];
        cells.extend(b.tests.iter().map(|t| cell(&t.tok_s, 2)));
        let machine = b.read_bandwidth.as_ref().map(|s| s.median);
        cells.extend(b.tests.iter().filter_map(|t| {
            let got = t.read_bytes_s?;
            Some(match machine {
                Some(m) => format!("{:.2} ({:.0} %)", got / 1e9, 100.0 * got / m),
                None => format!("{:.2}", got / 1e9),
            })
        }));
        if let Some(m) = &b.read_bandwidth {
            cells.push(format!("{:.2} ± {:.2}", m.median / 1e9, m.stddev / 1e9));
        }
        if let Some(t) = &b.ttft {
            cells.push(cell(t, 1));
        }
        cells.push(mib(b.peak_rss_bytes));
        cells.push(mib(b.rss_anon_bytes));
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    let m = &first.machine;
    out.push_str(&format!(
        "\n{} ({} logical CPUs), tier {}, {} KV cache, repacked weights of the first row: {}, load \
         average {} when the first row started. \
         Median ± standard deviation of {} runs{}; pp/tg: random token ids, \
         sampling not timed; TTFT: open the file (page cache warm) + tokenizer + {}-token \
         prompt + first token.{}\n",
        m.cpu,
        m.logical_cpus,
        m.tier,
        first.kv_cache,
        first.packed_copy,
        m.load_avg_1m
            .map_or("unknown".into(), |l| format!("{l:.2}")),
        first.repetitions,
        if first.warmup {
            " after one warm-up"
        } else {
            ""
        },
        first.ttft_prompt,
        if first.tests.iter().any(|t| t.read_bytes_s.is_some()) {
            " tg GB/s: the bytes a decode step reads (weights, one embedding row, the attended \
             KV rows) × median t/s."
        } else {
            ""
        },
    ));
    if first.read_bandwidth.is_some() {
        out.push_str(
            "memory GB/s: the machine's read bandwidth at the row's thread count (512 MiB \
             streamed in contiguous parts, median ± standard deviation of 5 passes); the % is \
             the share of it the decode achieved.\n",
        );
    }
    out
}

const MIB: f64 = 1024.0 * 1024.0;

/// Parses `--kv-cache` (shared with `retort run`).
pub fn parse_kv_type(s: &str) -> Result<KvCacheType, String> {
    KvCacheType::from_name(s).ok_or_else(|| format!("'{s}': expected f32, f16 or q8_0"))
}

fn cell(s: &Summary, decimals: usize) -> String {
    format!("{:.*} ± {:.*}", decimals, s.median, decimals, s.stddev)
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "n/a".into(), |b| format!("{:.1}", b as f64 / MIB))
}
