//! Opening a model file for generation: the weights and the tokenizer, built side by side.
//!
//! Both take real time at load. The weights are parsed, checked and repacked
//! ([`Model::open_with`]); the tokenizer is built from the vocabulary in the metadata, and for a
//! large vocabulary that is as long: Gemma 3's 262 144 SentencePiece pieces imply about a
//! million candidate merges, each looked up in the vocabulary. Neither needs the other, so
//! [`open_model_and_tokenizer`] builds the tokenizer on a thread of its own while the weights
//! load, and the time to the first token pays for the longer of the two instead of both.

use std::path::Path;

use crate::gguf::GgufFile;
use crate::model::{LoadParams, Model};
use crate::tokenizer::{GgufVocab, Tokenizer};
use crate::Error;

/// Opens the model at `path` with `params` and builds its tokenizer at the same time. The
/// result is the same as [`Model::open_with`] followed by [`Tokenizer::from_gguf`]; an error of
/// the weights is reported before one of the tokenizer.
pub fn open_model_and_tokenizer(
    path: impl AsRef<Path>,
    params: &LoadParams,
) -> Result<(Model, Tokenizer), Error> {
    let file = GgufFile::open(path)?;
    let vocab = GgufVocab::from_gguf(&file);
    std::thread::scope(|scope| {
        let tokenizer = scope.spawn(move || Tokenizer::from_vocab(&vocab?));
        let model = Model::from_gguf_with(file, params);
        let tokenizer = tokenizer
            .join()
            .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
        Ok((model?, tokenizer?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let Err(err) = open_model_and_tokenizer("/no/such/model.gguf", &LoadParams::default())
        else {
            panic!("a missing file opened");
        };
        assert!(err.to_string().contains("/no/such/model.gguf"), "{err}");
    }
}
