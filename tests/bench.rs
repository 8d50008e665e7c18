//! `retort bench` and the library's measuring code: every test is measured and named as
//! llama-bench names it, memory figures are consistent, bad parameters are clear errors.
//! (Speed itself lives in benchmarks: nothing here asserts a timing.)

mod support;

use std::process::Command;

use retort::bench::{bench_model, BenchParams, TestKind};
use retort::session::SessionParams;
use serde_json::Value;

const SMOLLM2: &str = "smollm2-135m-instruct-q4_1";

fn retort() -> Command {
    Command::new(env!("CARGO_BIN_EXE_retort"))
}

/// The standard output of `retort` run with `args`, which must succeed.
fn stdout_of(args: &[&str]) -> String {
    let out = retort().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bench_model_measures_every_test_and_the_memory() {
    let path = support::model_path(SMOLLM2);
    let params = BenchParams {
        n_prompt: vec![8, 20],
        n_gen: vec![4],
        depths: vec![0, 70],
        repetitions: 2,
        ttft_prompt: 5,
        session: SessionParams {
            n_threads: Some(2),
            max_batch: 16,
            ..SessionParams::default()
        },
        ..BenchParams::default()
    };
    let mut progress = Vec::new();
    let b = bench_model(&path, &params, |p| {
        progress.push((p.test.to_owned(), p.done, p.total))
    })
    .unwrap();
    let names: Vec<&str> = b.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["pp8", "pp20", "tg4", "tg4 @ d70"]);
    assert_eq!(b.tests[3].kind, TestKind::Tg);
    assert_eq!((b.tests[3].n_tokens, b.tests[3].depth), (4, 70));
    for t in &b.tests {
        assert_eq!(t.tok_s.samples.len(), 2, "{}", t.name);
        assert!(
            t.tok_s.min > 0.0 && t.tok_s.min <= t.tok_s.median,
            "{}",
            t.name
        );
    }
    // A tg test's bytes are the mean over its steps' positions; pp tests have none.
    let model = retort::model::Model::open(&path).unwrap();
    let kv = params.session.kv_cache;
    let steps: u64 = (70..74)
        .map(|p| model.decode_step_bytes(p, kv).unwrap())
        .sum();
    assert_eq!(b.tests[3].bytes_per_token, Some(steps as f64 / 4.0));
    assert_eq!(
        b.tests[3].read_bytes_s,
        Some(steps as f64 / 4.0 * b.tests[3].tok_s.median)
    );
    assert_eq!(
        (b.tests[0].bytes_per_token, b.tests[0].read_bytes_s),
        (None, None)
    );
    assert!(b.read_bandwidth.is_none());
    // Headline fields are the first pp test and the shallowest tg test.
    assert_eq!(b.pp_tok_s, Some(b.tests[0].tok_s.median));
    assert_eq!(b.tg_tok_s, Some(b.tests[2].tok_s.median));
    let ttft = b.ttft.as_ref().unwrap();
    assert_eq!(ttft.samples.len(), 2);
    assert_eq!(b.ttft_ms, Some(ttft.median));
    // The context fits the deepest test exactly; the batch is the session's.
    assert_eq!((b.n_ctx, b.max_batch, b.threads), (74, 16, 2));
    // One warm-up run, then the timed ones, for every test in order.
    assert_eq!(progress.len(), 5 * 3);
    assert_eq!(progress[0], ("pp8".into(), 1, 3));
    assert_eq!(progress[14], ("ttft5".into(), 3, 3));
    assert_eq!(b.info.arch, "llama");
    assert_eq!(b.info.file_type, "Q4_1");
    assert_eq!(b.info.size_bytes, std::fs::metadata(&path).unwrap().len());
    assert!(
        (134_000_000..136_000_000).contains(&b.info.n_params),
        "{}",
        b.info.n_params
    );
    if cfg!(target_os = "linux") {
        // Every weight is read (the output head is the tied embedding), so the peak holds the
        // whole mapped file's worth: the layer matrices as their repacked copy (anonymous
        // memory when repacked at this load, file pages when mapped from the copy an earlier
        // load kept; their own file pages are given back at load), the rest as file pages.
        let peak = b.peak_rss_bytes.unwrap();
        let anon = b.rss_anon_bytes.unwrap();
        let file = b.memory.rss_file_bytes.unwrap();
        assert!(peak >= b.info.size_bytes * 9 / 10, "peak {peak}");
        assert!(anon < peak, "anon {anon} peak {peak}");
        assert!(
            file + anon >= b.info.size_bytes * 9 / 10,
            "file pages {file} + anon {anon}"
        );
    }
}

#[test]
fn bench_refuses_tests_the_context_cannot_hold() {
    let path = support::model_path(SMOLLM2);
    let too_deep = BenchParams {
        n_prompt: vec![],
        depths: vec![9000],
        ..BenchParams::default()
    };
    let err = bench_model(&path, &too_deep, |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tg64 @ d9000") && err.contains("9064") && err.contains("8192"),
        "{err}"
    );
    let small_ctx = BenchParams {
        n_prompt: vec![128],
        session: SessionParams {
            n_ctx: Some(100),
            ..SessionParams::default()
        },
        ..BenchParams::default()
    };
    let err = bench_model(&path, &small_ctx, |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pp128 needs 128 positions") && err.contains("100"),
        "{err}"
    );
}

#[test]
fn bench_json_has_one_object_per_model_and_thread_count() {
    let lines: Vec<Value> = stdout_of(&[
        "bench", "-m", SMOLLM2, "-t", "1,2", "-p", "8", "-n", "3", "-r", "1", "--ttft", "4",
        "--json",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    assert_eq!(lines.len(), 2);
    for (v, threads) in lines.iter().zip([1, 2]) {
        assert_eq!(v["model"], SMOLLM2);
        assert_eq!(v["threads"], threads);
        for key in ["pp_tok_s", "tg_tok_s", "ttft_ms"] {
            assert!(v[key].as_f64().unwrap() > 0.0, "{key}: {v}");
        }
        if cfg!(target_os = "linux") {
            assert!(v["peak_rss_bytes"].as_u64().unwrap() > 0, "{v}");
            assert!(v["rss_anon_bytes"].as_u64().unwrap() > 0, "{v}");
        }
        assert_eq!(v["tests"][0]["name"], "pp8");
        assert_eq!(v["tests"][1]["name"], "tg3");
        assert_eq!(
            v["tests"][1]["tok_s"]["samples"].as_array().unwrap().len(),
            1
        );
        assert!(v["machine"]["tier"].is_string());
    }
}

#[test]
fn bench_markdown_is_a_table_with_a_column_per_test() {
    let text = stdout_of(&[
        "bench", "-m", SMOLLM2, "-t", "2", "-p", "8", "-n", "2", "-d", "0,5", "-r", "1", "--ttft",
        "0",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "| model | size | params | quant | threads | pp8 t/s | tg2 t/s | tg2 @ d5 t/s \
         | tg2 GB/s | tg2 @ d5 GB/s | peak RSS MiB | beyond file MiB |"
    );
    assert!(lines[2].starts_with(&format!("| {SMOLLM2} | 93.8 MiB | 135M | Q4_1 | 2 | ")));
    assert_eq!(lines[2].matches(" ± ").count(), 3, "{}", lines[2]);
    assert!(!text.contains("memory GB/s"), "{text}");

    // With the machine's bandwidth: one more column, and each tg figure's share of it.
    let text = stdout_of(&[
        "bench",
        "-m",
        SMOLLM2,
        "-t",
        "1",
        "-p",
        "0",
        "-n",
        "2",
        "-r",
        "1",
        "--ttft",
        "0",
        "--bandwidth",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "| model | size | params | quant | threads | tg2 t/s | tg2 GB/s | memory GB/s \
         | peak RSS MiB | beyond file MiB |"
    );
    let cells: Vec<&str> = lines[2].split(" | ").collect();
    assert!(cells[6].ends_with(" %)"), "{}", lines[2]);
    assert!(cells[7].contains(" ± "), "{}", lines[2]);
    assert!(
        text.contains("memory GB/s: the machine's read bandwidth"),
        "{text}"
    );
}

#[test]
fn bench_bad_parameters_are_clear_errors() {
    let out = retort()
        .args(["bench", "-m", SMOLLM2, "-r", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0 repetitions"), "{err}");
    let out = retort()
        .args([
            "bench", "-m", SMOLLM2, "-t", "0", "-r", "1", "-p", "4", "-n", "0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 threads"));
}

#[test]
fn without_warm_up_only_the_timed_runs_happen() {
    let path = support::model_path(SMOLLM2);
    let params = BenchParams {
        n_prompt: vec![4],
        n_gen: vec![],
        repetitions: 1,
        ttft_prompt: 3,
        warmup: false,
        ..BenchParams::default()
    };
    let mut progress = Vec::new();
    let b = bench_model(&path, &params, |p| {
        progress.push((p.test.to_owned(), p.done, p.total))
    })
    .unwrap();
    assert_eq!(progress, [("pp4".into(), 1, 1), ("ttft3".into(), 1, 1)]);
    assert!(!b.warmup && b.tg_tok_s.is_none());
    assert_eq!(b.ttft.unwrap().samples.len(), 1);
}

/// A decode step reads every tensor of the file once (a tied embedding once, as the head),
/// one embedding row and the cache rows it attends to: counted here from the file's tensor
/// list, against the model's own sum over its typed weights.
#[test]
fn decode_step_bytes_are_the_files_tensors_one_embedding_row_and_the_attended_cache() {
    use retort::kv_cache::KvCacheType;
    use retort::model::Model;
    for name in [
        SMOLLM2,
        "gemma3-270m-q4_k_m",
        "qwen2.5-coder-0.5b-instruct-q4_k_m",
    ] {
        let model = Model::open(support::model_path(name)).unwrap();
        let file = model.gguf();
        let tied = file.tensors().iter().all(|t| t.name != "output.weight");
        let mut expected = 0u64;
        for t in file.tensors() {
            let bytes = t.row_bytes() * t.n_rows();
            if t.name == "token_embd.weight" {
                expected += t.row_bytes() + if tied { bytes } else { 0 };
            } else {
                expected += bytes;
            }
        }
        let h = &model.hparams;
        // An f16 cache: 2 bytes an element, keys and values, every KV head.
        let row = 2 * h.n_head_kv as u64 * (h.head_dim + h.head_dim_v) as u64;
        for (pos, kv) in [(0, KvCacheType::F16), (999, KvCacheType::F16)] {
            let seen: u64 = model
                .spec
                .layers
                .iter()
                .map(|l| l.sliding_window.map_or(pos + 1, |w| w.min(pos + 1)) as u64)
                .sum();
            assert_eq!(
                model.decode_step_bytes(pos, kv).unwrap(),
                expected + row * seen,
                "{name} at position {pos}"
            );
        }
        // A Q8_0 cache reads 34 bytes per 32 elements instead of 64 (101 positions, every
        // layer: no window is that short).
        let f16 = model.decode_step_bytes(100, KvCacheType::F16).unwrap();
        let q8 = model.decode_step_bytes(100, KvCacheType::Q8_0).unwrap();
        let elements = row / 2 * model.spec.layers.len() as u64 * 101;
        assert_eq!((f16 - q8) * 32, (64 - 34) * elements, "{name}");
    }
}
