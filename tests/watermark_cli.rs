//! `retort keygen`, `retort run --watermark` and `retort verify` end to end, and every bad input
//! the verifier must answer clearly.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const SMOLLM2: &str = "smollm2-135m-instruct-q4_1";

fn retort() -> Command {
    Command::new(env!("CARGO_BIN_EXE_retort"))
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The error text of a run that must fail with status 1.
fn fails(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A key file in `dir`; its key comes from a passphrase made of `name`, so every run of the
/// tests uses the same keys and generates the same texts.
fn keygen(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let passphrase = format!("retort watermark CLI tests, key {name}");
    let model = support::model_path(SMOLLM2);
    ok(&retort()
        .arg("keygen")
        .arg("-o")
        .arg(&path)
        .arg("-m")
        .arg(&model)
        .arg("--passphrase")
        .arg(&passphrase)
        .args(extra)
        .output()
        .unwrap());
    path
}

fn verify_json(key: &Path, model: &Path, input: &Path, extra: &[&str]) -> Value {
    let out = retort()
        .args(["verify", "--json", "--key"])
        .arg(key)
        .arg("-m")
        .arg(model)
        .arg(input)
        .args(extra)
        .output()
        .unwrap();
    serde_json::from_str(&ok(&out)).unwrap()
}

#[test]
fn keygen_writes_a_private_key_and_never_overwrites_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "k.toml", &["--scheme", "distortion-free"]);
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.contains("scheme = \"distortion-free\"") && text.contains("[vocabulary]"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = retort()
        .arg("keygen")
        .arg("-o")
        .arg(&key)
        .arg("--any-vocabulary")
        .output()
        .unwrap();
    assert!(fails(&again).contains("already exists"));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text);

    // A passphrase gives the same key id every time.
    let id = |name: &str| {
        let out = retort()
            .args(["keygen", "--any-vocabulary", "--passphrase"])
            .arg("a long passphrase for the unit under test, 2026")
            .arg("-o")
            .arg(dir.path().join(name))
            .output()
            .unwrap();
        ok(&out);
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        text.lines()
            .find(|l| l.starts_with("key_id"))
            .unwrap()
            .to_string()
    };
    assert_eq!(id("p1.toml"), id("p2.toml"));
}

#[test]
fn a_watermarked_chat_reply_verifies_under_its_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let model = support::model_path(SMOLLM2);
    let green = keygen(dir.path(), "green.toml", &[]);
    let other = keygen(dir.path(), "other.toml", &[]);
    let out = retort()
        .args([
            "run", "--chat", "--temp", "1.0", "-n", "200", "--seed", "4", "--json",
        ])
        .arg("-m")
        .arg(&model)
        .arg("--watermark")
        .arg(&green)
        .arg("Write a long story about a lighthouse keeper and a storm.")
        .output()
        .unwrap();
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[watermark] key"), "{stderr}");
    let json: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(json["watermark"]["scheme"], "green");
    let text = json["text"].as_str().unwrap();
    let file = dir.path().join("reply.txt");
    std::fs::write(&file, text).unwrap();

    let v = verify_json(&green, &model, &file, &[]);
    for field in ["p_value", "scored_tokens", "watermarked", "key_id"] {
        assert!(v.get(field).is_some(), "{field} missing: {v}");
    }
    assert_eq!(v["watermarked"], true, "{v}");
    assert!(v["p_value"].as_f64().unwrap() < 1e-6);
    let key_text = std::fs::read_to_string(&green).unwrap();
    assert!(key_text.contains(v["key_id"].as_str().unwrap()));
    let v = verify_json(&other, &model, &file, &[]);
    assert_eq!(v["watermarked"], false, "{v}");

    // The reply pasted between two pages of Botchan: the whole text is diluted, the window
    // finds the span.
    let botchan = std::fs::read_to_string(support::text_path("botchan")).unwrap();
    let mixed = format!("{}\n{text}\n{}", &botchan[..6000], &botchan[6000..12000]);
    let mixed_file = dir.path().join("mixed.txt");
    std::fs::write(&mixed_file, &mixed).unwrap();
    let v = verify_json(&green, &model, &mixed_file, &["--window", "150"]);
    assert_eq!(v["watermarked"], true, "{v}");
    // The whole text alone is not enough at this FPR; the span is.
    assert!(v["text_p_value"].as_f64().unwrap() > 1e-6, "{v}");
    let w = &v["window"];
    assert!(w["tries"].as_u64().unwrap() > 1000, "{v}");
    assert!(v["p_value"].as_f64().unwrap() >= w["p_value"].as_f64().unwrap());

    // Plain text output says the same.
    let out = retort()
        .args(["verify", "--key"])
        .arg(&green)
        .arg("-m")
        .arg(&model)
        .arg(&file)
        .output()
        .unwrap();
    assert!(ok(&out).contains("verdict: WATERMARKED"));
}

#[test]
fn greedy_text_says_it_carries_no_distortion_free_mark() {
    let dir = tempfile::tempdir().unwrap();
    let model = support::model_path(SMOLLM2);
    let key = keygen(dir.path(), "df.toml", &["--scheme", "distortion-free"]);
    let out = retort()
        .args(["run", "--chat", "--temp", "0", "-n", "8", "-m"])
        .arg(&model)
        .arg("--watermark")
        .arg(&key)
        .arg("Hello")
        .output()
        .unwrap();
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NOT watermarked") && err.contains("0 of"),
        "{err}"
    );
}

#[test]
fn every_bad_input_gets_a_clear_answer() {
    let dir = tempfile::tempdir().unwrap();
    let model = support::model_path(SMOLLM2);
    let key = keygen(dir.path(), "k.toml", &[]);
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let verify = |key: &Path, input: &Path| {
        retort()
            .args(["verify", "--key"])
            .arg(key)
            .arg("-m")
            .arg(&model)
            .arg(input)
            .output()
            .unwrap()
    };

    // Empty and one-token texts: a verdict, with the reason it cannot be positive.
    for (name, text) in [("empty", ""), ("one", "Hello")] {
        let v = verify_json(&key, &model, &write(name, text.as_bytes()), &[]);
        assert_eq!(v["watermarked"], false, "{v}");
        assert_eq!(v["scored_tokens"], 0, "{v}");
        assert_eq!(v["p_value"], 1.0, "{v}");
        assert!(v["note"].as_str().unwrap().contains("too short"), "{v}");
    }
    // Not UTF-8, binary.
    let err = fails(&verify(&key, &write("latin1", b"caf\xe9 au lait")));
    assert!(
        err.contains("not UTF-8") && err.contains("offset 3"),
        "{err}"
    );
    let err = fails(&verify(&key, &write("bin", b"\x7fELF\x02\x01\x01\x00\x00")));
    assert!(err.contains("binary") && err.contains("offset 7"), "{err}");
    // 100 MB: over the default limit, refused at once with the way out; from stdin too.
    let big = dir.path().join("big.txt");
    {
        let mut f = std::fs::File::create(&big).unwrap();
        let line = "All work and no play makes Jack a dull boy.\n".repeat(1000);
        while f.metadata().unwrap().len() < 100_000_000 {
            f.write_all(line.as_bytes()).unwrap();
        }
    }
    let err = fails(&verify(&key, &big));
    assert!(err.contains("--max-bytes"), "{err}");
    let mut child = retort()
        .args(["verify", "--key"])
        .arg(&key)
        .arg("-m")
        .arg(&model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        let bytes = std::fs::read(&big).unwrap();
        // The verifier stops reading past its limit; a closed pipe is expected then.
        let _ = stdin.write_all(&bytes);
    }
    let err = fails(&child.wait_with_output().unwrap());
    assert!(err.contains("stdin is longer than --max-bytes"), "{err}");

    let text = write("text", b"A few words of ordinary text to verify.");
    // Key files: truncated, of an unknown scheme, with the other scheme's table, of another
    // vocabulary, missing.
    let good = std::fs::read_to_string(&key).unwrap();
    let truncated = write("truncated.toml", &good.as_bytes()[..good.len() / 2]);
    let err = fails(&verify(&truncated, &text));
    assert!(err.contains("truncated.toml"), "{err}");
    let purple = write(
        "purple.toml",
        good.replace("scheme = \"green\"", "scheme = \"purple\"")
            .as_bytes(),
    );
    let err = fails(&verify(&purple, &text));
    assert!(err.contains("unknown watermark scheme \"purple\""), "{err}");
    let swapped = write(
        "swapped.toml",
        good.replace("scheme = \"green\"", "scheme = \"distortion-free\"")
            .as_bytes(),
    );
    let err = fails(&verify(&swapped, &text));
    assert!(
        err.contains("needs exactly one [distortion-free] table"),
        "{err}"
    );
    let gemma = support::model_path("gemma3-270m-q4_k_m");
    let out = retort()
        .args(["verify", "--key"])
        .arg(&key)
        .arg("-m")
        .arg(&gemma)
        .arg(&text)
        .output()
        .unwrap();
    let err = fails(&out);
    assert!(
        err.contains("vocabulary of 49152 tokens") && err.contains("262144"),
        "{err}"
    );
    let err = fails(&verify(&dir.path().join("no-such-key.toml"), &text));
    assert!(err.contains("no-such-key.toml"), "{err}");
    // A world-readable key works, with a warning.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open = write("open.toml", good.as_bytes());
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = verify(&open, &text);
        ok(&out);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("readable by every user"), "{err}");
    }
    // Bad decision parameters.
    for bad in [&["--fpr", "0"][..], &["--fpr", "1.5"], &["--window", "0"]] {
        let out = retort()
            .args(["verify", "--key"])
            .arg(&key)
            .arg("-m")
            .arg(&model)
            .arg(&text)
            .args(bad)
            .output()
            .unwrap();
        let err = fails(&out);
        assert!(
            err.contains(bad[0].trim_start_matches("--")),
            "{bad:?}: {err}"
        );
    }
}

/// Verifying reads the model's vocabulary only: a copy of the model cut after its metadata (no
/// weights at all) gives the same verdict; running it is refused.
#[test]
fn verify_works_with_a_model_that_has_no_weights() {
    let dir = tempfile::tempdir().unwrap();
    let model = support::model_path(SMOLLM2);
    let key = keygen(dir.path(), "k.toml", &[]);
    let data_offset = retort::gguf::GgufFile::open(&model).unwrap().data_offset() as usize;
    let bytes = std::fs::read(&model).unwrap();
    let cut = dir.path().join("vocabulary-only.gguf");
    std::fs::write(&cut, &bytes[..data_offset]).unwrap();
    let text = dir.path().join("t.txt");
    std::fs::write(
        &text,
        "The keeper climbed the one hundred and twelve stairs every night.",
    )
    .unwrap();
    let mut a = verify_json(&key, &model, &text, &[]);
    let mut b = verify_json(&key, &cut, &text, &[]);
    for v in [&mut a, &mut b] {
        let o = v.as_object_mut().unwrap();
        o.remove("model");
        o.remove("timings");
    }
    assert_eq!(a, b);
    let out = retort()
        .args(["run", "--temp", "0", "-n", "4", "-p", "hi", "-m"])
        .arg(&cut)
        .output()
        .unwrap();
    let err = fails(&out);
    assert!(
        err.contains("token_embd") || err.contains("out of"),
        "{err}"
    );
}

/// `retort watermark-eval` end to end at a small scale: the green texts alone first
/// (`--conditions`, other green-list parameters recorded in the cache's configuration), then
/// every stage and the report; a folder made with other parameters is refused.
#[test]
fn watermark_eval_runs_every_stage_on_a_subset_first() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eval");
    let eval = |delta: &str, extra: &[&str]| {
        retort()
            .args([
                "watermark-eval",
                "-t",
                "2",
                "--seed",
                "7",
                "--max-prompts",
                "2",
            ])
            .args([
                "--tokens",
                "24",
                "--null-keys",
                "1",
                "--paraphrase-prompts",
                "1",
            ])
            .args(["--green-delta", delta])
            .arg("--out")
            .arg(&out)
            .arg("-m")
            .arg(support::model_path(SMOLLM2))
            .arg("--scorer")
            .arg(support::model_path("qwen2.5-coder-0.5b-instruct-q4_k_m"))
            .arg("--human")
            .arg(support::text_path("botchan"))
            .args(extra)
            .output()
            .unwrap()
    };
    let records = |file: &str| -> Vec<Value> {
        std::fs::read_to_string(out.join(file))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };

    ok(&eval(
        "2.5",
        &["--stage", "generate", "--conditions", "green"],
    ));
    let green = records("generations.jsonl");
    // 2 prompts × 2 temperatures, green only.
    assert_eq!(green.len(), 4);
    assert!(green.iter().all(|r| r["condition"] == "green"), "{green:?}");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert!(
        config["green"].as_str().unwrap().contains("delta 2.5"),
        "{config}"
    );

    ok(&eval("2.5", &[]));
    let all = records("generations.jsonl");
    assert_eq!(all.len(), 12, "3 conditions × 2 prompts × 2 temperatures");
    assert_eq!(records("perplexities.jsonl").len(), 12);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let ppl = report["perplexity"].as_array().unwrap();
    assert_eq!(ppl.len(), 6, "{ppl:?}");
    assert!(ppl.iter().all(|r| r["texts"] == 2), "{ppl:?}");
    assert!(out.join("report.md").exists());

    let err = fails(&eval("3", &["--stage", "report"]));
    assert!(err.contains("other settings"), "{err}");
}
