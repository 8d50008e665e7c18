//! Speed, memory and quality measurement. Speed and memory are shaped like llama.cpp's
//! `llama-bench` so the numbers line up: `retort bench` prints them, `retort compare` reuses
//! them. Quality is [`perplexity`] (llama.cpp's definition, and bits per byte), which
//! `retort perplexity` and `retort compare` print.
//!
//! For one model at one thread count, [`bench_model`] measures:
//! - **pp** (prompt processing): a prompt of `n` random token ids run in one
//!   [`Session::prefill`](crate::session::Session::prefill) (batches of the session's
//!   `max_batch`), from an empty session; tokens/s.
//! - **tg** (text generation): `n` single-token decode steps from an empty session, or after
//!   `depth` positions of context (filled by an untimed prefill); tokens/s. Sampling is not
//!   timed: each step feeds the next of a fixed random sequence, as llama-bench does.
//! - **TTFT** (time to first token): open the file (a fresh memory map; the page cache stays
//!   warm from the earlier runs), build the tokenizer, encode a text and keep its first
//!   `ttft_prompt` tokens, create the session, prefill, pick the first token (arg-max).
//! - **memory**: the process's peak resident set over the whole measurement, and the resident
//!   memory beyond the file-backed pages (KV cache, scratch, tokenizer tables).
//! - **bandwidth** (when [`BenchParams::bandwidth`] asks): the machine's memory read bandwidth
//!   at the session's thread count ([`read_bandwidth`], measured before the model is loaded, its
//!   buffer gone before the memory figures start), and for every tg test the bandwidth the
//!   decode achieved: [`Model::decode_step_bytes`](crate::model::Model::decode_step_bytes)
//!   over its steps × tokens/s.
//!
//! Every figure is repeated and reported as a [`Summary`] (median and spread). Each test starts
//! (unless [`BenchParams::warmup`] is off) with an untimed warm-up as llama-bench's (the whole prompt for pp, one decode step for tg,
//! one TTFT run). A tg test at depth `d` fills the context anew before each timed run (untimed).
//! Tests run one after another, never two at once.

mod bandwidth;
mod compare;
mod machine;
mod memory;
mod model_info;
mod perplexity;
mod speed;
mod stats;

pub use bandwidth::read_bandwidth;
pub use compare::{compare_model, tokenizer_id, CompareParams, CompareProgress, CompareRow};
pub use machine::Machine;
pub use memory::{reset_peak, MemoryUsage};
pub use model_info::ModelInfo;
pub use perplexity::{perplexity, Perplexity, PerplexityParams, PerplexityProgress};
pub use speed::bench_model;
pub use stats::Summary;

use serde::Serialize;

use crate::model::LoadParams;
use crate::session::SessionParams;

/// What [`bench_model`] measures.
#[derive(Clone, Debug)]
pub struct BenchParams {
    /// Prompt lengths of the pp tests (one test each; 0 skips).
    pub n_prompt: Vec<usize>,
    /// Decode steps of the tg tests (one test per length and depth; 0 skips).
    pub n_gen: Vec<usize>,
    /// Context depths the tg tests start from.
    pub depths: Vec<usize>,
    /// Timed runs of every test.
    pub repetitions: usize,
    /// Prompt tokens of the time-to-first-token test (0 skips it).
    pub ttft_prompt: usize,
    /// Whether each test starts with an untimed warm-up run.
    pub warmup: bool,
    /// The session: threads, batch size, KV cache, output head. `n_ctx: None` sizes the
    /// context to the largest test, as llama-bench does.
    pub session: SessionParams,
    /// Seed of the random token ids.
    pub seed: u64,
    /// Whether to measure the machine's memory read bandwidth first.
    pub bandwidth: bool,
    /// How the model is loaded (every load: the timed tests' and each time-to-first-token
    /// run's); by default as the command line does ([`crate::catalog::load_params`]).
    pub load: LoadParams,
}

impl Default for BenchParams {
    fn default() -> Self {
        BenchParams {
            n_prompt: vec![128],
            n_gen: vec![64],
            depths: vec![0],
            repetitions: 5,
            ttft_prompt: 16,
            warmup: true,
            session: SessionParams::default(),
            seed: 1234,
            bandwidth: false,
            load: crate::catalog::load_params(),
        }
    }
}

/// Whether a test processes a prompt or generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestKind {
    /// Prompt processing: one prefill of `n_tokens`.
    Pp,
    /// Text generation: `n_tokens` decode steps after `depth` positions.
    Tg,
}

/// One test's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestResult {
    /// llama-bench's name for it: `pp128`, `tg64`, `tg64 @ d1024`.
    pub name: String,
    /// Prompt processing or generation.
    pub kind: TestKind,
    /// Tokens per run.
    pub n_tokens: usize,
    /// Positions already in the context when the timed part starts.
    pub depth: usize,
    /// Tokens per second over the repetitions.
    pub tok_s: Summary,
    /// Bytes a step reads from memory, averaged over the test's steps (tg tests:
    /// [`Model::decode_step_bytes`](crate::model::Model::decode_step_bytes)).
    pub bytes_per_token: Option<f64>,
    /// `bytes_per_token` × median tokens/s: the memory bandwidth the decode achieved.
    pub read_bytes_s: Option<f64>,
}

/// Everything measured for one model at one thread count. Serialises to the JSON object
/// `retort bench --json` prints: the headline fields first, the details after.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelBench {
    /// The model's file.
    pub model_path: String,
    /// Worker threads.
    pub threads: usize,
    /// Median tokens/s of the first pp test.
    pub pp_tok_s: Option<f64>,
    /// Median tokens/s of the first tg test at the smallest depth.
    pub tg_tok_s: Option<f64>,
    /// Median time to first token, milliseconds.
    pub ttft_ms: Option<f64>,
    /// The machine's memory read bandwidth at this thread count, bytes per second (when
    /// measured).
    pub read_bandwidth: Option<Summary>,
    /// Peak resident set of the process while this model was measured.
    pub peak_rss_bytes: Option<u64>,
    /// Largest resident memory beyond the file-backed pages seen after any test.
    pub rss_anon_bytes: Option<u64>,
    /// The model's description.
    pub info: ModelInfo,
    /// Positions the session held.
    pub n_ctx: usize,
    /// Largest prefill batch.
    pub max_batch: usize,
    /// KV cache element type (`f32`, `f16`, `q8_0`).
    pub kv_cache: String,
    /// Where the repacked weights came from ([`crate::model::PackedOrigin::kind`]): `reused`
    /// (mapped from the copy an earlier load kept), `kept`, `repacked` or `none`.
    pub packed_copy: String,
    /// Bytes of KV cache and scratch the session allocated.
    pub session_bytes: usize,
    /// Timed runs of each test.
    pub repetitions: usize,
    /// Whether each test began with an untimed warm-up run.
    pub warmup: bool,
    /// Every test.
    pub tests: Vec<TestResult>,
    /// Time to first token, milliseconds, over the repetitions.
    pub ttft: Option<Summary>,
    /// Prompt tokens of the TTFT test.
    pub ttft_prompt: usize,
    /// The largest memory figures seen after any test.
    pub memory: MemoryUsage,
    /// The machine, read when the measurement started.
    pub machine: Machine,
}

impl ModelBench {
    /// The test named `name` (`pp512`, `tg64 @ d4096`).
    pub fn test(&self, name: &str) -> Option<&TestResult> {
        self.tests.iter().find(|t| t.name == name)
    }
}

/// Progress of a running [`bench_model`], for a progress bar or log line.
#[derive(Clone, Copy, Debug)]
pub struct BenchProgress<'a> {
    /// The test running (`pp128`, `ttft16`, ...).
    pub test: &'a str,
    /// Runs of it finished.
    pub done: usize,
    /// Runs of it in all (the warm-up included, when there is one).
    pub total: usize,
}
