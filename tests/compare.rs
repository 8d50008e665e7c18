//! `retort compare` end to end on two small models with short tests: every column for every
//! model in the JSON, and a plot that is a well-formed SVG naming each model.

mod support;

use std::process::Command;

use serde_json::Value;

#[test]
fn compare_json_has_every_column_and_the_plot_is_a_valid_svg() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("head.txt");
    let botchan = retort::catalog::read_text(&support::text_path("botchan")).unwrap();
    std::fs::write(&text, &botchan[..botchan[..1500].rfind('\n').unwrap() + 1]).unwrap();
    let models = ["smollm2-135m-instruct-q4_1", "gemma3-270m-q4_k_m"];
    for m in models {
        support::model_path(m);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_retort"))
        .args(["compare", "-m", models[0], "-m", models[1], "--text"])
        .arg(&text)
        .args([
            "--ctx", "64", "-t", "2", "-p", "8", "-n", "4", "-r", "1", "--json",
        ])
        .arg("--out")
        .arg(dir.path().join("plots"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["models"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, name) in rows.iter().zip(models) {
        assert_eq!(row["model"], name);
        for key in [
            "size_bytes",
            "n_params",
            "ppl",
            "ppl_stderr",
            "bits_per_byte",
            "ppl_tokens",
            "pp_tok_s",
            "tg_tok_s",
            "ttft_ms",
            "peak_rss_bytes",
            "threads",
        ] {
            assert!(row[key].is_number(), "{name}: {key} in {row}");
        }
        for key in ["quantization", "tokenizer", "arch"] {
            assert!(row[key].is_string(), "{name}: {key} in {row}");
        }
        assert_eq!(row["threads"], 2);
    }
    assert_eq!(rows[0]["quantization"], "Q4_1");
    assert_eq!(rows[1]["quantization"], "Q4_K_M");
    assert_ne!(rows[0]["tokenizer"], rows[1]["tokenizer"]);

    let svg = std::fs::read_to_string(dir.path().join("plots/compare.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("compare.svg is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    for name in models {
        assert!(
            texts.iter().any(|t| t.contains(name)),
            "{name} not labelled: {texts:?}"
        );
    }
    // Different tokenizers: the quality axis is bits per byte.
    assert!(
        texts.iter().any(|t| t.contains("bits per byte")),
        "{texts:?}"
    );
    let png = std::fs::read(dir.path().join("plots/compare.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}
