//! The `retort` binary end to end: what a user sees, including exit statuses on bad input.

mod support;

use std::process::Command;

use serde_json::Value;

fn retort() -> Command {
    Command::new(env!("CARGO_BIN_EXE_retort"))
}

/// Runs `cmd` (a `retort run … --json`), which must succeed: its whole stdout and the JSON
/// object of its last line.
fn run_json(cmd: &mut Command) -> (String, Value) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    (stdout, v)
}

#[test]
fn inspect_json_describes_the_default_model() {
    let model = support::model_path("smollm2-135m-instruct-q4_1");
    let out = retort()
        .arg("inspect")
        .arg(&model)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tensor_count"], 272);
    assert_eq!(v["metadata"]["general.architecture"], "llama");
    assert_eq!(v["metadata"]["tokenizer.ggml.tokens"]["len"], 49152);
    let embd = v["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "token_embd.weight")
        .unwrap();
    assert_eq!(embd["type"], "Q8_0");
    assert_eq!(embd["shape"], serde_json::json!([576, 49152]));
}

#[test]
fn a_bad_file_is_a_clear_error_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gguf");
    std::fs::write(
        &path,
        b"GGUF\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\x3f",
    )
    .unwrap();
    for cmd in [
        &["inspect"][..],
        &["run", "--temp", "0", "-p", "hi", "-m"][..],
    ] {
        let out = retort().args(cmd).arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("tensor count") && err.contains("byte 8"),
            "{err}"
        );
    }
    let out = retort()
        .args(["inspect", "no-such-model"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither a file nor a catalog model"));
}

#[test]
fn run_greedy_json_is_reproducible() {
    let model = support::model_path("smollm2-135m-instruct-q4_1");
    let run = |threads: &str, head: &[&str]| {
        run_json(
            retort()
                .args([
                    "run", "--temp", "0", "-n", "12", "--json", "-t", threads, "-m",
                ])
                .arg(&model)
                .args(head)
                .arg("The capital of France is"),
        )
    };
    let (text1, v1) = run("1", &[]);
    let (_, v2) = run("2", &[]);
    assert_eq!(v1["generated_ids"], v2["generated_ids"]);
    assert_eq!(v1["output_head"], "precise");
    // The llama.cpp-style head: a different code path, the same greedy text on this prompt.
    let (_, vq) = run("2", &["--quantized-head"]);
    assert_eq!(vq["output_head"], "quantized");
    assert_eq!(vq["generated_ids"], v1["generated_ids"]);
    // `repacked` says what the loader did, not what was asked: SmolLM2's Q4_1 layer matrices
    // are repacked only where the active tier has an x8 kernel for Q4_1.
    let x8 = retort_kernels::ops::has_x8(retort_kernels::ggml_type::GgmlType::Q4_1);
    assert_eq!(v1["repacked"], x8);
    assert_eq!(v1["repacked_bytes"].as_u64().unwrap() > 0, x8);
    let (_, vn) = run("2", &["--no-repack"]);
    assert_eq!(vn["repacked"], false);
    assert_eq!(vn["repacked_bytes"], 0);
    assert_eq!(vn["generated_ids"], v1["generated_ids"]);
    assert_eq!(
        v1["prompt_ids"],
        serde_json::json!([504, 3575, 282, 4649, 314])
    );
    assert_eq!(v1["generated_ids"].as_array().unwrap().len(), 12);
    let text = v1["text"].as_str().unwrap();
    assert!(text.starts_with(" Paris."), "{text}");
    assert!(
        text1.starts_with(text),
        "streamed text equals the JSON text"
    );
}

#[test]
fn sampling_with_a_seed_is_reproducible_and_bad_parameters_fail() {
    let model = support::model_path("smollm2-135m-instruct-q4_1");
    let run = |seed: &str| {
        let (_, v) = run_json(
            retort()
                .args([
                    "run", "--temp", "0.9", "--seed", seed, "-n", "10", "--json", "-m",
                ])
                .arg(&model)
                .arg("Once upon a time"),
        );
        v["generated_ids"].clone()
    };
    assert_eq!(run("5"), run("5"));
    let out = retort()
        .args(["run", "--top-p", "1.5", "-m"])
        .arg(&model)
        .arg("x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("top_p"));
}

#[test]
fn tokenize_prints_ids() {
    let model = support::model_path("smollm2-135m-instruct-q4_1");
    let out = retort()
        .args(["tokenize", "-m"])
        .arg(&model)
        .arg("The capital of France is")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "504 3575 282 4649 314"
    );
}

#[test]
fn run_keeps_the_repacked_copy_for_the_next_load() {
    let model = support::model_path("smollm2-135m-instruct-q4_1");
    let home = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)]| {
        let (_, v) = run_json(
            retort()
                .env("RETORT_HOME", home.path())
                .envs(env.iter().copied())
                .args(["run", "--temp", "0", "-n", "4", "--json", "-m"])
                .arg(&model)
                .arg("The capital of France is"),
        );
        v
    };
    let off = run(&[("RETORT_PACKED_CACHE", "off")]);
    if off["repacked_bytes"] == 0 {
        // This tier has no x8 form of Q4_1: nothing is repacked, nothing kept.
        assert_eq!(off["packed_copy"], "none");
        return;
    }
    assert_eq!(off["packed_copy"], "repacked");
    assert!(!home.path().join("packed").exists());
    let first = run(&[]);
    assert_eq!(first["packed_copy"], "kept");
    let second = run(&[]);
    assert_eq!(second["packed_copy"], "reused");
    assert_eq!(first["generated_ids"], off["generated_ids"]);
    assert_eq!(second["generated_ids"], off["generated_ids"]);
    let copies = std::fs::read_dir(home.path().join("packed"))
        .unwrap()
        .count();
    assert_eq!(copies, 1);
}
