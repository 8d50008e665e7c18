//! Text to token ids and back, from a GGUF model's own vocabulary.
//!
//! [`Tokenizer::from_vocab`] turns the `tokenizer.ggml.*` metadata ([`GgufVocab`]) into a
//! `tokenizers` tokenizer the way llama.cpp reads it: byte-level BPE with the pre-tokenizer of the
//! vocabulary's `pre` family (`gpt2` models), or SentencePiece BPE with byte fallback (`llama`
//! models). Control tokens (`<|im_start|>`, `<start_of_turn>`) are matched whole as special
//! tokens, user-defined ones whole as ordinary tokens. Decoding, [`StreamDecoder`] and
//! [`Tokenizer::token_to_piece`] work on each token's raw bytes, so nothing depends on how the
//! backend would re-assemble text. [`ChatTemplate`] renders `tokenizer.chat_template`.

mod bpe;
pub mod chat_template;
pub mod gguf_vocab;
mod spm;
pub mod stream;

use std::collections::HashMap;

use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::{AddedToken, NormalizerWrapper};

pub use chat_template::{ChatMessage, ChatTemplate, ChatTemplateParams};
pub use gguf_vocab::{GgufVocab, TokenType};
pub use stream::StreamDecoder;

/// Everything that can go wrong building or using a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// `tokenizer.ggml.model` names a kind this crate does not implement.
    #[error("unsupported tokenizer model {0:?} (supported: \"gpt2\", \"llama\")")]
    UnsupportedModel(String),
    /// `tokenizer.ggml.pre` names a pre-tokenizer family this crate does not implement.
    #[error("unsupported pre-tokenizer {0:?} for a gpt2 vocabulary")]
    UnsupportedPreTokenizer(String),
    /// The vocabulary has no tokens.
    #[error("the vocabulary has no tokens")]
    EmptyVocab,
    /// More tokens than a `u32` id can name.
    #[error("the vocabulary has {0} tokens, more than u32 ids can name")]
    VocabTooLarge(usize),
    /// A per-token array does not have one entry per token.
    #[error("{key} has {got} entries but the vocabulary has {expected} tokens")]
    LengthMismatch {
        /// The metadata key.
        key: &'static str,
        /// Entries found.
        got: usize,
        /// Tokens in the vocabulary.
        expected: usize,
    },
    /// A token type code llama.cpp does not define.
    #[error("token {id} has type code {code}, which is not a llama.cpp token type")]
    BadTokenType {
        /// The token id.
        id: usize,
        /// The code found.
        code: i32,
    },
    /// A special token id (bos, eos, ...) past the end of the vocabulary.
    #[error("{what} token id {id} is out of range for a vocabulary of {n_vocab} tokens")]
    SpecialIdOutOfRange {
        /// Which special token.
        what: &'static str,
        /// The id found.
        id: u32,
        /// Tokens in the vocabulary.
        n_vocab: usize,
    },
    /// A merge that is not two tokens separated by one space.
    #[error("merge {index} ({merge:?}) is not two tokens separated by one space")]
    MalformedMerge {
        /// Position in `tokenizer.ggml.merges`.
        index: usize,
        /// The merge text.
        merge: String,
    },
    /// A merge naming a token (or joining into one) that is not in the vocabulary.
    #[error("merge {index} ({merge:?}) needs token {token:?}, which is not in the vocabulary")]
    MergeUnknownToken {
        /// Position in `tokenizer.ggml.merges`.
        index: usize,
        /// The merge text.
        merge: String,
        /// The missing token.
        token: String,
    },
    /// A token id past the end of the vocabulary.
    #[error("token id {id} is out of range for a vocabulary of {n_vocab} tokens")]
    TokenIdOutOfRange {
        /// The id.
        id: u32,
        /// Tokens in the vocabulary.
        n_vocab: usize,
    },
    /// The GGUF metadata could not be read into a [`GgufVocab`].
    #[error("GGUF tokenizer metadata: {0}")]
    Metadata(#[from] crate::gguf::GgufError),
    /// The `tokenizers` backend refused the model or the text.
    #[error("tokenizer backend: {0}")]
    Backend(String),
    /// The chat template failed to compile or render.
    #[error("chat template: {0}")]
    Template(String),
}

/// Control-token texts that end a turn, as llama.cpp recognises them.
const END_OF_TURN_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|eom_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<EOT>",
];

/// Which algorithm the vocabulary uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenizerKind {
    /// Byte-level BPE with merges (`tokenizer.ggml.model = "gpt2"`).
    ByteLevelBpe,
    /// SentencePiece BPE from scores, with byte fallback (`tokenizer.ggml.model = "llama"`).
    SentencePiece,
}

/// A model's tokenizer: encode, decode, and the special tokens generation needs.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    kind: TokenizerKind,
    /// The raw bytes each token stands for, by id.
    pieces: Vec<Vec<u8>>,
    /// The longest of `pieces`, in bytes.
    max_piece_len: usize,
    /// Each token's type, by id.
    types: Vec<TokenType>,
    /// Token text by id, as the vocabulary spells it.
    texts: Vec<String>,
    bos_id: Option<u32>,
    eos_id: Option<u32>,
    eot_id: Option<u32>,
    /// Tokens that end generation: eos, eot, and the end-of-turn markers found in the vocabulary.
    end_of_generation: Vec<u32>,
    add_bos: bool,
    add_eos: bool,
    /// Bytes some token stands for on its own (a byte-level token, or a `<0xAB>` fallback
    /// piece); text needing any other byte cannot be encoded without loss.
    byte_covered: [bool; 256],
    /// SentencePiece vocabularies that prefix a space on encode drop it again on decode.
    strip_leading_space: bool,
    chat_template: Option<String>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("kind", &self.kind)
            .field("n_vocab", &self.pieces.len())
            .field("bos_id", &self.bos_id)
            .field("eos_id", &self.eos_id)
            .field("add_bos", &self.add_bos)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// Builds the tokenizer of a GGUF file (its `tokenizer.*` metadata).
    pub fn from_gguf(file: &crate::gguf::GgufFile) -> Result<Tokenizer, TokenizerError> {
        Tokenizer::from_vocab(&GgufVocab::from_gguf(file)?)
    }

    /// Builds the tokenizer a GGUF vocabulary describes.
    pub fn from_vocab(vocab: &GgufVocab) -> Result<Tokenizer, TokenizerError> {
        vocab.validate()?;
        let types: Vec<TokenType> = (0..vocab.len()).map(|id| vocab.token_type(id)).collect();
        let (kind, mut inner, pieces, strip_leading_space): (_, _, Vec<Vec<u8>>, _) =
            match vocab.model.as_str() {
                "gpt2" => {
                    let (model, pre_tokenizer) = bpe::build(vocab)?;
                    let mut inner = tokenizers::Tokenizer::new(model);
                    inner.with_pre_tokenizer(Some(pre_tokenizer));
                    let char_to_byte: HashMap<char, u8> = bpe::byte_to_char_table()
                        .iter()
                        .enumerate()
                        .map(|(b, &c)| (c, b as u8))
                        .collect();
                    let pieces = vocab
                        .tokens
                        .iter()
                        .zip(&types)
                        .map(|(token, ty)| match ty {
                            TokenType::Normal | TokenType::Byte => {
                                bpe::byte_level_piece(token, &char_to_byte)
                            }
                            _ => token.as_bytes().to_vec(),
                        })
                        .collect();
                    (TokenizerKind::ByteLevelBpe, inner, pieces, false)
                }
                "llama" => {
                    let model = spm::build(vocab)?;
                    let mut inner = tokenizers::Tokenizer::new(model);
                    let space_prefix = vocab.add_space_prefix.unwrap_or(true);
                    let replace = Replace::new(" ", spm::SPACE_MARK.to_string())
                        .map_err(|e| TokenizerError::Backend(e.to_string()))?;
                    let normalizer: NormalizerWrapper = if space_prefix {
                        NormalizerSequence::new(vec![
                            Prepend::new(spm::SPACE_MARK.to_string()).into(),
                            replace.into(),
                        ])
                        .into()
                    } else {
                        replace.into()
                    };
                    inner.with_normalizer(Some(normalizer));
                    let pieces = vocab
                        .tokens
                        .iter()
                        .zip(&types)
                        .map(|(token, &ty)| spm::piece_bytes(token, ty))
                        .collect();
                    (TokenizerKind::SentencePiece, inner, pieces, space_prefix)
                }
                other => return Err(TokenizerError::UnsupportedModel(other.to_string())),
            };

        // Control and unknown tokens are special; user-defined ones are matched whole but are
        // ordinary text. Both are looked for in the raw text, before any normalization.
        let mut special = Vec::new();
        let mut user_defined = Vec::new();
        for (token, ty) in vocab.tokens.iter().zip(&types) {
            if token.is_empty() {
                continue;
            }
            match ty {
                TokenType::Control | TokenType::Unknown => {
                    special.push(AddedToken::from(token.clone(), true).normalized(false))
                }
                TokenType::UserDefined => {
                    user_defined.push(AddedToken::from(token.clone(), false).normalized(false))
                }
                _ => {}
            }
        }
        inner.add_special_tokens(&special);
        inner.add_tokens(&user_defined);

        let mut byte_covered = [false; 256];
        for (piece, ty) in pieces.iter().zip(&types) {
            if let ([b], TokenType::Normal | TokenType::Byte) = (piece.as_slice(), ty) {
                byte_covered[usize::from(*b)] = true;
            }
        }

        // Chat models end a reply with an end-of-turn token that the metadata does not always
        // name (Gemma's <end_of_turn>); llama.cpp recognises these by their text.
        let mut end_of_generation: Vec<u32> =
            [vocab.eos_id, vocab.eot_id].into_iter().flatten().collect();
        for (id, (token, ty)) in vocab.tokens.iter().zip(&types).enumerate() {
            if *ty == TokenType::Control && END_OF_TURN_TEXTS.contains(&token.as_str()) {
                end_of_generation.push(id as u32);
            }
        }
        end_of_generation.sort_unstable();
        end_of_generation.dedup();

        Ok(Tokenizer {
            inner,
            kind,
            max_piece_len: pieces.iter().map(Vec::len).max().unwrap_or(0),
            pieces,
            types,
            texts: vocab.tokens.clone(),
            bos_id: vocab.bos_id,
            eos_id: vocab.eos_id,
            eot_id: vocab.eot_id,
            end_of_generation,
            byte_covered,
            add_bos: vocab.add_bos,
            add_eos: vocab.add_eos,
            strip_leading_space,
            chat_template: vocab.chat_template.clone(),
        })
    }

    /// Which algorithm this vocabulary uses.
    pub fn kind(&self) -> TokenizerKind {
        self.kind
    }

    /// Number of tokens in the vocabulary.
    pub fn n_vocab(&self) -> usize {
        self.pieces.len()
    }

    /// Beginning-of-sequence token.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// Whether encoding with `add_special` puts BOS first (the vocabulary's `add_bos_token`).
    pub fn adds_bos(&self) -> bool {
        self.add_bos && self.bos_id.is_some()
    }

    /// End-of-sequence token.
    pub fn eos_id(&self) -> Option<u32> {
        self.eos_id
    }

    /// End-of-turn token, when the vocabulary names one.
    pub fn eot_id(&self) -> Option<u32> {
        self.eot_id
    }

    /// The chat template stored with the vocabulary.
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// Tokens that end generation: eos, eot, and control tokens spelled as a known end-of-turn
    /// marker (`<|im_end|>`, `<end_of_turn>`, `<|eot_id|>`, `<|endoftext|>`, ...), sorted.
    pub fn end_of_generation_ids(&self) -> &[u32] {
        &self.end_of_generation
    }

    /// True for tokens that end generation (see [`Tokenizer::end_of_generation_ids`]).
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.end_of_generation.binary_search(&id).is_ok()
    }

    /// The type of token `id`.
    pub fn token_type(&self, id: u32) -> Result<TokenType, TokenizerError> {
        self.check_id(id)?;
        Ok(self.types[id as usize])
    }

    /// Token text of `id` as the vocabulary spells it (`Ġthe`, `▁the`, `<0x0A>`).
    pub fn token_text(&self, id: u32) -> Result<&str, TokenizerError> {
        self.check_id(id)?;
        Ok(&self.texts[id as usize])
    }

    /// The id of a token spelled exactly `text` in the vocabulary.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.inner.token_to_id(text)
    }

    /// Encodes `text`. With `add_special`, adds BOS (and EOS) when the vocabulary asks for them.
    /// Special tokens written in the text (`<|im_start|>`) always become their single id.
    ///
    /// A byte that no token stands for (see [`Tokenizer::missing_bytes`]) is dropped, as the
    /// reference tokenizers do; SmolLM2's vocabulary, for one, lacks 21 of the 256 bytes.
    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>, TokenizerError> {
        let encoding = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| TokenizerError::Backend(e.to_string()))?;
        let body = encoding.get_ids();
        let mut ids = Vec::with_capacity(body.len() + 2);
        if add_special && self.add_bos {
            ids.extend(self.bos_id);
        }
        ids.extend_from_slice(body);
        if add_special && self.add_eos {
            ids.extend(self.eos_id);
        }
        Ok(ids)
    }

    /// Encodes a text of any length without special tokens, as a verifier reads it: whole up to
    /// 1 MiB, longer texts in pieces of about 1 MiB cut after a newline (a cut can only change
    /// the tokens of a run of newlines, where the pre-tokenizer splits anyway), so memory stays
    /// bounded by the piece, not the text.
    pub fn encode_long(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        const PIECE: usize = 1 << 20;
        let mut ids = Vec::with_capacity(text.len() / 3);
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = rest.len();
            if rest.len() > PIECE {
                let mut at = PIECE;
                while !rest.is_char_boundary(at) {
                    at -= 1;
                }
                cut = rest[..at].rfind('\n').map_or(at, |i| i + 1);
            }
            ids.extend(self.encode(&rest[..cut], false)?);
            rest = &rest[cut..];
        }
        Ok(ids)
    }

    /// The distinct bytes of `text` that no single token stands for, ascending. Text made of
    /// other bytes encodes without loss (when a character's bytes only exist inside longer
    /// tokens, BPE may still find them; an empty answer is the guarantee, not a non-empty one
    /// the loss).
    pub fn missing_bytes(&self, text: &str) -> Vec<u8> {
        let mut seen = [false; 256];
        for &b in text.as_bytes() {
            seen[usize::from(b)] = true;
        }
        (0..=255u8)
            .filter(|&b| seen[usize::from(b)] && !self.byte_covered[usize::from(b)])
            .collect()
    }

    /// The raw bytes token `id` stands for. Control tokens give their text only with
    /// `render_special`; otherwise they give nothing. A piece may be part of a UTF-8 character.
    pub fn token_to_piece(&self, id: u32, render_special: bool) -> Result<&[u8], TokenizerError> {
        self.check_id(id)?;
        let id = id as usize;
        match self.types[id] {
            TokenType::Control | TokenType::Unknown | TokenType::Unused if !render_special => {
                Ok(&[])
            }
            _ => Ok(&self.pieces[id]),
        }
    }

    /// The longest byte string any token stands for (special tokens' text included).
    pub fn max_piece_len(&self) -> usize {
        self.max_piece_len
    }

    /// Decodes `ids` to text. Control tokens appear only with `render_special`. Bytes that do not
    /// form valid UTF-8 become U+FFFD.
    pub fn decode(&self, ids: &[u32], render_special: bool) -> Result<String, TokenizerError> {
        // Sized first, so that decoding costs one or two allocations whatever its length.
        let mut len = 0;
        for &id in ids {
            len += self.token_to_piece(id, render_special)?.len();
        }
        let mut bytes = Vec::with_capacity(len);
        for &id in ids {
            bytes.extend_from_slice(self.token_to_piece(id, render_special)?);
        }
        let mut text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        if self.strip_leading_space && text.starts_with(' ') {
            text.remove(0);
        }
        Ok(text)
    }

    /// A streaming decoder over this tokenizer: feed ids one by one, get valid UTF-8 chunks.
    pub fn stream(&self, render_special: bool) -> StreamDecoder<'_> {
        StreamDecoder::new(self, render_special)
    }

    pub(crate) fn strips_leading_space(&self) -> bool {
        self.strip_leading_space
    }

    fn check_id(&self, id: u32) -> Result<(), TokenizerError> {
        if (id as usize) < self.pieces.len() {
            Ok(())
        } else {
            Err(TokenizerError::TokenIdOutOfRange {
                id,
                n_vocab: self.pieces.len(),
            })
        }
    }
}
