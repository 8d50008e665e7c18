//! Chat templates: the Jinja template a model ships (`tokenizer.chat_template`), rendered with
//! minijinja the way Hugging Face `transformers` renders it.
//!
//! What the templates of the supported models rely on, and how it is provided:
//! - `trim_blocks` and `lstrip_blocks` on, as transformers compiles templates;
//! - Python string methods (`.strip()`, `.startswith()`, `.split()`) from minijinja-contrib's
//!   pycompat layer;
//! - `raise_exception(msg)` failing the render with that message;
//! - `tojson` printing JSON as Python's `json.dumps` does (`", "` and `": "` separators, keys in
//!   their given order, non-ASCII kept), since tool descriptions end up in the prompt verbatim.

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value};
use serde::Serialize;

use super::{Tokenizer, TokenizerError};

/// Gemma 3's chat template, for Gemma 3 files that were converted without one.
const GEMMA3_TEMPLATE: &str = include_str!("templates/gemma3.jinja");

/// A template for models whose GGUF carries none, by `general.architecture`.
pub fn fallback_chat_template(architecture: &str) -> Option<&'static str> {
    match architecture {
        "gemma3" | "gemma3_text" => Some(GEMMA3_TEMPLATE),
        _ => None,
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The message text.
    pub content: String,
}

impl ChatMessage {
    /// A message with this role and content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// Options for one rendering.
#[derive(Debug, Clone, Default)]
pub struct ChatTemplateParams {
    /// End with the header of an assistant turn, so the model writes the reply.
    pub add_generation_prompt: bool,
    /// Tool (function) descriptions for templates that support them; a list of JSON objects.
    pub tools: Option<Value>,
}

impl ChatTemplateParams {
    /// Sets `tools` from JSON text (a list of tool objects), keeping the keys' order.
    pub fn with_tools_json(mut self, json: &str) -> Result<ChatTemplateParams, TokenizerError> {
        let tools: Value = serde_json::from_str(json)
            .map_err(|e| TokenizerError::Template(format!("tools JSON: {e}")))?;
        if tools.kind() != ValueKind::Seq {
            return Err(TokenizerError::Template(
                "tools JSON must be a list of tool objects".into(),
            ));
        }
        self.tools = Some(tools);
        Ok(self)
    }
}

/// A compiled chat template with the special-token strings it may print.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .finish_non_exhaustive()
    }
}

const TEMPLATE_NAME: &str = "chat";

impl ChatTemplate {
    /// Compiles `source`; `bos_token` and `eos_token` are what the template sees under those names.
    pub fn new(
        source: &str,
        bos_token: impl Into<String>,
        eos_token: impl Into<String>,
    ) -> Result<ChatTemplate, TokenizerError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_filter("tojson", tojson);
        env.add_template_owned(TEMPLATE_NAME, source.to_string())
            .map_err(|e| TokenizerError::Template(describe(&e)))?;
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
        })
    }

    /// The tokenizer's own template (or, without one, the fallback for `architecture`), with its
    /// BOS and EOS token text.
    pub fn for_tokenizer(
        tokenizer: &Tokenizer,
        architecture: Option<&str>,
    ) -> Result<ChatTemplate, TokenizerError> {
        let source = tokenizer
            .chat_template()
            .or_else(|| architecture.and_then(fallback_chat_template))
            .ok_or_else(|| {
                TokenizerError::Template("the model has no chat template".to_string())
            })?;
        let text_of = |id: Option<u32>| -> Result<String, TokenizerError> {
            match id {
                Some(id) => Ok(tokenizer.token_text(id)?.to_string()),
                None => Ok(String::new()),
            }
        };
        ChatTemplate::new(
            source,
            text_of(tokenizer.bos_id())?,
            text_of(tokenizer.eos_id())?,
        )
    }

    /// Renders `messages` into the prompt text.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        params: &ChatTemplateParams,
    ) -> Result<String, TokenizerError> {
        self.render_value(Value::from_serialize(messages), params)
    }

    /// Renders `messages` and encodes the prompt: control tokens in the text are matched whole,
    /// and the BOS token is put first when the tokenizer adds one and the template did not.
    pub fn encode(
        &self,
        tokenizer: &Tokenizer,
        messages: &[ChatMessage],
        params: &ChatTemplateParams,
    ) -> Result<Vec<u32>, TokenizerError> {
        let rendered = self.render(messages, params)?;
        let mut ids = tokenizer.encode(&rendered, false)?;
        if let Some(bos) = tokenizer.bos_id() {
            let adds_bos = tokenizer.encode("", true)?.first() == Some(&bos);
            if adds_bos && ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    /// Renders messages given as a template value: a list of maps with `role`, `content` and
    /// whatever else the template reads (`tool_calls`, ...). JSON text becomes such a value
    /// through `serde_json::from_str::<minijinja::Value>`, which keeps the keys' order.
    pub fn render_value(
        &self,
        messages: Value,
        params: &ChatTemplateParams,
    ) -> Result<String, TokenizerError> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| TokenizerError::Template(describe(&e)))?;
        let tools = params.tools.clone().unwrap_or(Value::from(()));
        let ctx = minijinja::context! {
            messages => messages,
            add_generation_prompt => params.add_generation_prompt,
            tools => tools,
            bos_token => self.bos_token.as_str(),
            eos_token => self.eos_token.as_str(),
        };
        template
            .render(ctx)
            .map_err(|e| TokenizerError::Template(describe(&e)))
    }
}

/// The error with its chain of causes, on one line.
fn describe(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

/// `tojson` as transformers defines it: Python's `json.dumps(value, ensure_ascii=False,
/// indent=indent, sort_keys=False)`.
fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let mut out = String::new();
    write_json(&mut out, &value, indent, 0)?;
    Ok(Value::from(out))
}

fn write_newline_indent(out: &mut String, indent: Option<usize>, level: usize) {
    if let Some(width) = indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', width * level));
    }
}

fn write_json(
    out: &mut String,
    value: &Value,
    indent: Option<usize>,
    level: usize,
) -> Result<(), Error> {
    // Python separates items with ", " on one line, with "," when indenting.
    let item_separator = if indent.is_some() { "," } else { ", " };
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if let Some(i) = value.as_i64() {
                out.push_str(&i.to_string());
            } else if let Ok(f) = f64::try_from(value.clone()) {
                out.push_str(&python_float_repr(f));
            } else {
                out.push_str(&value.to_string());
            }
        }
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default();
            out.push_str(
                &serde_json::to_string(text)
                    .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?,
            );
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_separator);
                }
                write_newline_indent(out, indent, level + 1);
                write_json(out, item, indent, level + 1)?;
            }
            if !items.is_empty() {
                write_newline_indent(out, indent, level);
            }
            out.push(']');
        }
        ValueKind::Map => {
            let keys: Vec<Value> = value.try_iter()?.collect();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_separator);
                }
                write_newline_indent(out, indent, level + 1);
                let key_text = match key.as_str() {
                    Some(s) => s.to_string(),
                    None => key.to_string(),
                };
                out.push_str(
                    &serde_json::to_string(&key_text)
                        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?,
                );
                out.push_str(": ");
                write_json(out, &value.get_item(key)?, indent, level + 1)?;
            }
            if !keys.is_empty() {
                write_newline_indent(out, indent, level);
            }
            out.push('}');
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson cannot serialize a value of kind {:?}", value.kind()),
            ))
        }
    }
    Ok(())
}

/// Python's `repr` of a float, as `json.dumps` prints it.
fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let text = format!("{f:?}");
    // Rust's shortest round-trip form agrees with Python's except for exponents.
    match text.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            let mantissa = mantissa.strip_suffix(".0").unwrap_or(mantissa);
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tojson_is_pythons_json_dumps() {
        let template = ChatTemplate::new("{{ tools | tojson }}", "", "").unwrap();
        let params = ChatTemplateParams::default()
            .with_tools_json(r#"[{"b": 1, "a": [true, null, 2.5, "°C \"q\"\n"]}, {}]"#)
            .unwrap();
        let text = template.render(&[], &params).unwrap();
        assert_eq!(
            text,
            r#"[{"b": 1, "a": [true, null, 2.5, "°C \"q\"\n"]}, {}]"#
        );
    }

    #[test]
    fn raise_exception_fails_the_render() {
        let template =
            ChatTemplate::new("{{ raise_exception('roles must alternate') }}", "", "").unwrap();
        let err = template
            .render(&[], &ChatTemplateParams::default())
            .unwrap_err();
        assert!(err.to_string().contains("roles must alternate"), "{err}");
    }

    #[test]
    fn python_string_methods_work() {
        let template = ChatTemplate::new(
            "{{ messages[0].content.strip().startswith('hi') }}|{{ messages[0].content.split(',')[1] }}",
            "",
            "",
        )
        .unwrap();
        let text = template
            .render(
                &[ChatMessage::new("user", "  hi,there ")],
                &ChatTemplateParams::default(),
            )
            .unwrap();
        // Booleans print as Python prints them.
        assert_eq!(text, "True|there ");
    }

    #[test]
    fn bad_template_is_an_error() {
        assert!(ChatTemplate::new("{% for %}", "", "").is_err());
    }

    #[test]
    fn float_repr() {
        assert_eq!(python_float_repr(2.5), "2.5");
        assert_eq!(python_float_repr(1e20), "1e+20");
        assert_eq!(python_float_repr(1.5e-7), "1.5e-07");
    }
}
