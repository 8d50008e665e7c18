//! Shared by the GGUF reader tests: a small GGUF writer whose every field is set by hand.
#![allow(dead_code)]

pub mod writer;
