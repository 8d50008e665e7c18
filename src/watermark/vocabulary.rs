//! A vocabulary's identity, so a key bound to one tokenizer is never used with another.

use serde::{Deserialize, Serialize};

use crate::tokenizer::Tokenizer;

/// BLAKE3 `derive_key` context for vocabulary fingerprints.
const FINGERPRINT_CONTEXT: &str = "retort 2026-12-06 watermark v1: vocabulary fingerprint";

/// How many tokens a vocabulary has and a BLAKE3 fingerprint of every token's text, in id order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocabularyId {
    /// Tokens in the vocabulary.
    pub tokens: u32,
    /// 32 hex digits of BLAKE3 over the length-prefixed token texts.
    pub fingerprint: String,
}

impl VocabularyId {
    /// The identity of a list of token texts, in id order.
    pub fn of_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> VocabularyId {
        let mut hasher = blake3::Hasher::new_derive_key(FINGERPRINT_CONTEXT);
        let mut n = 0u32;
        for t in texts {
            hasher.update(&(t.len() as u64).to_le_bytes());
            hasher.update(t.as_bytes());
            n = n.saturating_add(1);
        }
        hasher.update(&u64::from(n).to_le_bytes());
        VocabularyId {
            tokens: n,
            fingerprint: hex::encode(&hasher.finalize().as_bytes()[..16]),
        }
    }

    /// The identity of a tokenizer's vocabulary.
    pub fn of(tok: &Tokenizer) -> VocabularyId {
        let texts = (0..tok.n_vocab() as u32).map(|id| tok.token_text(id).unwrap_or(""));
        VocabularyId::of_texts(texts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_boundaries_matter() {
        let a = VocabularyId::of_texts(["ab", "c"]);
        assert_eq!(a.tokens, 2);
        assert_ne!(a, VocabularyId::of_texts(["a", "bc"]));
        assert_ne!(a, VocabularyId::of_texts(["c", "ab"]));
        assert_eq!(a, VocabularyId::of_texts(["ab", "c"]));
        assert_eq!(a.fingerprint.len(), 32);
    }
}
