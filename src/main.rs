//! The `retort` command line.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Retort: run distilled small language models on the edge.
#[derive(Parser)]
#[command(name = "retort", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a GGUF model's architecture, hyper-parameters, tokenizer and tensor table.
    Inspect {
        /// A catalog name or a path (default: the default catalog model, pulled on first use).
        #[arg(value_name = "MODEL")]
        model: Option<String>,
        /// Same as MODEL.
        #[arg(short = 'm', long = "model", conflicts_with = "model")]
        model_flag: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Fetch, assemble and verify catalog models and evaluation texts into the cache.
    Pull {
        /// Catalog model or text names (default: the default model).
        names: Vec<String>,
    },
    /// List the catalog and what is cached.
    Models,
    /// Generate text from a prompt (streams to stdout; statistics to stderr).
    Run(cli::run::RunArgs),
    /// Measure speed and memory per model and thread count, shaped like llama-bench.
    Bench(cli::bench::BenchArgs),
    /// Perplexity of a model on a text (llama.cpp's definition: second halves of chunks).
    Perplexity(cli::perplexity::PerplexityArgs),
    /// Compare models: size, perplexity, bits per byte, speed, memory; a table and a plot.
    Compare(cli::compare::CompareArgs),
    /// Talk with a model in the terminal; the KV cache is kept across turns.
    #[cfg(feature = "chat")]
    Chat(cli::chat::ChatArgs),
    /// Serve the OpenAI API (chat completions, completions, models) over HTTP.
    #[cfg(feature = "serve")]
    Serve(cli::serve::ServeArgs),
    /// Print the token ids of a text.
    Tokenize {
        /// Catalog name or GGUF path.
        #[arg(short = 'm', long = "model")]
        model: Option<String>,
        /// The text.
        text: String,
        /// Print ids and pieces as JSON.
        #[arg(long)]
        json: bool,
        /// Do not add BOS/EOS even if the model asks for them.
        #[arg(long)]
        no_special: bool,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Inspect {
            model,
            model_flag,
            json,
        } => cli::inspect::run(model.or(model_flag).as_deref(), json),
        Command::Pull { names } => cli::pull::run(&names),
        Command::Models => cli::models::run(),
        Command::Run(args) => cli::run::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Perplexity(args) => cli::perplexity::run(args),
        Command::Compare(args) => cli::compare::run(args),
        #[cfg(feature = "chat")]
        Command::Chat(args) => cli::chat::run(args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => cli::serve::run(args),
        Command::Tokenize {
            model,
            text,
            json,
            no_special,
        } => cli::tokenize::run(model.as_deref(), &text, json, no_special),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
