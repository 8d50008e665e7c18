//! `retort inspect MODEL [--json]`: what a GGUF file holds, like gguf-dump.

use anyhow::Result;
use retort::gguf::{GgufFile, MetaArray, MetaValue};
use serde_json::{json, Map, Value};

use super::models::human_bytes;

/// Arrays longer than this are summarised by type and length.
const ARRAY_SHOWN: usize = 16;

/// Opens the model and prints a report (text or one JSON object).
pub fn run(model: Option<&str>, as_json: bool) -> Result<()> {
    let path = super::resolve_model(model)?;
    let file = GgufFile::open(&path)?;
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&file, &path))?
        );
    } else {
        print_text(&file, &path);
    }
    Ok(())
}

fn report_json(file: &GgufFile, path: &std::path::Path) -> Value {
    let mut metadata = Map::new();
    for (k, v) in file.metadata().iter() {
        metadata.insert(k.to_owned(), value_json(v));
    }
    let tensors: Vec<Value> = file
        .tensors()
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "type": t.ty.name(),
                "shape": t.shape,
                "offset": t.offset,
                "bytes": t.bytes,
            })
        })
        .collect();
    json!({
        "path": path.display().to_string(),
        "version": file.version(),
        "file_bytes": file.len(),
        "alignment": file.alignment(),
        "data_offset": file.data_offset(),
        "tensor_count": file.tensors().len(),
        "metadata": metadata,
        "tensors": tensors,
    })
}

fn value_json(v: &MetaValue) -> Value {
    match v {
        MetaValue::U8(x) => json!(x),
        MetaValue::I8(x) => json!(x),
        MetaValue::U16(x) => json!(x),
        MetaValue::I16(x) => json!(x),
        MetaValue::U32(x) => json!(x),
        MetaValue::I32(x) => json!(x),
        MetaValue::F32(x) => json!(x),
        MetaValue::Bool(x) => json!(x),
        MetaValue::String(x) => json!(x),
        MetaValue::U64(x) => json!(x),
        MetaValue::I64(x) => json!(x),
        MetaValue::F64(x) => json!(x),
        MetaValue::Array(a) => array_json(a),
    }
}

fn array_json(a: &MetaArray) -> Value {
    if a.len() > ARRAY_SHOWN {
        return json!({ "array": a.element_type_name(), "len": a.len() });
    }
    match a {
        MetaArray::U8(v) => json!(v),
        MetaArray::I8(v) => json!(v),
        MetaArray::U16(v) => json!(v),
        MetaArray::I16(v) => json!(v),
        MetaArray::U32(v) => json!(v),
        MetaArray::I32(v) => json!(v),
        MetaArray::F32(v) => json!(v),
        MetaArray::Bool(v) => json!(v),
        MetaArray::String(v) => json!(v.iter().collect::<Vec<_>>()),
        MetaArray::Array(v) => Value::Array(v.iter().map(array_json).collect()),
        MetaArray::U64(v) => json!(v),
        MetaArray::I64(v) => json!(v),
        MetaArray::F64(v) => json!(v),
    }
}

fn print_text(file: &GgufFile, path: &std::path::Path) {
    let md = file.metadata();
    println!("{}", path.display());
    println!(
        "GGUF v{}, {} ({}), {} metadata entries, {} tensors, alignment {}, data at byte {}",
        file.version(),
        human_bytes(file.len()),
        file.len(),
        md.len(),
        file.tensors().len(),
        file.alignment(),
        file.data_offset()
    );
    let arch = md.get_str("general.architecture").unwrap_or("?").to_owned();
    if let Ok(name) = md.get_str("general.name") {
        println!("name: {name}");
    }
    println!("\narchitecture: {arch}");
    let hyper = [
        "context_length",
        "embedding_length",
        "block_count",
        "feed_forward_length",
        "attention.head_count",
        "attention.head_count_kv",
        "attention.key_length",
        "attention.value_length",
        "attention.layer_norm_rms_epsilon",
        "attention.sliding_window",
        "rope.freq_base",
        "rope.dimension_count",
        "vocab_size",
    ];
    for key in hyper {
        if let Some(v) = md.get(&format!("{arch}.{key}")) {
            println!("  {key:<34} {v}");
        }
    }
    println!("\ntokenizer:");
    for key in [
        "model",
        "pre",
        "bos_token_id",
        "eos_token_id",
        "add_bos_token",
        "add_space_prefix",
    ] {
        if let Some(v) = md.get(&format!("tokenizer.ggml.{key}")) {
            println!("  {key:<34} {v}");
        }
    }
    for key in ["tokens", "merges", "scores", "token_type"] {
        if let Ok(a) = md.get_array(&format!("tokenizer.ggml.{key}")) {
            println!("  {key:<34} {} entries", a.len());
        }
    }
    if let Ok(t) = md.get_str("tokenizer.chat_template") {
        println!("  {:<34} {} chars", "chat_template", t.len());
    }

    println!("\nmetadata:");
    for (k, v) in md.iter() {
        println!(
            "  {k:<46} {:<14} {}",
            v.type_name(),
            shorten(&v.to_string(), 60)
        );
    }

    let mut by_type: Vec<(String, usize, u64)> = Vec::new();
    for t in file.tensors() {
        match by_type.iter_mut().find(|(n, _, _)| n == t.ty.name()) {
            Some(e) => {
                e.1 += 1;
                e.2 += t.bytes;
            }
            None => by_type.push((t.ty.name().to_owned(), 1, t.bytes)),
        }
    }
    by_type.sort_by_key(|e| std::cmp::Reverse(e.1));
    let summary: Vec<String> = by_type
        .iter()
        .map(|(n, c, b)| format!("{n} ×{c} ({})", human_bytes(*b)))
        .collect();
    println!("\ntensors: {}", summary.join(", "));
    println!(
        "  {:<4} {:<36} {:<5} {:<22} {:>12} {:>12}",
        "#", "name", "type", "shape", "offset", "bytes"
    );
    for (i, t) in file.tensors().iter().enumerate() {
        let shape = format!("{:?}", t.shape);
        println!(
            "  {i:<4} {:<36} {:<5} {:<22} {:>12} {:>12}",
            t.name,
            t.ty.name(),
            shape,
            t.offset,
            t.bytes
        );
    }
}

fn shorten(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let head: String = flat.chars().take(max).collect();
        format!("{head}…")
    }
}
