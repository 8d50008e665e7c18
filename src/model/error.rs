//! Why a model could not be built or run.

use crate::gguf::GgufError;

/// Errors from building or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is bad or lacks a key or tensor.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A tensor's shape disagrees with the hyper-parameters.
    #[error("tensor '{tensor}': shape {found:?}, expected {expected}")]
    Shape {
        /// The tensor.
        tensor: String,
        /// The expected shape, in ggml order.
        expected: String,
        /// The shape in the file.
        found: Vec<u64>,
    },
    /// An architecture or option Retort does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A kernel refused its input (a bug if it happens after validation).
    #[error("kernel: {0}")]
    Kernel(#[from] retort_kernels::error::KernelError),
    /// A token id outside the vocabulary.
    #[error("token id {id} is outside the vocabulary (size {n_vocab})")]
    BadToken {
        /// The id.
        id: u32,
        /// Vocabulary size.
        n_vocab: usize,
    },
    /// The session's context is full.
    #[error("context full: {needed} positions needed but the session holds {capacity} (raise --ctx, up to the model's {train})")]
    ContextFull {
        /// Positions that would be used.
        needed: usize,
        /// The session's context size.
        capacity: usize,
        /// The model's training context.
        train: usize,
    },
    /// Invalid parameters: of a session, a prompt, a measurement.
    #[error("invalid parameter: {0}")]
    BadParam(String),
    /// The system refused memory the model needs.
    #[error("out of memory: {0}")]
    OutOfMemory(String),
}
