//! The library's error type: one enum whose kinds map one-to-one onto the C ABI's status codes
//! ([`ErrorCode`], `retort_status` in `include/retort.h`).

use std::ffi::CStr;

#[cfg(feature = "catalog")]
use crate::catalog::CatalogError;
use crate::gguf::GgufError;
use crate::model::ModelError;
use crate::sampling::SamplingError;
use crate::tokenizer::TokenizerError;
use crate::watermark::WatermarkError;

/// Any error Retort's library returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The GGUF file is malformed or lacks something.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A catalog operation (pull, verify, resolve) failed.
    #[cfg(feature = "catalog")]
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
    /// An argument of a C call is unusable: null, misaligned, not UTF-8, or out of range.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The parameter, as the header names it.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A caller's buffer cannot hold the answer; `needed` says how many elements would.
    #[error("buffer `{name}` too small: {needed} needed, capacity {capacity}")]
    BufferTooSmall {
        /// The parameter, as the header names it.
        name: &'static str,
        /// Elements the answer needs.
        needed: usize,
        /// Elements the buffer has.
        capacity: usize,
    },
    /// A panic inside the library (a bug), caught at the C boundary; or a session an earlier
    /// panic left inconsistent.
    #[error("internal error: {0}")]
    Panic(String),
    /// The HTTP server could not start or stopped on an error.
    #[cfg(feature = "serve")]
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    /// A watermark key file, parameter or vocabulary binding is wrong.
    #[error(transparent)]
    Watermark(#[from] WatermarkError),
}

/// What a call returned: `RETORT_STATUS_OK`, or the kind of error, one code per kind of the
/// library's error type (`Error::code` in Rust is the mapping); `retort_last_error()` has the
/// message. The values are part of the ABI and never change; a code stays reserved in builds
/// without its feature (`CATALOG` without `catalog`, `SERVE` without `serve`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Success.
    Ok = 0,
    /// The GGUF file is malformed, lacks a key or tensor, or cannot be read.
    Gguf = 1,
    /// A catalog operation failed (builds with the `catalog` feature).
    Catalog = 2,
    /// The session's context cannot hold the tokens.
    ContextFull = 3,
    /// The model could not be built or run, or a session parameter is invalid.
    Model = 4,
    /// The tokenizer or the chat template failed.
    Tokenizer = 5,
    /// A sampling parameter is out of range.
    Sampling = 6,
    /// An argument is null, misaligned, not UTF-8 or out of range, or the session is in use by
    /// another call.
    InvalidArgument = 7,
    /// A caller's buffer is too small; the call reports the size it needs.
    BufferTooSmall = 8,
    /// A bug: a panic was caught at the boundary, or an earlier one left the session unusable.
    Panic = 9,
    /// The HTTP server could not start or stopped on an error (builds with the `serve`
    /// feature).
    Serve = 10,
    /// A watermark key file is missing, malformed, of another scheme or vocabulary, or a
    /// detector parameter is out of range.
    Watermark = 11,
}

impl ErrorCode {
    /// Every code, in value order.
    /// cbindgen:ignore
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::Ok,
        ErrorCode::Gguf,
        ErrorCode::Catalog,
        ErrorCode::ContextFull,
        ErrorCode::Model,
        ErrorCode::Tokenizer,
        ErrorCode::Sampling,
        ErrorCode::InvalidArgument,
        ErrorCode::BufferTooSmall,
        ErrorCode::Panic,
        ErrorCode::Serve,
        ErrorCode::Watermark,
    ];

    /// The code's name as the header spells it (`RETORT_STATUS_GGUF`).
    pub fn name(self) -> &'static str {
        // Every name is ASCII, so the conversion cannot fail.
        self.c_name().to_str().unwrap_or_default()
    }

    /// [`ErrorCode::name`] as a C string.
    pub fn c_name(self) -> &'static CStr {
        match self {
            ErrorCode::Ok => c"RETORT_STATUS_OK",
            ErrorCode::Gguf => c"RETORT_STATUS_GGUF",
            ErrorCode::Catalog => c"RETORT_STATUS_CATALOG",
            ErrorCode::ContextFull => c"RETORT_STATUS_CONTEXT_FULL",
            ErrorCode::Model => c"RETORT_STATUS_MODEL",
            ErrorCode::Tokenizer => c"RETORT_STATUS_TOKENIZER",
            ErrorCode::Sampling => c"RETORT_STATUS_SAMPLING",
            ErrorCode::InvalidArgument => c"RETORT_STATUS_INVALID_ARGUMENT",
            ErrorCode::BufferTooSmall => c"RETORT_STATUS_BUFFER_TOO_SMALL",
            ErrorCode::Panic => c"RETORT_STATUS_PANIC",
            ErrorCode::Serve => c"RETORT_STATUS_SERVE",
            ErrorCode::Watermark => c"RETORT_STATUS_WATERMARK",
        }
    }
}

impl Error {
    /// The C status code of this error's kind (never [`ErrorCode::Ok`]).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Gguf(_) => ErrorCode::Gguf,
            #[cfg(feature = "catalog")]
            Error::Catalog(_) => ErrorCode::Catalog,
            Error::Model(ModelError::ContextFull { .. }) => ErrorCode::ContextFull,
            // A file that cannot be read or parsed is the same kind whoever finds it.
            Error::Model(ModelError::Gguf(_)) => ErrorCode::Gguf,
            Error::Model(_) => ErrorCode::Model,
            Error::Tokenizer(_) => ErrorCode::Tokenizer,
            Error::Sampling(_) => ErrorCode::Sampling,
            Error::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Error::BufferTooSmall { .. } => ErrorCode::BufferTooSmall,
            Error::Panic(_) => ErrorCode::Panic,
            #[cfg(feature = "serve")]
            Error::Serve(_) => ErrorCode::Serve,
            Error::Watermark(_) => ErrorCode::Watermark,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// One error of every kind, with the code it must map to.
    fn one_of_each_kind() -> Vec<(Error, ErrorCode)> {
        let mut all = vec![
            (
                Error::Gguf(GgufError::BadMagic { found: *b"GGML" }),
                ErrorCode::Gguf,
            ),
            (
                Error::Model(ModelError::ContextFull {
                    needed: 9,
                    capacity: 8,
                    train: 8192,
                }),
                ErrorCode::ContextFull,
            ),
            (
                Error::Model(ModelError::Unsupported("x".into())),
                ErrorCode::Model,
            ),
            (
                Error::Model(ModelError::Gguf(GgufError::BadMagic { found: [0; 4] })),
                ErrorCode::Gguf,
            ),
            (
                Error::Tokenizer(TokenizerError::EmptyVocab),
                ErrorCode::Tokenizer,
            ),
            (
                Error::Sampling(SamplingError {
                    name: "top_p",
                    value: "2".into(),
                    rule: "must be in (0, 1]",
                }),
                ErrorCode::Sampling,
            ),
            (
                Error::InvalidArgument {
                    name: "ids",
                    reason: "is NULL".into(),
                },
                ErrorCode::InvalidArgument,
            ),
            (
                Error::BufferTooSmall {
                    name: "ids",
                    needed: 3,
                    capacity: 2,
                },
                ErrorCode::BufferTooSmall,
            ),
            (Error::Panic("bug".into()), ErrorCode::Panic),
            (
                Error::Watermark(WatermarkError::Exists {
                    path: "key.toml".into(),
                }),
                ErrorCode::Watermark,
            ),
        ];
        #[cfg(feature = "serve")]
        all.push((
            Error::Serve(crate::serve::ServeError::BadParam("x".into())),
            ErrorCode::Serve,
        ));
        #[cfg(feature = "catalog")]
        all.push((Error::Catalog(CatalogError::NoCacheDir), ErrorCode::Catalog));
        all
    }

    #[test]
    fn every_kind_has_its_own_code_and_every_code_a_kind() {
        let mut seen = HashSet::new();
        for (error, code) in one_of_each_kind() {
            assert_eq!(error.code(), code, "{error}");
            assert_ne!(code, ErrorCode::Ok);
            seen.insert(code);
        }
        let expected: HashSet<ErrorCode> = ErrorCode::ALL
            .into_iter()
            .filter(|&c| c != ErrorCode::Ok)
            .filter(|&c| cfg!(feature = "catalog") || c != ErrorCode::Catalog)
            .filter(|&c| cfg!(feature = "serve") || c != ErrorCode::Serve)
            .collect();
        assert_eq!(
            seen, expected,
            "an error code without an error kind, or the reverse"
        );
    }

    #[test]
    fn codes_are_distinct_in_value_order_and_named_as_in_the_header() {
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(code as i32, i as i32, "{code:?}");
            assert!(code.name().starts_with("RETORT_STATUS_"));
        }
        let names: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }
}
