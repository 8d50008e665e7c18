//! The tokenizer part of a GGUF file's metadata (`tokenizer.ggml.*`, `tokenizer.chat_template`),
//! as plain owned data.

use super::TokenizerError;
use crate::gguf::{GgufFile, Metadata, StringArray};

/// What llama.cpp's `tokenizer.ggml.token_type` says about one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// An ordinary piece of text (type 1, and 0 = undefined in older files).
    Normal,
    /// The unknown token (type 2).
    Unknown,
    /// A control token such as `<|im_start|>` or `<bos>` (type 3): matched whole, special.
    Control,
    /// A user-defined token (type 4): matched whole in raw text, but not special.
    UserDefined,
    /// A slot the vocabulary reserves but never produces (type 5).
    Unused,
    /// A byte-fallback token `<0xAB>` (type 6).
    Byte,
}

impl TokenType {
    /// The type for llama.cpp's numeric code; `None` for a code it does not define.
    pub fn from_code(code: i32) -> Option<TokenType> {
        Some(match code {
            0 | 1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => return None,
        })
    }
}

/// The vocabulary of a GGUF model, under llama.cpp's key names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GgufVocab {
    /// `tokenizer.ggml.model`: `"gpt2"` (byte-level BPE) or `"llama"` (SentencePiece).
    pub model: String,
    /// `tokenizer.ggml.pre`: the pre-tokenizer family (`"smollm"`, `"qwen2"`, `"default"`, ...).
    pub pre: Option<String>,
    /// `tokenizer.ggml.tokens`: token text by id.
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
    /// 6 byte. Empty when the file has none (every token is then normal).
    pub token_types: Vec<i32>,
    /// `tokenizer.ggml.merges`: `"left right"` pairs, best first (gpt2 only).
    pub merges: Vec<String>,
    /// `tokenizer.ggml.scores`: SentencePiece piece scores by id (llama only).
    pub scores: Vec<f32>,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos_id: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos_id: Option<u32>,
    /// `tokenizer.ggml.eot_token_id`.
    pub eot_id: Option<u32>,
    /// `tokenizer.ggml.unknown_token_id`.
    pub unk_id: Option<u32>,
    /// `tokenizer.ggml.padding_token_id`.
    pub pad_id: Option<u32>,
    /// `tokenizer.ggml.add_bos_token` (llama.cpp's default: true for llama, false for gpt2).
    pub add_bos: bool,
    /// `tokenizer.ggml.add_eos_token`.
    pub add_eos: bool,
    /// `tokenizer.ggml.add_space_prefix` (llama.cpp's default when absent: true for llama).
    pub add_space_prefix: Option<bool>,
    /// `tokenizer.chat_template`.
    pub chat_template: Option<String>,
}

impl GgufVocab {
    /// Reads the tokenizer keys of a GGUF file. Absent optional keys take llama.cpp's defaults
    /// (BOS added for `llama` vocabularies, not for `gpt2` ones); a key present with the wrong
    /// type is an error naming it.
    pub fn from_gguf(file: &GgufFile) -> Result<GgufVocab, TokenizerError> {
        GgufVocab::from_metadata(file.metadata())
    }

    /// [`GgufVocab::from_gguf`] from the metadata alone (a [`GgufHeader`](crate::gguf::GgufHeader)
    /// read without the tensor data, as the watermark verifier does).
    pub fn from_metadata(meta: &Metadata) -> Result<GgufVocab, TokenizerError> {
        let model = meta.get_str("tokenizer.ggml.model")?.to_string();
        let tokens = meta.get_str_array("tokenizer.ggml.tokens")?.to_vec();
        let opt_u32 = |key: &str| meta.opt(key, Metadata::get_u32);
        let opt_bool = |key: &str| meta.opt(key, Metadata::get_bool);
        Ok(GgufVocab {
            pre: meta
                .opt("tokenizer.ggml.pre", Metadata::get_str)?
                .map(str::to_string),
            token_types: meta
                .opt("tokenizer.ggml.token_type", Metadata::get_i32_array)?
                .map(<[i32]>::to_vec)
                .unwrap_or_default(),
            merges: meta
                .opt("tokenizer.ggml.merges", Metadata::get_str_array)?
                .map(StringArray::to_vec)
                .unwrap_or_default(),
            scores: meta
                .opt("tokenizer.ggml.scores", Metadata::get_f32_array)?
                .map(<[f32]>::to_vec)
                .unwrap_or_default(),
            bos_id: opt_u32("tokenizer.ggml.bos_token_id")?,
            eos_id: opt_u32("tokenizer.ggml.eos_token_id")?,
            eot_id: opt_u32("tokenizer.ggml.eot_token_id")?,
            unk_id: opt_u32("tokenizer.ggml.unknown_token_id")?,
            pad_id: opt_u32("tokenizer.ggml.padding_token_id")?,
            add_bos: opt_bool("tokenizer.ggml.add_bos_token")?.unwrap_or(model == "llama"),
            add_eos: opt_bool("tokenizer.ggml.add_eos_token")?.unwrap_or(false),
            add_space_prefix: opt_bool("tokenizer.ggml.add_space_prefix")?,
            chat_template: meta
                .opt("tokenizer.chat_template", Metadata::get_str)?
                .map(str::to_string),
            model,
            tokens,
        })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The type of token `id` (normal when the file gives no types).
    pub fn token_type(&self, id: usize) -> TokenType {
        self.token_types
            .get(id)
            .and_then(|&code| TokenType::from_code(code))
            .unwrap_or(TokenType::Normal)
    }

    /// Checks the parts that must agree with each other before a tokenizer is built.
    pub fn validate(&self) -> Result<(), TokenizerError> {
        let n_vocab = self.tokens.len();
        if n_vocab == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        if u32::try_from(n_vocab).is_err() {
            return Err(TokenizerError::VocabTooLarge(n_vocab));
        }
        if !self.token_types.is_empty() && self.token_types.len() != n_vocab {
            return Err(TokenizerError::LengthMismatch {
                key: "tokenizer.ggml.token_type",
                got: self.token_types.len(),
                expected: n_vocab,
            });
        }
        if let Some((index, &code)) = self
            .token_types
            .iter()
            .enumerate()
            .find(|(_, &code)| TokenType::from_code(code).is_none())
        {
            return Err(TokenizerError::BadTokenType { id: index, code });
        }
        if !self.scores.is_empty() && self.scores.len() != n_vocab {
            return Err(TokenizerError::LengthMismatch {
                key: "tokenizer.ggml.scores",
                got: self.scores.len(),
                expected: n_vocab,
            });
        }
        for (what, id) in [
            ("bos", self.bos_id),
            ("eos", self.eos_id),
            ("eot", self.eot_id),
            ("unknown", self.unk_id),
            ("padding", self.pad_id),
        ] {
            if let Some(id) = id {
                if id as usize >= n_vocab {
                    return Err(TokenizerError::SpecialIdOutOfRange { what, id, n_vocab });
                }
            }
        }
        Ok(())
    }
}
