//! Byte-level BPE (`tokenizer.ggml.model = "gpt2"`): GPT-2's byte alphabet, the file's merges,
//! and the pre-tokenizer regexes llama.cpp uses for each `tokenizer.ggml.pre` family.

use std::collections::HashMap;

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{PreTokenizerWrapper, SplitDelimiterBehavior};

use super::gguf_vocab::{GgufVocab, TokenType};
use super::TokenizerError;

/// GPT-2's split: contractions, letters, numbers, other symbols, whitespace.
const GPT2_SPLIT: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// Qwen 2's split: case-insensitive contractions, one digit at a time, punctuation runs that
/// swallow the line breaks after them.
const QWEN2_SPLIT: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Llama 3's split: like Qwen 2's, but numbers in groups of up to three digits.
const LLAMA3_SPLIT: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Splitting stage for one pre-tokenizer family: regexes applied one after the other, each
/// cutting every piece the previous one left (matches and the text between them both kept).
struct PreTokenizerSpec {
    regexes: &'static [&'static str],
    /// llama.cpp looks a whole pre-token up in the vocabulary before merging (Llama 3).
    ignore_merges: bool,
}

fn pre_tokenizer_spec(pre: Option<&str>) -> Result<PreTokenizerSpec, TokenizerError> {
    let (regexes, ignore_merges): (&'static [&'static str], bool) = match pre {
        Some(
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva",
        ) => (&[r"\p{N}", GPT2_SPLIT], false),
        Some("gpt-2" | "gpt2" | "mpt" | "olmo" | "jais" | "trillion") => (&[GPT2_SPLIT], false),
        Some("qwen2" | "stablelm2" | "deepseek-r1-qwen" | "megrez") => (&[QWEN2_SPLIT], false),
        Some(
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "pixtral" | "smaug-bpe" | "dbrx",
        ) => (&[LLAMA3_SPLIT], true),
        other => {
            return Err(TokenizerError::UnsupportedPreTokenizer(
                other.unwrap_or("<none>").to_string(),
            ))
        }
    };
    Ok(PreTokenizerSpec {
        regexes,
        ignore_merges,
    })
}

/// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes stand for
/// themselves, the others are moved to U+0100 and up in byte order.
pub(crate) fn byte_to_char_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut shifted = 0u32;
    for byte in 0..=255u8 {
        let printable = matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let code = if printable {
            u32::from(byte)
        } else {
            shifted += 1;
            255 + shifted
        };
        // Every code here is below U+0200, so it is a valid scalar value.
        table[usize::from(byte)] = char::from_u32(code).unwrap_or('\u{FFFD}');
    }
    table
}

/// The raw bytes a byte-level token stands for. Characters outside the byte alphabet (not
/// expected in a well-formed vocabulary) are kept as their own UTF-8.
pub(crate) fn byte_level_piece(token: &str, char_to_byte: &HashMap<char, u8>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(token.len());
    for c in token.chars() {
        match char_to_byte.get(&c) {
            Some(&b) => bytes.push(b),
            None => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    bytes
}

/// Splits merge `index` into its two tokens, checking both and their concatenation exist.
fn parse_merge<'a>(
    index: usize,
    merge: &'a str,
    vocab: &Vocab,
) -> Result<(&'a str, &'a str), TokenizerError> {
    let mut parts = merge.split(' ');
    let (left, right) = match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(r), None) if !l.is_empty() && !r.is_empty() => (l, r),
        _ => {
            return Err(TokenizerError::MalformedMerge {
                index,
                merge: merge.to_string(),
            })
        }
    };
    for token in [left, right] {
        if !vocab.contains_key(token) {
            return Err(TokenizerError::MergeUnknownToken {
                index,
                merge: merge.to_string(),
                token: token.to_string(),
            });
        }
    }
    let joined = format!("{left}{right}");
    if !vocab.contains_key(&joined) {
        return Err(TokenizerError::MergeUnknownToken {
            index,
            merge: merge.to_string(),
            token: joined,
        });
    }
    Ok((left, right))
}

/// The BPE model and pre-tokenizer for a gpt2-style vocabulary.
pub(crate) fn build(vocab: &GgufVocab) -> Result<(BPE, PreTokenizerWrapper), TokenizerError> {
    let spec = pre_tokenizer_spec(vocab.pre.as_deref())?;

    let mut map = Vocab::default();
    for (id, token) in vocab.tokens.iter().enumerate() {
        if vocab.token_type(id) == TokenType::Unused {
            continue;
        }
        // A duplicated token keeps its first id, as the merges can only name one.
        map.entry(token.clone()).or_insert(id as u32);
    }
    let mut merges = Vec::with_capacity(vocab.merges.len());
    for (index, merge) in vocab.merges.iter().enumerate() {
        let (left, right) = parse_merge(index, merge, &map)?;
        merges.push((left.to_string(), right.to_string()));
    }

    let model = BPE::builder()
        .vocab_and_merges(map, merges)
        .ignore_merges(spec.ignore_merges)
        .build()
        .map_err(|e| TokenizerError::Backend(e.to_string()))?;

    let mut stages: Vec<PreTokenizerWrapper> = Vec::with_capacity(spec.regexes.len() + 1);
    for regex in spec.regexes {
        let split = Split::new(
            SplitPattern::Regex((*regex).to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| TokenizerError::Backend(format!("pre-tokenizer regex {regex:?}: {e}")))?;
        stages.push(split.into());
    }
    stages.push(ByteLevel::new(false, false, false).into());
    Ok((model, Sequence::new(stages).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_gpt2s() {
        let table = byte_to_char_table();
        assert_eq!(table[usize::from(b' ')], 'Ġ');
        assert_eq!(table[usize::from(b'\n')], 'Ċ');
        assert_eq!(table[usize::from(b'A')], 'A');
        assert_eq!(table[0], 'Ā');
        let distinct: std::collections::HashSet<char> = table.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
    }

    #[test]
    fn unknown_pre_is_an_error() {
        let err = pre_tokenizer_spec(Some("no-such-family")).err().unwrap();
        assert!(err.to_string().contains("no-such-family"), "{err}");
    }
}
