//! The library's error type: one enum whose kinds map one-to-one onto the C ABI's error codes.

use crate::catalog::CatalogError;
use crate::gguf::GgufError;
use crate::model::ModelError;
use crate::sampling::SamplingError;
use crate::tokenizer::TokenizerError;

/// Any error Retort's library returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The GGUF file is malformed or lacks something.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A catalog operation (pull, verify, resolve) failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The model could not be built or run.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The tokenizer or chat template failed.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// A sampling parameter is out of range.
    #[error(transparent)]
    Sampling(#[from] SamplingError),
    /// The HTTP server could not start or stopped on an error.
    #[cfg(feature = "serve")]
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
}

impl Error {
    /// A stable numeric code per kind (for the C ABI and exit statuses).
    pub fn code(&self) -> i32 {
        match self {
            Error::Gguf(_) => 1,
            Error::Catalog(_) => 2,
            Error::Model(ModelError::ContextFull { .. }) => 3,
            Error::Model(_) => 4,
            Error::Tokenizer(_) => 5,
            Error::Sampling(_) => 6,
            #[cfg(feature = "serve")]
            Error::Serve(_) => 7,
        }
    }
}
