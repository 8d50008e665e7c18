//! The watermark's one error type: key files, parameters, vocabularies.

use std::path::PathBuf;

/// Why a key could not be made, loaded, saved or used.
#[derive(Debug, thiserror::Error)]
pub enum WatermarkError {
    /// The key file could not be read or written.
    #[error("key file '{path}': {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The key file exists already; keys are never overwritten (a lost key is lost provenance).
    #[error("key file '{path}' already exists; refusing to overwrite a key (remove it or choose another path)")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The key file is not valid TOML, or lacks a field, or has a field of the wrong type.
    #[error("key file '{path}' is malformed: {reason}")]
    Malformed {
        /// The file (empty when parsed from a string).
        path: PathBuf,
        /// What the parser said, with the line.
        reason: String,
    },
    /// The key file is something else, or of a format version this build does not read.
    #[error("'{path}' is not a Retort watermark key file: {reason}")]
    NotAKeyFile {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The key file names a scheme this build does not know, or its parameters belong to
    /// another scheme.
    #[error("key file '{path}': {reason}")]
    WrongScheme {
        /// The file.
        path: PathBuf,
        /// What is wrong with the scheme.
        reason: String,
    },
    /// The key file's stored id does not match its secret: it was edited or damaged.
    #[error("key file '{path}': stored key_id {stored} does not match the secret (its id is {computed}); the file was edited or damaged")]
    KeyIdMismatch {
        /// The file.
        path: PathBuf,
        /// The id written in the file.
        stored: String,
        /// The id of the secret in the file.
        computed: String,
    },
    /// A scheme or detector parameter outside its range.
    #[error("invalid watermark parameter {name} = {value}: {rule}")]
    BadParam {
        /// The parameter.
        name: &'static str,
        /// Its value, as text.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The key is bound to another vocabulary than the tokenizer in use.
    #[error("the key is bound to a vocabulary of {expected_tokens} tokens (fingerprint {expected}), but this model's has {found_tokens} (fingerprint {found}): ids from another tokenizer mean nothing to this key")]
    VocabularyMismatch {
        /// Tokens in the key's vocabulary.
        expected_tokens: u32,
        /// The key's vocabulary fingerprint.
        expected: String,
        /// Tokens in the model's vocabulary.
        found_tokens: u32,
        /// The model's vocabulary fingerprint.
        found: String,
    },
    /// The operating system could not give random bytes for a new key.
    #[error("cannot get random bytes from the operating system for a new key: {0}")]
    Randomness(String),
}
