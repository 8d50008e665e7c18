//! The verifier's answer about one text as one JSON object, the same for `retort verify --json`
//! and the server's `POST /v1/verify`: every field of the [`Verdict`], the scheme's parameters,
//! the text's size, a note when nothing could be scored, the most significant span's text, and
//! the time taken.

use std::time::Duration;

use serde_json::{json, Value};

use super::detector::Verdict;
use super::scheme::Scheme;
use crate::tokenizer::Tokenizer;

/// Characters of the most significant span shown in the report.
const EXCERPT_CHARS: usize = 80;

/// What was verified and how long it took.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedText<'a> {
    /// The text's token ids, as scored.
    pub ids: &'a [u32],
    /// The text's length in bytes.
    pub bytes: usize,
    /// Time spent tokenizing it.
    pub tokenize_time: Duration,
    /// Time spent scoring it.
    pub score_time: Duration,
}

/// Why the verdict cannot tell anything, when no position was scored.
pub fn too_short_note(verdict: &Verdict, scheme: &Scheme) -> Option<String> {
    (verdict.scored_tokens == 0).then(|| {
        format!(
            "too short to tell: {} tokens, none scored (the first {} tokens of a text are \
             context, and repeated ones count once)",
            verdict.tokens,
            scheme.context()
        )
    })
}

/// The text of the verdict's most significant span, whitespace flattened and cut to a line.
pub fn window_excerpt(tok: &Tokenizer, verdict: &Verdict, ids: &[u32]) -> Option<String> {
    verdict.window.as_ref().map(|w| {
        let span = tok
            .decode(&ids[w.start.min(ids.len())..w.end.min(ids.len())], false)
            .unwrap_or_default();
        excerpt(&span, EXCERPT_CHARS)
    })
}

fn excerpt(text: &str, max_chars: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() <= max_chars {
        return flat.to_string();
    }
    let head: String = flat.chars().take(max_chars).collect();
    format!("{head}…")
}

/// The report: the verdict's fields plus `bytes`, `scheme_parameters`, `note` (or null),
/// `window.excerpt` (with a window) and `timings` (`tokenize_ms`, `score_ms`).
pub fn verdict_json(
    tok: &Tokenizer,
    verdict: &Verdict,
    scheme: &Scheme,
    text: &VerifiedText<'_>,
) -> Value {
    let mut v = serde_json::to_value(verdict).unwrap_or_else(|_| json!({}));
    let excerpt = window_excerpt(tok, verdict, text.ids);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("bytes".into(), json!(text.bytes));
        obj.insert("scheme_parameters".into(), json!(scheme.to_string()));
        obj.insert("note".into(), json!(too_short_note(verdict, scheme)));
        obj.insert(
            "timings".into(),
            json!({
                "tokenize_ms": text.tokenize_time.as_secs_f64() * 1e3,
                "score_ms": text.score_time.as_secs_f64() * 1e3,
            }),
        );
        if let (Some(w), Some(t)) = (obj.get_mut("window"), excerpt) {
            w["excerpt"] = json!(t);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn excerpts_flatten_whitespace_and_cut_at_characters() {
        assert_eq!(excerpt("  a\nb\tc  ", 10), "a b c");
        assert_eq!(excerpt("ééééé", 3), "ééé…");
    }
}
