//! # Retort
//!
//! weights, hand-tuned SIMD kernels chosen at run time, and (later) a keyed watermark with a
//! verifier. See `DESIGN.md` in the shared folder for the map of the house.
#![deny(unsafe_op_in_unsafe_fn)]
pub mod gguf;
pub mod catalog;
pub mod tokenizer;
