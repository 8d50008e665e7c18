//! The measuring loop of [`bench_model`]: pp and tg tests on one session, then the time to
//! first token from a fresh mapping of the file.

use std::path::Path;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{
    memory, BenchParams, BenchProgress, Machine, MemoryUsage, ModelBench, ModelInfo, Summary,
    TestKind, TestResult,
};
use crate::error::Error;
use crate::loader::open_model_and_tokenizer;
use crate::model::{LoadParams, Model, ModelError};
use crate::session::{Session, SessionParams};

/// The text whose first tokens make the time-to-first-token prompt (long enough for any
/// vocabulary to give well over 16 tokens).
const TTFT_TEXT: &str = "The old lighthouse keeper climbed the spiral stairs every evening, \
    counting the steps out loud, and wrote the weather, the ships he had seen and the colour of \
    the sea in a leather notebook that his grandmother had given him long ago.";

/// Timed passes of the memory bandwidth measurement.
const BANDWIDTH_PASSES: usize = 5;

/// Measures the model at `path` as `params` asks (see the [module documentation](super)),
/// calling `on_progress` after every run.
pub fn bench_model(
    path: &Path,
    params: &BenchParams,
    mut on_progress: impl FnMut(BenchProgress<'_>),
) -> Result<ModelBench, Error> {
    let plan = Plan::of(params)?;
    let machine = Machine::now();
    let threads = params.session.n_threads.unwrap_or(machine.logical_cpus);
    let read_bandwidth = if params.bandwidth {
        Some(super::read_bandwidth(threads, BANDWIDTH_PASSES)?)
    } else {
        None
    };
    // The peak covers this model only, not what the process held before.
    memory::reset_peak();
    let mut mem = MemoryUsage::now();

    let model = Model::open_with(path, &params.load)?;
    let packed_copy = model.packed_origin().kind().to_owned();
    let info = ModelInfo::of(model.gguf());
    let n_ctx = params.session.n_ctx.unwrap_or(plan.n_ctx);
    if n_ctx < plan.n_ctx {
        return Err(bad(format!(
            "{} needs {} positions but the context is {n_ctx}",
            plan.widest, plan.n_ctx
        )));
    }
    let train = model.hparams.n_ctx_train;
    if n_ctx > train {
        return Err(bad(format!(
            "{} needs {n_ctx} positions, more than the model's training context of {train}",
            plan.widest
        )));
    }
    let session_params = SessionParams {
        n_ctx: Some(n_ctx),
        ..params.session.clone()
    };
    let mut session = Session::new(&model, &session_params)?;
    let n_vocab = model.hparams.n_vocab as u32;
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut random_ids =
        |n: usize| -> Vec<u32> { (0..n).map(|_| rng.random_range(0..n_vocab)).collect() };

    let reps = params.repetitions;
    let mut tests = Vec::new();
    for test in &plan.tests {
        let name = test.name();
        let mut tok_s = Vec::with_capacity(reps);
        let context = random_ids(test.depth);
        let ids = random_ids(test.n_tokens);
        let warm = usize::from(params.warmup);
        if params.warmup {
            // An untimed run, as llama-bench's: the whole prompt for pp, one decode step from
            // an empty context for tg.
            session.reset();
            match test.kind {
                TestKind::Pp => {
                    session.prefill(&ids)?;
                }
                TestKind::Tg => {
                    session.decode(ids[0])?;
                }
            }
            on_progress(BenchProgress {
                test: &name,
                done: 1,
                total: reps + 1,
            });
        }
        for run in 1..=reps {
            session.reset();
            if test.depth > 0 {
                session.prefill(&context)?;
            }
            let t0 = Instant::now();
            match test.kind {
                TestKind::Pp => {
                    session.prefill(&ids)?;
                }
                TestKind::Tg => {
                    for &id in &ids {
                        session.decode(id)?;
                    }
                }
            }
            let secs = t0.elapsed().as_secs_f64();
            tok_s.push(test.n_tokens as f64 / secs.max(1e-12));
            on_progress(BenchProgress {
                test: &name,
                done: run + warm,
                total: reps + warm,
            });
        }
        mem = mem.max(MemoryUsage::now());
        let tok_s = summary(&tok_s)?;
        let bytes_per_token = match test.kind {
            TestKind::Pp => None,
            TestKind::Tg => {
                let steps = test.depth..test.depth + test.n_tokens;
                let kv = session_params.kv_cache;
                let total = steps
                    .map(|p| model.decode_step_bytes(p, kv))
                    .sum::<Result<u64, ModelError>>()?;
                Some(total as f64 / test.n_tokens as f64)
            }
        };
        tests.push(TestResult {
            name,
            kind: test.kind,
            n_tokens: test.n_tokens,
            depth: test.depth,
            read_bytes_s: bytes_per_token.map(|b| b * tok_s.median),
            tok_s,
            bytes_per_token,
        });
    }
    let session_bytes = session.memory_bytes();
    let max_batch = params.session.max_batch.min(n_ctx);
    drop(session);
    drop(model);

    let ttft = if params.ttft_prompt > 0 {
        let name = format!("ttft{}", params.ttft_prompt);
        let mut ms = Vec::with_capacity(reps);
        let warm = usize::from(params.warmup);
        for run in 1 - warm..=reps {
            let t = time_to_first_token(path, params.ttft_prompt, &params.load, &session_params)?;
            if run > 0 {
                ms.push(t * 1e3);
            }
            mem = mem.max(MemoryUsage::now());
            on_progress(BenchProgress {
                test: &name,
                done: run + warm,
                total: reps + warm,
            });
        }
        Some(summary(&ms)?)
    } else {
        None
    };
    mem = mem.max(MemoryUsage::now());

    let first = |kind: TestKind| {
        tests
            .iter()
            .filter(|t| t.kind == kind)
            .min_by_key(|t| t.depth)
            .map(|t| t.tok_s.median)
    };
    Ok(ModelBench {
        model_path: path.display().to_string(),
        threads,
        pp_tok_s: tests
            .iter()
            .find(|t| t.kind == TestKind::Pp)
            .map(|t| t.tok_s.median),
        tg_tok_s: first(TestKind::Tg),
        ttft_ms: ttft.as_ref().map(|s| s.median),
        read_bandwidth,
        peak_rss_bytes: mem.peak_rss_bytes,
        rss_anon_bytes: mem.rss_anon_bytes,
        info,
        n_ctx,
        max_batch,
        kv_cache: session_params.kv_cache.name().to_owned(),
        packed_copy,
        session_bytes,
        repetitions: reps,
        warmup: params.warmup,
        tests,
        ttft,
        ttft_prompt: params.ttft_prompt,
        memory: mem,
        machine,
    })
}

/// Seconds from opening the file to the first token of a `n`-token prompt.
fn time_to_first_token(
    path: &Path,
    n: usize,
    load: &LoadParams,
    params: &SessionParams,
) -> Result<f64, Error> {
    let t0 = Instant::now();
    let (model, tok) = open_model_and_tokenizer(path, load)?;
    let text = tok.encode(TTFT_TEXT, true)?;
    if text.is_empty() {
        return Err(bad("the tokenizer gives no tokens for the TTFT text".into()));
    }
    let ids: Vec<u32> = text.iter().copied().cycle().take(n).collect();
    let mut session = Session::new(&model, params)?;
    let logits = session.prefill(&ids)?;
    let first = logits
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &l)| {
            if l > best.1 {
                (i, l)
            } else {
                best
            }
        });
    let secs = t0.elapsed().as_secs_f64();
    std::hint::black_box(first);
    Ok(secs)
}

/// One pp or tg test.
struct TestSpec {
    kind: TestKind,
    n_tokens: usize,
    depth: usize,
}

impl TestSpec {
    fn name(&self) -> String {
        let base = match self.kind {
            TestKind::Pp => format!("pp{}", self.n_tokens),
            TestKind::Tg => format!("tg{}", self.n_tokens),
        };
        if self.depth > 0 {
            format!("{base} @ d{}", self.depth)
        } else {
            base
        }
    }
}

/// The tests `params` asks for and the context they need.
struct Plan {
    tests: Vec<TestSpec>,
    /// Positions the largest test needs.
    n_ctx: usize,
    /// That test's name, for error messages.
    widest: String,
}

impl Plan {
    fn of(params: &BenchParams) -> Result<Plan, Error> {
        if params.repetitions == 0 {
            return Err(bad("0 repetitions: at least one timed run is needed".into()));
        }
        let mut tests = Vec::new();
        for &n in params.n_prompt.iter().filter(|&&n| n > 0) {
            tests.push(TestSpec {
                kind: TestKind::Pp,
                n_tokens: n,
                depth: 0,
            });
        }
        for &d in &params.depths {
            for &n in params.n_gen.iter().filter(|&&n| n > 0) {
                tests.push(TestSpec {
                    kind: TestKind::Tg,
                    n_tokens: n,
                    depth: d,
                });
            }
        }
        if tests.is_empty() && params.ttft_prompt == 0 {
            return Err(bad(
                "nothing to measure: every prompt and generation length is 0 and TTFT is off"
                    .into(),
            ));
        }
        let mut n_ctx = params.ttft_prompt.max(1);
        let mut widest = format!("ttft{}", params.ttft_prompt);
        for t in &tests {
            let need = t
                .depth
                .checked_add(t.n_tokens)
                .ok_or_else(|| bad(format!("{}: depth plus tokens overflow", t.name())))?;
            if need > n_ctx {
                n_ctx = need;
                widest = t.name();
            }
        }
        Ok(Plan {
            tests,
            n_ctx,
            widest,
        })
    }
}

fn summary(samples: &[f64]) -> Result<Summary, Error> {
    Summary::of(samples).ok_or_else(|| bad("the clock gave no usable time".into()))
}

fn bad(message: String) -> Error {
    Error::Model(ModelError::BadParam(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_names_its_tests_like_llama_bench_and_sizes_the_context() {
        let params = BenchParams {
            n_prompt: vec![128, 0, 512],
            n_gen: vec![64],
            depths: vec![0, 1024],
            ..BenchParams::default()
        };
        let plan = Plan::of(&params).unwrap();
        let names: Vec<String> = plan.tests.iter().map(TestSpec::name).collect();
        assert_eq!(names, ["pp128", "pp512", "tg64", "tg64 @ d1024"]);
        assert_eq!((plan.n_ctx, plan.widest.as_str()), (1088, "tg64 @ d1024"));
    }

    #[test]
    fn empty_plans_and_zero_repetitions_are_errors() {
        let none = BenchParams {
            n_prompt: vec![0],
            n_gen: vec![],
            ttft_prompt: 0,
            ..BenchParams::default()
        };
        let err = Plan::of(&none).err().unwrap().to_string();
        assert!(err.contains("nothing to measure"), "{err}");
        let zero = BenchParams {
            repetitions: 0,
            ..BenchParams::default()
        };
        assert!(Plan::of(&zero)
            .err()
            .unwrap()
            .to_string()
            .contains("repetitions"));
    }
}
