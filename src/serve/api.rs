//! The request side of the OpenAI API: JSON bodies of `/v1/chat/completions` and
//! `/v1/completions` parsed and checked into a [`GenRequest`], every error naming the field
//! (`messages[2].role`, `max_tokens`) as OpenAI's own errors do.
//!
//! Fields OpenAI defines that change the result and that Retort does not implement (`n` > 1,
//! `logprobs`, `tools`, penalties other than `repeat_penalty`, ...) are refused, never silently
//! ignored; fields that do not change the result (`user`, `metadata`, ...) are accepted.
//! Sampling defaults are llama.cpp's (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05), and
//! `top_k`, `min_p`, `repeat_penalty` and `cache_prompt` are accepted as llama-server does.

use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use crate::sampling::SamplerParams;
use crate::tokenizer::ChatMessage;

/// Most stop sequences per request (OpenAI's limit).
pub const MAX_STOPS: usize = 4;

/// What the request asks the model to continue.
#[derive(Clone, Debug, PartialEq)]
pub enum PromptSource {
    /// Chat messages, rendered by the model's chat template.
    Chat(Vec<ChatMessage>),
    /// Plain text, encoded with the tokenizer's BOS rule.
    Text(String),
    /// Token ids, used as they are.
    Ids(Vec<u32>),
}

/// A checked generation request.
#[derive(Clone, Debug)]
pub struct GenRequest {
    /// The prompt.
    pub prompt: PromptSource,
    /// Most tokens to generate; `None` means until the context is full.
    pub max_tokens: Option<usize>,
    /// The sampler chain.
    pub sampler: SamplerParams,
    /// Stop sequences (non-empty strings).
    pub stop: Vec<String>,
    /// Server-sent events instead of one JSON response.
    pub stream: bool,
    /// With `stream`, a last chunk carrying `usage` (`stream_options.include_usage`).
    pub include_usage: bool,
    /// Reuse the slot's cache for a shared prompt prefix (llama-server's `cache_prompt`).
    pub cache_prompt: bool,
}

/// What the checks need to know about the served model.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The name `/v1/models` gives the model.
    pub model_id: String,
    /// Positions a slot holds.
    pub n_ctx: usize,
    /// Vocabulary size (for prompts given as token ids).
    pub n_vocab: usize,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

/// Fields both endpoints share.
#[derive(Deserialize)]
struct CommonFields {
    model: Option<String>,
    max_tokens: Option<i64>,
    max_completion_tokens: Option<i64>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<i64>,
    min_p: Option<f32>,
    repeat_penalty: Option<f32>,
    repeat_last_n: Option<i64>,
    seed: Option<i64>,
    stop: Option<Value>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    n: Option<i64>,
    cache_prompt: Option<bool>,
    presence_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    logit_bias: Option<Value>,
}

#[derive(Deserialize)]
struct ChatFields {
    messages: Vec<Value>,
    logprobs: Option<bool>,
    tools: Option<Value>,
    response_format: Option<Value>,
}

#[derive(Deserialize)]
struct CompletionFields {
    prompt: Value,
    logprobs: Option<Value>,
    echo: Option<bool>,
    best_of: Option<i64>,
    suffix: Option<Value>,
}

/// Parses a `/v1/chat/completions` body.
pub fn parse_chat(body: &[u8], limits: &Limits) -> Result<GenRequest, ApiError> {
    let value = parse_object(body)?;
    let chat: ChatFields = fields(&value)?;
    if chat.logprobs == Some(true) {
        return Err(unsupported("logprobs"));
    }
    if chat.tools.as_ref().is_some_and(|t| !is_empty(t)) {
        return Err(unsupported("tools"));
    }
    if let Some(format) = &chat.response_format {
        if format.get("type").and_then(Value::as_str) != Some("text") {
            return Err(ApiError::invalid(
                "response_format",
                "only {\"type\": \"text\"} is supported",
            ));
        }
    }
    if chat.messages.is_empty() {
        return Err(ApiError::invalid("messages", "messages must not be empty"));
    }
    let messages = chat
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| message(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    common(&value, limits, PromptSource::Chat(messages))
}

/// Parses a `/v1/completions` body.
pub fn parse_completion(body: &[u8], limits: &Limits) -> Result<GenRequest, ApiError> {
    let value = parse_object(body)?;
    let fields: CompletionFields = fields(&value)?;
    if fields.logprobs.as_ref().is_some_and(|l| !l.is_null()) {
        return Err(unsupported("logprobs"));
    }
    if fields.echo == Some(true) {
        return Err(unsupported("echo"));
    }
    if fields.best_of.is_some_and(|b| b != 1) {
        return Err(ApiError::invalid(
            "best_of",
            "only best_of = 1 is supported",
        ));
    }
    if fields.suffix.as_ref().is_some_and(|s| !s.is_null()) {
        return Err(unsupported("suffix"));
    }
    let prompt = completion_prompt(&fields.prompt, limits.n_vocab)?;
    common(&value, limits, prompt)
}

fn unsupported(field: &str) -> ApiError {
    ApiError::invalid(field, format!("{field} is not supported by this server"))
}

fn is_empty(v: &Value) -> bool {
    v.is_null() || v.as_array().is_some_and(Vec::is_empty)
}

fn parse_object(body: &[u8]) -> Result<Value, ApiError> {
    if let Err(e) = std::str::from_utf8(body) {
        return Err(ApiError::bad_request(format!(
            "the request body is not valid UTF-8 (bad byte at offset {})",
            e.valid_up_to()
        )));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    Ok(value)
}

/// Deserializes `T` from the body, naming the field at fault on error.
fn fields<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            // A missing required field: serde names it in the message.
            let field = inner
                .to_string()
                .split('`')
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            ApiError::invalid(field, inner.to_string())
        } else {
            ApiError::invalid(path.clone(), format!("{path}: {inner}"))
        }
    })
}

fn message(i: usize, m: &Value) -> Result<ChatMessage, ApiError> {
    let at = |field: &str| format!("messages[{i}].{field}");
    let Some(obj) = m.as_object() else {
        return Err(ApiError::invalid(
            format!("messages[{i}]"),
            format!("messages[{i}] must be an object with a role and a content"),
        ));
    };
    let role = match obj.get("role") {
        Some(Value::String(r)) => r.as_str(),
        Some(_) => return Err(ApiError::invalid(at("role"), "role must be a string")),
        None => {
            return Err(ApiError::invalid(
                at("role"),
                format!("messages[{i}] has no role"),
            ))
        }
    };
    let role = match role {
        "system" | "user" | "assistant" => role,
        // OpenAI's newer name for the system role.
        "developer" => "system",
        other => {
            return Err(ApiError::invalid(
                at("role"),
                format!(
                    "unknown role {other:?} in messages[{i}]: expected system, developer, user \
                     or assistant"
                ),
            ))
        }
    };
    let content = match obj.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let kind = part.get("type").and_then(Value::as_str);
                match (kind, part.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(text)) => texts.push(text),
                    _ => {
                        return Err(ApiError::invalid(
                            format!("messages[{i}].content[{j}]"),
                            format!(
                                "messages[{i}].content[{j}]: only parts {{\"type\": \"text\", \
                                 \"text\": ...}} are supported"
                            ),
                        ))
                    }
                }
            }
            texts.join("\n")
        }
        Some(_) => {
            return Err(ApiError::invalid(
                at("content"),
                "content must be a string or a list of text parts",
            ))
        }
        None => {
            return Err(ApiError::invalid(
                at("content"),
                format!("messages[{i}] has no content"),
            ))
        }
    };
    Ok(ChatMessage::new(role, content))
}

fn completion_prompt(prompt: &Value, n_vocab: usize) -> Result<PromptSource, ApiError> {
    let bad = || {
        ApiError::invalid(
            "prompt",
            "prompt must be a string, a list of one string, or a list of token ids",
        )
    };
    let source = match prompt {
        Value::String(s) => PromptSource::Text(s.clone()),
        Value::Array(items) if items.len() == 1 && items[0].is_string() => {
            PromptSource::Text(items[0].as_str().unwrap_or_default().to_owned())
        }
        Value::Array(items) if items.iter().all(Value::is_number) => {
            let ids = items
                .iter()
                .enumerate()
                .map(|(j, v)| match v.as_u64() {
                    Some(id) if (id as usize) < n_vocab => Ok(id as u32),
                    _ => Err(ApiError::invalid(
                        format!("prompt[{j}]"),
                        format!("prompt[{j}] = {v} is not a token id (0..{n_vocab})"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            PromptSource::Ids(ids)
        }
        Value::Array(items) if items.iter().all(Value::is_string) => {
            return Err(ApiError::invalid(
                "prompt",
                "only one prompt per request is supported",
            ))
        }
        _ => return Err(bad()),
    };
    let empty = match &source {
        PromptSource::Text(t) => t.is_empty(),
        PromptSource::Ids(ids) => ids.is_empty(),
        PromptSource::Chat(_) => false,
    };
    if empty {
        return Err(ApiError::invalid("prompt", "prompt must not be empty"));
    }
    Ok(source)
}

fn common(value: &Value, limits: &Limits, prompt: PromptSource) -> Result<GenRequest, ApiError> {
    let c: CommonFields = fields(value)?;
    if let Some(model) = &c.model {
        if *model != limits.model_id {
            return Err(ApiError::invalid(
                "model",
                format!(
                    "the model {model:?} does not exist here: this server serves {:?}",
                    limits.model_id
                ),
            )
            .with_code("model_not_found")
            .with_status(axum::http::StatusCode::NOT_FOUND));
        }
    }
    if c.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n", "only n = 1 is supported"));
    }
    for (name, v) in [
        ("presence_penalty", c.presence_penalty),
        ("frequency_penalty", c.frequency_penalty),
    ] {
        if v.is_some_and(|v| v != 0.0) {
            return Err(ApiError::invalid(
                name,
                format!("{name} is not supported by this server (repeat_penalty is)"),
            ));
        }
    }
    if c.logit_bias
        .as_ref()
        .is_some_and(|b| !b.is_null() && b.as_object().is_none_or(|m| !m.is_empty()))
    {
        return Err(unsupported("logit_bias"));
    }
    let (name, max_tokens) = match (c.max_tokens, c.max_completion_tokens) {
        (Some(m), _) => ("max_tokens", Some(m)),
        (None, m) => ("max_completion_tokens", m),
    };
    let max_tokens = match max_tokens {
        None => None,
        Some(m) if m < 1 => {
            return Err(ApiError::invalid(
                name,
                format!("{name} = {m}: must be at least 1"),
            ))
        }
        Some(m) if m as u64 > limits.n_ctx as u64 => {
            return Err(ApiError::invalid(
                name,
                format!(
                    "{name} = {m} is more than the context holds ({} tokens)",
                    limits.n_ctx
                ),
            ))
        }
        Some(m) => Some(m as usize),
    };
    let temperature = c
        .temperature
        .unwrap_or(SamplerParams::default().temperature);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::invalid(
            "temperature",
            format!("temperature = {temperature}: must be between 0 and 2"),
        ));
    }
    let non_negative = |name: &str, v: Option<i64>, default: usize| match v {
        None => Ok(default),
        Some(v) if v >= 0 => Ok(v as usize),
        Some(v) => Err(ApiError::invalid(
            name,
            format!("{name} = {v}: must be 0 or more"),
        )),
    };
    // Field by field over the defaults, so options added to the sampler later keep theirs.
    let mut sampler = SamplerParams {
        temperature,
        ..SamplerParams::default()
    };
    sampler.top_k = non_negative("top_k", c.top_k, sampler.top_k)?;
    sampler.top_p = c.top_p.unwrap_or(sampler.top_p);
    sampler.min_p = c.min_p.unwrap_or(sampler.min_p);
    sampler.repeat_penalty = c.repeat_penalty.unwrap_or(sampler.repeat_penalty);
    sampler.repeat_last_n = non_negative("repeat_last_n", c.repeat_last_n, sampler.repeat_last_n)?;
    // OpenAI seeds are signed 64-bit integers: keep every bit.
    sampler.seed = c.seed.map_or_else(fresh_seed, |s| s as u64);
    sampler
        .validate()
        .map_err(|e| ApiError::invalid(e.name, format!("{} = {}: {}", e.name, e.value, e.rule)))?;
    let stop = match &c.stop {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(j, s)| {
                s.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::invalid(format!("stop[{j}]"), format!("stop[{j}] must be a string"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(ApiError::invalid(
                "stop",
                "stop must be a string or a list of strings",
            ))
        }
    };
    if stop.len() > MAX_STOPS {
        return Err(ApiError::invalid(
            "stop",
            format!("at most {MAX_STOPS} stop sequences, got {}", stop.len()),
        ));
    }
    if stop.iter().any(String::is_empty) {
        return Err(ApiError::invalid(
            "stop",
            "a stop sequence must not be empty",
        ));
    }
    let stream = c.stream.unwrap_or(false);
    if c.stream_options.is_some() && !stream {
        return Err(ApiError::invalid(
            "stream_options",
            "stream_options is only allowed with stream: true",
        ));
    }
    Ok(GenRequest {
        prompt,
        max_tokens,
        sampler,
        stop,
        stream,
        include_usage: c
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        cache_prompt: c.cache_prompt.unwrap_or(true),
    })
}

/// A seed for a request that gave none: the clock and a counter, so two requests in the same
/// instant still differ.
fn fresh_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            model_id: "m".into(),
            n_ctx: 512,
            n_vocab: 1000,
        }
    }

    fn chat_err(body: &str) -> ApiError {
        parse_chat(body.as_bytes(), &limits()).unwrap_err()
    }

    #[test]
    fn a_good_chat_request_is_read_whole() {
        let r = parse_chat(
            br#"{"model":"m","messages":[{"role":"developer","content":"Be brief."},
                {"role":"user","content":[{"type":"text","text":"Hi"}]}],
                "max_tokens":5,"temperature":0,"seed":-1,"stop":["\n"],"stream":true,
                "stream_options":{"include_usage":true},"user":"x"}"#,
            &limits(),
        )
        .unwrap();
        assert_eq!(
            r.prompt,
            PromptSource::Chat(vec![
                ChatMessage::new("system", "Be brief."),
                ChatMessage::new("user", "Hi")
            ])
        );
        assert_eq!(r.max_tokens, Some(5));
        assert_eq!(r.sampler.temperature, 0.0);
        assert_eq!(r.sampler.seed, u64::MAX);
        assert_eq!(r.stop, vec!["\n".to_string()]);
        assert!(r.stream && r.include_usage && r.cache_prompt);
    }

    #[test]
    fn every_bad_field_is_named() {
        let cases = [
            (
                r#"{"messages":[{"role":"wizard","content":"x"}]}"#,
                "messages[0].role",
            ),
            (r#"{"messages":[{"role":"user"}]}"#, "messages[0].content"),
            (
                r#"{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}"#,
                "messages[0].content[0]",
            ),
            (r#"{"messages":[]}"#, "messages"),
            (r#"{}"#, "messages"),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":-3}"#,
                "max_tokens",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":100000000000}"#,
                "max_tokens",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":"ten"}"#,
                "max_tokens",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"temperature":2.5}"#,
                "temperature",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"temperature":-1}"#,
                "temperature",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"top_p":0}"#,
                "top_p",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"top_k":-1}"#,
                "top_k",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"stop":["a",""]}"#,
                "stop",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"stop":[1]}"#,
                "stop[0]",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}"#,
                "stop",
            ),
            (r#"{"messages":[{"role":"user","content":"x"}],"n":2}"#, "n"),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"logprobs":true}"#,
                "logprobs",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"stream_options":{}}"#,
                "stream_options",
            ),
        ];
        for (body, field) in cases {
            let e = chat_err(body);
            assert_eq!(e.status, 400, "{body}: {}", e.message);
            assert_eq!(e.param.as_deref(), Some(field), "{body}: {}", e.message);
        }
    }

    #[test]
    fn an_unknown_model_is_404_model_not_found() {
        let e = chat_err(r#"{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}"#);
        assert_eq!(e.status, 404);
        assert_eq!(e.code, Some("model_not_found"));
        assert_eq!(e.param.as_deref(), Some("model"));
    }

    #[test]
    fn malformed_bodies_are_clear() {
        let e = parse_chat(b"{\"messages\": [", &limits()).unwrap_err();
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
        let e = parse_chat(b"{\"messages\": \"\xff\"}", &limits()).unwrap_err();
        assert!(
            e.message.contains("UTF-8") && e.message.contains("offset 14"),
            "{}",
            e.message
        );
        let e = parse_chat(b"[1]", &limits()).unwrap_err();
        assert!(e.message.contains("JSON object"), "{}", e.message);
    }

    #[test]
    fn completion_prompts_take_text_or_ids() {
        let p = |body: &str| parse_completion(body.as_bytes(), &limits()).map(|r| r.prompt);
        assert_eq!(
            p(r#"{"prompt":"hi"}"#).unwrap(),
            PromptSource::Text("hi".into())
        );
        assert_eq!(
            p(r#"{"prompt":["hi"]}"#).unwrap(),
            PromptSource::Text("hi".into())
        );
        assert_eq!(
            p(r#"{"prompt":[1,2]}"#).unwrap(),
            PromptSource::Ids(vec![1, 2])
        );
        assert_eq!(
            p(r#"{"prompt":[1,5000]}"#).unwrap_err().param.as_deref(),
            Some("prompt[1]")
        );
        assert_eq!(
            p(r#"{"prompt":""}"#).unwrap_err().param.as_deref(),
            Some("prompt")
        );
        assert_eq!(
            p(r#"{"prompt":{"a":1}}"#).unwrap_err().param.as_deref(),
            Some("prompt")
        );
        assert_eq!(
            p(r#"{"prompt":"x","echo":true}"#)
                .unwrap_err()
                .param
                .as_deref(),
            Some("echo")
        );
    }
}
