//! # Retort
//!
//! An embedded edge-inference runtime for distilled small language models: memory-mapped GGUF
//! weights, hand-tuned SIMD kernels chosen at run time, and a keyed watermark with a verifier that
//! needs only the text. See `DESIGN.md` in the shared folder for the map of the house.
#![deny(unsafe_op_in_unsafe_fn)]
// Measurement for `retort bench`, `perplexity` and `compare`; firmware builds leave it out.
#[cfg(feature = "catalog")]
pub mod bench;
#[cfg(feature = "capi")]
pub mod capi;
#[cfg(feature = "catalog")]
pub mod catalog;
pub mod conversation;
pub mod error;
pub mod generate;
pub mod gguf;
pub mod kv_cache;
pub mod loader;
pub mod model;
pub mod sampling;
#[cfg(feature = "serve")]
pub mod serve;
pub mod session;
pub mod tokenizer;
pub mod watermark;
pub(crate) mod worker_pool;

pub use error::Error;
