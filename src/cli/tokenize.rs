//! `retort tokenize -m MODEL TEXT`: token ids (or ids and pieces with --json).

use anyhow::Result;
use retort::gguf::GgufFile;
use retort::tokenizer::Tokenizer;
use serde_json::json;

/// Prints the ids of `text`, space-separated, or a JSON object with ids and pieces.
pub fn run(model: Option<&str>, text: &str, as_json: bool, no_special: bool) -> Result<()> {
    let path = super::resolve_model(model)?;
    let file = GgufFile::open(&path)?;
    let tok = Tokenizer::from_gguf(&file)?;
    let ids = tok.encode(text, !no_special)?;
    if as_json {
        let pieces = ids
            .iter()
            .map(|&id| {
                Ok(json!({
                    "id": id,
                    "token": tok.token_text(id)?,
                    "bytes": String::from_utf8_lossy(tok.token_to_piece(id, true)?),
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        println!("{}", json!({ "ids": ids, "tokens": pieces }));
    } else {
        let s: Vec<String> = ids.iter().map(u32::to_string).collect();
        println!("{}", s.join(" "));
    }
    Ok(())
}
