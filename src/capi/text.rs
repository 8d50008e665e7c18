//! Text in and out: tokenize and detokenize into caller buffers, and the chat template.
//!
//! Every call that fills a caller's buffer reports the size of the whole answer, also when it
//! does not fit (`RETORT_STATUS_BUFFER_TOO_SMALL`), so the caller can retry with a buffer that
//! does; a buffer too small is left unwritten.

use std::ffi::c_char;

use super::args::{self, Out, OutBuf};
use super::model::retort_model;
use crate::error::Error;
use crate::tokenizer::{ChatMessage, ChatTemplateParams};

/// Text to token ids.
///
/// - `text`, `text_len`: UTF-8 bytes (no terminator needed; NULL only with `text_len` 0),
///   borrowed for the call.
/// - `add_special`: add BOS/EOS where the vocabulary asks for them. Special tokens written in
///   the text (`<|im_start|>`) always become their single id.
/// - `ids`, `capacity`: the caller's buffer (NULL only with `capacity` 0).
/// - `n_ids`: receives the number of ids, also when they do not fit.
///
/// Any thread, concurrently with any other call on the same model.
///
/// Errors: `RETORT_STATUS_BUFFER_TOO_SMALL` (`*n_ids` says how many),
/// `RETORT_STATUS_INVALID_ARGUMENT` (NULL or misaligned pointers, text not UTF-8),
/// `RETORT_STATUS_TOKENIZER`.
///
/// # Safety
/// `model` must be NULL or a live model handle; `text` NULL or `text_len` readable bytes;
/// `ids` NULL or `capacity` writable `uint32_t`s; `n_ids` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_tokenize(
    model: *const retort_model,
    text: *const c_char,
    text_len: usize,
    add_special: bool,
    ids: *mut u32,
    capacity: usize,
    n_ids: *mut usize,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (m, text, mut buf, mut n) = unsafe {
            (
                retort_model::from_handle(model, "model")?,
                args::text(text, text_len, "text")?,
                OutBuf::new(ids, capacity, "ids")?,
                Out::new(n_ids, "n_ids")?,
            )
        };
        let encoded = m.tokenizer.encode(text, add_special)?;
        args::write_ids(&encoded, &mut buf, &mut n, "ids")
    })
}

/// Token ids to text, NUL-terminated. Bytes that do not form valid UTF-8 become U+FFFD.
///
/// - `ids`, `n_ids`: borrowed for the call (NULL only with `n_ids` 0).
/// - `render_special`: write control tokens (`<|im_end|>`) as their text instead of nothing.
/// - `text`, `capacity`: the caller's buffer; it needs `*text_len + 1` bytes.
/// - `text_len`: receives the text's length in bytes, without the NUL, also when it does not
///   fit.
///
/// Any thread, concurrently with any other call on the same model.
///
/// Errors: `RETORT_STATUS_BUFFER_TOO_SMALL`, `RETORT_STATUS_TOKENIZER` (an id outside the
/// vocabulary), `RETORT_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `model` must be NULL or a live model handle; `ids` NULL or `n_ids` readable `uint32_t`s;
/// `text` NULL or `capacity` writable bytes; `text_len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_detokenize(
    model: *const retort_model,
    ids: *const u32,
    n_ids: usize,
    render_special: bool,
    text: *mut c_char,
    capacity: usize,
    text_len: *mut usize,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (m, ids, mut buf, mut len) = unsafe {
            (
                retort_model::from_handle(model, "model")?,
                args::slice(ids, n_ids, "ids")?,
                OutBuf::new(text.cast::<u8>(), capacity, "text")?,
                Out::new(text_len, "text_len")?,
            )
        };
        let decoded = m.tokenizer.decode(ids, render_special)?;
        args::write_text(&decoded, &mut buf, &mut len, "text")
    })
}

/// One message of a conversation.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct retort_chat_message {
    /// `"system"`, `"user"`, `"assistant"` or `"tool"`: NUL-terminated UTF-8.
    pub role: *const c_char,
    /// The message text: NUL-terminated UTF-8.
    pub content: *const c_char,
}

/// Options for applying the chat template. Get one from `retort_chat_default_params()`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct retort_chat_params {
    /// End with the header of an assistant turn, so that the model writes the reply. Default
    /// true.
    pub add_generation_prompt: bool,
    /// Tool (function) descriptions for templates that support them: a JSON list of tool
    /// objects, NUL-terminated; NULL for none. Default NULL.
    pub tools_json: *const c_char,
}

/// The defaults of the chat options.
const CHAT_DEFAULTS: retort_chat_params = retort_chat_params {
    add_generation_prompt: true,
    tools_json: std::ptr::null(),
};

/// The defaults of the chat options. Any thread, any time.
#[no_mangle]
pub extern "C" fn retort_chat_default_params() -> retort_chat_params {
    ffi_guard!(or CHAT_DEFAULTS; { CHAT_DEFAULTS })
}

/// A C conversation and its options, read for the model's chat template.
struct Conversation<'a> {
    model: &'a retort_model,
    messages: Vec<ChatMessage>,
    options: ChatTemplateParams,
}

/// Reads the arguments every chat call takes.
///
/// # Safety
/// As for `retort_chat_apply`.
unsafe fn conversation<'a>(
    model: *const retort_model,
    messages: *const retort_chat_message,
    n_messages: usize,
    params: retort_chat_params,
) -> Result<Conversation<'a>, Error> {
    // SAFETY: the caller's contract on `retort_chat_apply`: the model outlives the call.
    let (model, list) = unsafe {
        (
            retort_model::from_handle(model, "model")?,
            args::slice(messages, n_messages, "messages")?,
        )
    };
    let mut chat = Vec::with_capacity(list.len());
    for message in list {
        // SAFETY: each message's strings are NUL-terminated (the caller's contract).
        let (role, content) = unsafe {
            (
                args::c_str(message.role, "messages[].role")?,
                args::c_str(message.content, "messages[].content")?,
            )
        };
        chat.push(ChatMessage::new(role, content));
    }
    let mut options = ChatTemplateParams {
        add_generation_prompt: params.add_generation_prompt,
        ..ChatTemplateParams::default()
    };
    if !params.tools_json.is_null() {
        // SAFETY: non-null, so NUL-terminated by the caller's contract.
        let tools = unsafe { args::c_str(params.tools_json, "params.tools_json")? };
        options = options.with_tools_json(tools)?;
    }
    Ok(Conversation {
        model,
        messages: chat,
        options,
    })
}

/// Applies the model's chat template to a conversation, giving the prompt text, NUL-terminated.
///
/// - `messages`, `n_messages`: borrowed for the call.
/// - `params`: by value (start from `retort_chat_default_params()`).
/// - `text`, `capacity`: the caller's buffer; it needs `*text_len + 1` bytes.
/// - `text_len`: receives the prompt's length in bytes, without the NUL, also when it does not
///   fit.
///
/// Any thread, concurrently with any other call on the same model.
///
/// Errors: `RETORT_STATUS_TOKENIZER` (no template, or the template refused the conversation:
/// the last error says why), `RETORT_STATUS_BUFFER_TOO_SMALL`,
/// `RETORT_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `model` must be NULL or a live model handle; `messages` NULL or `n_messages` readable
/// messages whose strings are NUL-terminated; `text` NULL or `capacity` writable bytes;
/// `text_len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_chat_apply(
    model: *const retort_model,
    messages: *const retort_chat_message,
    n_messages: usize,
    params: retort_chat_params,
    text: *mut c_char,
    capacity: usize,
    text_len: *mut usize,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (mut buf, mut len) = unsafe {
            (
                OutBuf::new(text.cast::<u8>(), capacity, "text")?,
                Out::new(text_len, "text_len")?,
            )
        };
        // SAFETY: the caller's contract above.
        let c = unsafe { conversation(model, messages, n_messages, params)? };
        let rendered = c.model.chat_template()?.render(&c.messages, &c.options)?;
        args::write_text(&rendered, &mut buf, &mut len, "text")
    })
}

/// Applies the chat template and tokenizes the result, ready for `retort_generate`: special
/// tokens the template writes become their ids, and BOS is added when the vocabulary asks for
/// it and the template did not write it.
///
/// Arguments as `retort_chat_apply`, with the ids buffer of `retort_tokenize`: `n_ids`
/// receives the number of ids, also when they do not fit.
///
/// Any thread, concurrently with any other call on the same model.
///
/// # Safety
/// As `retort_chat_apply`; `ids` NULL or `capacity` writable `uint32_t`s; `n_ids` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn retort_chat_tokenize(
    model: *const retort_model,
    messages: *const retort_chat_message,
    n_messages: usize,
    params: retort_chat_params,
    ids: *mut u32,
    capacity: usize,
    n_ids: *mut usize,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (mut buf, mut n) = unsafe {
            (
                OutBuf::new(ids, capacity, "ids")?,
                Out::new(n_ids, "n_ids")?,
            )
        };
        // SAFETY: the caller's contract above.
        let c = unsafe { conversation(model, messages, n_messages, params)? };
        let template = c.model.chat_template()?;
        let encoded = template.encode(&c.model.tokenizer, &c.messages, &c.options)?;
        args::write_ids(&encoded, &mut buf, &mut n, "ids")
    })
}
