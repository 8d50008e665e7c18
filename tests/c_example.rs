//! The C example (examples/c/main.c), built as firmware would build it — plain C11 with
//! `-Wall -Wextra -Werror` against the `libretort.a` this test run built — and run: from the
//! model file and from a memory region, with the default model found in the cache, on a bad
//! path; and under valgrind memcheck, which must report no errors and no leaks.
#![cfg(feature = "capi")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use retort::generate::{generate, GenerateParams};
use retort::model::Model;
use retort::sampling::SamplerParams;
use retort::session::{Session, SessionParams};
use retort::tokenizer::{ChatMessage, ChatTemplate, ChatTemplateParams, Tokenizer};

const MODEL: &str = "smollm2-135m-instruct-q4_1";
const PROMPT: &str = "Write one sentence about the sea.";

/// The example, compiled once per test run.
fn example() -> &'static Path {
    static EXAMPLE: OnceLock<PathBuf> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        // The static library cargo built with this test, next to the test binary (deps/).
        let exe = std::env::current_exe().unwrap();
        let lib = exe.parent().unwrap().join("libretort.a");
        assert!(
            lib.exists(),
            "{} is missing: the crate builds a staticlib",
            lib.display()
        );
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("retort-example");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let status = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-g"])
            .arg("-I")
            .arg(root.join("include"))
            .arg(root.join("examples/c/main.c"))
            .arg(&lib)
            .args([
                "-lgcc_s",
                "-lutil",
                "-lrt",
                "-lpthread",
                "-lm",
                "-ldl",
                "-lc",
            ])
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
        assert!(status.success(), "the C example does not compile: {status}");
        out
    })
}

fn model_path() -> PathBuf {
    support::model_path(MODEL)
}

fn run_example(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(example());
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run the C example")
}

/// The greedy reply the Rust API gives for the example's chat prompt.
fn rust_reply(max_tokens: usize) -> String {
    let model = Model::open(model_path()).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let template = ChatTemplate::for_tokenizer(&tok, Some(&model.hparams.arch)).unwrap();
    let ids = template
        .encode(
            &tok,
            &[ChatMessage::new("user", PROMPT)],
            &ChatTemplateParams {
                add_generation_prompt: true,
                ..Default::default()
            },
        )
        .unwrap();
    let mut session = Session::new(
        &model,
        &SessionParams {
            n_ctx: Some(256),
            n_threads: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let params = GenerateParams {
        max_tokens,
        sampler: SamplerParams {
            temperature: 0.0,
            ..Default::default()
        },
    };
    generate(&mut session, &tok, &ids, &params, |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap()
    .text
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_example_streams_the_rust_apis_reply_from_a_file_and_from_memory() {
    let path = model_path();
    let expected = format!("{}\n", rust_reply(16));
    for extra in [&[][..], &["--memory"][..]] {
        let mut args = vec![
            "-m",
            path.to_str().unwrap(),
            "-n",
            "16",
            "-c",
            "256",
            "-t",
            "2",
        ];
        args.extend_from_slice(extra);
        args.push(PROMPT);
        let out = run_example(&args, &[]);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{args:?}: {}\n{stderr}", out.status);
        assert_eq!(text(&out.stdout), expected, "{args:?}");
        assert!(
            stderr.contains("tok/s") && stderr.contains("stop: token limit"),
            "{stderr}"
        );
        if !extra.is_empty() {
            assert!(stderr.contains("from memory"), "{stderr}");
        }
    }
}

#[test]
fn the_example_finds_the_default_model_in_the_cache() {
    // RETORT_HOME/models/<file>, as the catalog lays it out.
    let home = model_path().parent().unwrap().parent().unwrap().to_owned();
    let out = run_example(&["-n", "4", "-c", "128", PROMPT], &[("RETORT_HOME", &home)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).trim().is_empty());
}

#[test]
fn the_example_reports_a_bad_model_path() {
    let out = run_example(&["-m", "/nonexistent/model.gguf", "hi"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("RETORT_STATUS_GGUF") && stderr.contains("/nonexistent/model.gguf"),
        "{stderr}"
    );
    let out = run_example(&["-n", "many"], &[]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
}

/// Runs the example under memcheck, counting the given leak kinds as errors.
fn memcheck(leak_kinds: &str, log_name: &str) {
    let path = model_path();
    let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(log_name);
    let status = Command::new("valgrind")
        .args([
            "--tool=memcheck",
            "--leak-check=full",
            "--error-exitcode=99",
        ])
        .arg(format!("--show-leak-kinds={leak_kinds}"))
        .arg(format!("--errors-for-leak-kinds={leak_kinds}"))
        // One-time statics of dependencies, which memcheck calls "possibly lost"; the file
        // says which and why.
        .arg(format!(
            "--suppressions={}",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/c/valgrind.supp")
                .display()
        ))
        .arg(format!("--log-file={}", log.display()))
        .arg(example())
        .args([
            "-m",
            path.to_str().unwrap(),
            "-n",
            "4",
            "-c",
            "128",
            "-t",
            "2",
            "--memory",
        ])
        .arg("Say hi.")
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run valgrind ({e}): apt-get install valgrind (scripts/test does)")
        });
    let report = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "valgrind: {status}\n{report}");
    assert!(report.contains("ERROR SUMMARY: 0 errors"), "{report}");
}

/// No invalid read or write, no use of uninitialised memory, no block lost for good.
#[test]
fn valgrind_finds_no_memory_errors_and_no_definite_leaks() {
    memcheck("definite,indirect", "valgrind-example.log");
}

/// Nothing possibly lost either (blocks reachable only through interior pointers).
#[test]
fn valgrind_finds_nothing_possibly_lost() {
    memcheck(
        "definite,indirect,possible",
        "valgrind-example-possible.log",
    );
}
