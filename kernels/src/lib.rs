//! # retort-kernels
//!
//! Quantized block formats (ggml's exact layouts), their dequantize/quantize routines and the
//! matrix kernels (dot products, GEMV, GEMM) that Retort runs on, one set per instruction-set
//! tier, chosen at run time. The crate knows nothing about models.
//!
//! Layout:
//! - [`ggml_type`]: the [`GgmlType`] table (block size, bytes per block, names).
//! - [`blocks`]: `#[repr(C)]` block structs with compile-time size assertions; [`blocks_x8`]:
//!   their row-interleaved forms (eight rows side by side).
//! - [`tier`]: instruction-set tiers, run-time detection, the `RETORT_CPU_TIER` cap.
//! - [`ops`]: the safe, length-checked entry points (dequantize, quantize, vec_dot, gemv, gemm).
//! - [`table`]: the per-tier kernel table `ops` dispatches through; [`generic`]: the scalar twins.
//! - [`attention`]: the softmax and value-sum kernels of attention over a KV cache.
//! - [`activation`]: the gated activations of the feed-forward blocks (SwiGLU, GeGLU).
//! - [`error`]: the error type, [`KernelError`].
//!
//! The core is `no_std`; the default `std` feature adds run-time CPU detection.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
pub mod activation;
pub mod attention;
pub mod blocks;
pub mod blocks_x8;
pub mod error;
pub mod generic;
pub mod ggml_type;
pub mod ops;
pub mod table;
pub mod tier;
#[cfg(target_arch = "x86_64")]
pub mod x86;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod x8_walk;

pub use error::KernelError;
pub use ggml_type::GgmlType;
pub use tier::Tier;
