//! `retort serve`: the OpenAI-compatible HTTP server (see `retort::serve`).

use std::net::{IpAddr, TcpListener};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use retort::model::{Model, OutputHead};
use retort::serve::{shutdown_signal, ServeParams, Server};

/// Options of `retort serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Catalog name or GGUF path (pulled on first use).
    #[arg(short = 'm', long = "model")]
    model: Option<String>,
    /// The model's name in /v1/models and in requests' "model" (default: the catalog name, or
    /// the file's name without extension).
    #[arg(long)]
    alias: Option<String>,
    /// Address to listen on; anything but loopback without --api-key prints a warning.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Conversations served at once, each with its own KV cache allocated at start.
    #[arg(long, default_value_t = 1)]
    slots: usize,
    /// Requests that may wait for a free slot; more get 503 with Retry-After.
    #[arg(long, default_value_t = ServeParams::default().queue)]
    queue: usize,
    /// Context size per slot (default: the model's, at most 4096).
    #[arg(long)]
    ctx: Option<usize>,
    /// Worker threads in all, divided among the slots (default: all cores).
    #[arg(short = 't', long = "threads")]
    threads: Option<usize>,
    /// Require "Authorization: Bearer TOKEN" on every endpoint but /health.
    #[arg(long, value_name = "TOKEN")]
    api_key: Option<String>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = ServeParams::default().max_body_bytes)]
    max_body: usize,
    /// Longest a request may take, queue included, in seconds.
    #[arg(long, default_value_t = ServeParams::default().request_timeout.as_secs())]
    timeout: u64,
    /// After SIGINT/SIGTERM, seconds running generations may go on before they are cancelled.
    #[arg(long, default_value_t = ServeParams::default().shutdown_grace.as_secs())]
    shutdown_grace: u64,
    /// Compute the logits with activations quantized once (see `retort run --help`).
    #[arg(long)]
    quantized_head: bool,
    #[command(flatten)]
    watermark: super::sampling_args::WatermarkArgs,
}

/// Loads the model, allocates the slots, binds and serves until SIGINT/SIGTERM.
pub fn run(args: ServeArgs) -> Result<()> {
    let path = super::resolve_model(args.model.as_deref())?;
    // The name clients use: --alias, else the catalog name, else the file's name.
    let model_id = match (&args.alias, &args.model) {
        (Some(alias), _) => alias.clone(),
        (None, Some(m)) if !std::path::Path::new(m).exists() => m.clone(),
        (None, None) => retort::catalog::Catalog::builtin()?
            .default_model()
            .name
            .clone(),
        _ => path
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned()),
    };
    let model = Model::open_with(&path, &retort::catalog::load_params())
        .with_context(|| format!("loading {}", path.display()))?;
    super::warn_unkept_copy(&model);
    // Server::new checks the key against the model's vocabulary.
    let watermark = args.watermark.load_unchecked()?;
    let params = ServeParams {
        model_id: model_id.clone(),
        slots: args.slots,
        n_ctx: args.ctx,
        threads: args.threads,
        queue: args.queue,
        api_key: args.api_key.clone(),
        max_body_bytes: args.max_body,
        request_timeout: Duration::from_secs(args.timeout),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        output_head: if args.quantized_head {
            OutputHead::Quantized
        } else {
            OutputHead::Precise
        },
        watermark: watermark.clone(),
        ..ServeParams::default()
    };
    let server = Server::new(&model, params).with_context(|| match &watermark {
        Some(w) => format!("serving {} with key {}", path.display(), w.key_id()),
        None => format!("serving {}", path.display()),
    })?;
    eprintln!(
        "retort serve: {model_id} ({}), {} slot(s) x {} positions, {} thread(s) per slot, \
         {:.1} MiB of KV cache and scratch allocated, tier {}",
        model.hparams.arch,
        args.slots,
        server.n_ctx(),
        server.threads_per_slot(),
        server.memory_bytes() as f64 / (1 << 20) as f64,
        retort_kernels::ops::active_tier(),
    );
    if let Some(w) = &watermark {
        eprintln!(
            "watermark: every completion is marked under key {} · {} (POST /v1/verify checks a \
             text); greedy requests (temperature 0) cannot carry a distortion-free mark and say so",
            w.key_id(),
            w.scheme()
        );
    }
    if let Some(why) = server.chat_template_error() {
        eprintln!("warning: /v1/chat/completions is unavailable: {why}");
    }
    let listener = TcpListener::bind((args.host, args.port))
        .with_context(|| format!("binding {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    if !args.host.is_loopback() && args.api_key.is_none() {
        eprintln!(
            "warning: listening on {addr}, reachable from other machines, without --api-key: \
             anyone who can reach it can use it"
        );
    }
    // Tests and scripts read this line to learn the port.
    eprintln!("listening on http://{addr}");
    server.run(listener, shutdown_signal())?;
    eprintln!("retort serve: stopped");
    Ok(())
}
