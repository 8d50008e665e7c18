//! The C ABI (feature `capi`): everything `include/retort.h` declares, for firmware written in C
//! that links `libretort.a` or `libretort.so`.
//!
//! Its shape follows llama.h and rustls-ffi:
//! - opaque handles: [`retort_model`] (immutable; shared by any number of sessions and threads)
//!   and [`retort_session`] (one conversation: KV cache, scratch, worker threads);
//! - `retort_*_default_params()` structs passed by value, which the caller edits;
//! - every fallible call returns a `retort_status` ([`ErrorCode`], one code per kind of
//!   [`crate::Error`]) and leaves a message for `retort_last_error()` on the calling thread;
//! - every entry point runs its body inside [`ffi_guard!`], so no panic crosses the boundary;
//! - each call's documentation (copied into the header) says who owns every pointer, how long it
//!   must live, and which calls may run at the same time.
//!
//! The header is generated from these files by cbindgen (`cbindgen.toml`); `tests/capi_header.rs`
//! fails when it drifts from the code (`RETORT_BLESS=1` rewrites it).
#![allow(non_camel_case_types)]

#[macro_use]
mod guard;
mod args;
mod generate;
mod model;
mod session;
mod text;
mod version;
mod watermark;

pub use crate::error::ErrorCode;
pub use generate::{
    retort_generate, retort_generate_default_params, retort_generate_params, retort_generation,
    retort_piece_callback, retort_sampler_default_params, retort_sampler_params,
    retort_stop_reason,
};
pub use guard::{retort_last_error, retort_status_name};
pub use model::{
    retort_model, retort_model_free, retort_model_get_info, retort_model_info, retort_model_open,
    retort_model_open_memory, RETORT_MODEL_MEMORY_ALIGN,
};
pub use session::{
    retort_kv_cache_type, retort_session, retort_session_default_params, retort_session_free,
    retort_session_get_info, retort_session_info, retort_session_new, retort_session_params,
    retort_session_reset,
};
pub use text::{
    retort_chat_apply, retort_chat_default_params, retort_chat_message, retort_chat_params,
    retort_chat_tokenize, retort_detokenize, retort_tokenize,
};
pub use version::{retort_abi_version, retort_kernel_tier, retort_version, RETORT_ABI_VERSION};
pub use watermark::{
    retort_verdict, retort_verify, retort_verify_default_params, retort_verify_params,
    retort_watermark, retort_watermark_free, retort_watermark_get_info, retort_watermark_info,
    retort_watermark_load,
};
