//! A key file made ready to use: the stage the sampler chain runs and the detector scores.

use std::fmt;
use std::path::Path;

use super::distortion_free::DistortionFree;
use super::error::WatermarkError;
use super::green_list::GreenList;
use super::key::KeyId;
use super::key_file::KeyFile;
use super::prf::Prf;
use super::scheme::Scheme;
use super::vocabulary::VocabularyId;
use crate::sampling::SamplerParams;
use crate::tokenizer::Tokenizer;

/// A watermark: a key, its scheme and the keyed functions derived from it. Put it in
/// [`SamplerParams::watermark`] to mark generated text; give it to a
/// [`Detector`](super::Detector) to look for the mark.
///
/// `Debug` shows the key id and the scheme, never the secret.
#[derive(Clone)]
pub struct Watermark {
    key_file: KeyFile,
    key_id: KeyId,
    prf: Prf,
}

impl Watermark {
    /// The watermark a key file describes (its parameters are checked).
    pub fn new(key_file: KeyFile) -> Result<Watermark, WatermarkError> {
        key_file.scheme.validate()?;
        Ok(Watermark {
            prf: Prf::new(&key_file.key),
            key_id: key_file.key.id(),
            key_file,
        })
    }

    /// Loads a key file (see [`KeyFile::load`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Watermark, WatermarkError> {
        Watermark::new(KeyFile::load(path)?)
    }

    /// The key file this watermark was made from.
    pub fn key_file(&self) -> &KeyFile {
        &self.key_file
    }

    /// The key's public id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The scheme and its parameters.
    pub fn scheme(&self) -> &Scheme {
        &self.key_file.scheme
    }

    /// The keyed functions.
    pub fn prf(&self) -> &Prf {
        &self.prf
    }

    /// Checks that the key may be used with `vocabulary`: a key bound to another vocabulary is an
    /// error; an unbound key fits any.
    pub fn check_vocabulary(&self, vocabulary: &VocabularyId) -> Result<(), WatermarkError> {
        match &self.key_file.vocabulary {
            Some(bound) if bound != vocabulary => Err(WatermarkError::VocabularyMismatch {
                expected_tokens: bound.tokens,
                expected: bound.fingerprint.clone(),
                found_tokens: vocabulary.tokens,
                found: vocabulary.fingerprint.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// [`Watermark::check_vocabulary`] for a tokenizer's vocabulary.
    pub fn check_tokenizer(&self, tok: &Tokenizer) -> Result<(), WatermarkError> {
        if self.key_file.vocabulary.is_none() {
            return Ok(());
        }
        self.check_vocabulary(&VocabularyId::of(tok))
    }

    /// Why text sampled with `params` would carry no mark, if it would not: a distortion-free
    /// mark lives in the sampler's randomness, which greedy decoding (temperature 0) and top-k 1
    /// do not have. (The green list marks greedy text too: the boost moves the arg-max.)
    pub fn limitation(&self, params: &SamplerParams) -> Option<&'static str> {
        match self.scheme() {
            Scheme::DistortionFree(_) if params.temperature == 0.0 => Some(
                "temperature 0 (greedy) leaves no choice to the key: a distortion-free \
                 watermark cannot be carried, so this text is NOT watermarked",
            ),
            Scheme::DistortionFree(_) if params.top_k == 1 => Some(
                "top-k 1 leaves no choice to the key: a distortion-free watermark cannot be \
                 carried, so this text is NOT watermarked",
            ),
            _ => None,
        }
    }

    pub(crate) fn green_list(&self) -> Option<GreenList> {
        match self.scheme() {
            Scheme::GreenList(p) => Some(GreenList::new(self.prf.clone(), *p)),
            Scheme::DistortionFree(_) => None,
        }
    }

    pub(crate) fn distortion_free(&self) -> Option<DistortionFree> {
        match self.scheme() {
            Scheme::DistortionFree(p) => Some(DistortionFree::new(self.prf.clone(), *p)),
            Scheme::GreenList(_) => None,
        }
    }
}

impl PartialEq for Watermark {
    fn eq(&self, other: &Self) -> bool {
        self.key_file == other.key_file
    }
}

impl fmt::Debug for Watermark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watermark")
            .field("key_id", &self.key_id)
            .field("scheme", self.scheme())
            .finish_non_exhaustive()
    }
}
