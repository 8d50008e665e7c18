//! SentencePiece BPE (`tokenizer.ggml.model = "llama"`) as a `tokenizers` BPE model.
//!
//! A GGUF SentencePiece vocabulary has pieces and scores but no merges. SentencePiece's BPE
//! repeatedly joins the adjacent pair whose joined piece has the highest score; the same result
//! comes from a merge list holding every split of every piece into two pieces, ranked by the
//! joined piece's score, best first.

use std::cmp::Ordering;

use tokenizers::models::bpe::{Vocab, BPE};

use super::gguf_vocab::{GgufVocab, TokenType};
use super::TokenizerError;

/// SentencePiece's stand-in for a space.
pub(crate) const SPACE_MARK: char = '\u{2581}';

/// The byte a byte-fallback piece `<0xAB>` stands for.
pub(crate) fn byte_piece_value(token: &str) -> Option<u8> {
    let hex = token.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// One candidate merge: `left + right` joins into token `joined`.
struct Candidate<'a> {
    left: &'a str,
    right: &'a str,
    left_id: u32,
    right_id: u32,
    joined_id: u32,
    score: f32,
}

/// Best first: higher score; then the earlier joined token; then longer left piece, longer
/// right piece; then lower piece ids. (Ties beyond the score only matter for vocabularies whose
/// scores tie; the order then follows the file, as Hugging Face's converters do.)
fn rank_order(a: &Candidate<'_>, b: &Candidate<'_>) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then(a.joined_id.cmp(&b.joined_id))
        .then_with(|| b.left.chars().count().cmp(&a.left.chars().count()))
        .then_with(|| b.right.chars().count().cmp(&a.right.chars().count()))
        .then(a.left_id.cmp(&b.left_id))
        .then(a.right_id.cmp(&b.right_id))
}

/// The merge list implied by the normal pieces and their scores. `map` is the vocabulary (token
/// text to its first id).
fn merges_from_scores(
    vocab: &GgufVocab,
    map: &Vocab,
) -> Result<Vec<(String, String)>, TokenizerError> {
    if vocab.scores.len() != vocab.tokens.len() {
        return Err(TokenizerError::LengthMismatch {
            key: "tokenizer.ggml.scores",
            got: vocab.scores.len(),
            expected: vocab.tokens.len(),
        });
    }
    let normal_id = |text: &str| -> Option<u32> {
        map.get(text)
            .copied()
            .filter(|&id| vocab.token_type(id as usize) == TokenType::Normal)
    };
    let mut candidates = Vec::new();
    for (id, token) in vocab.tokens.iter().enumerate() {
        if normal_id(token) != Some(id as u32) {
            continue;
        }
        for (split, _) in token.char_indices().skip(1) {
            let (left, right) = token.split_at(split);
            if let (Some(left_id), Some(right_id)) = (normal_id(left), normal_id(right)) {
                candidates.push(Candidate {
                    left,
                    right,
                    left_id,
                    right_id,
                    joined_id: id as u32,
                    score: vocab.scores[id],
                });
            }
        }
    }
    candidates.sort_unstable_by(rank_order);
    Ok(candidates
        .into_iter()
        .map(|c| (c.left.to_string(), c.right.to_string()))
        .collect())
}

/// The BPE model for a SentencePiece vocabulary: merges from scores, byte fallback, and the
/// unknown token for characters no piece or byte covers.
pub(crate) fn build(vocab: &GgufVocab) -> Result<BPE, TokenizerError> {
    let mut map = Vocab::default();
    for (id, token) in vocab.tokens.iter().enumerate() {
        map.entry(token.clone()).or_insert(id as u32);
    }
    let merges = merges_from_scores(vocab, &map)?;
    let mut builder = BPE::builder()
        .vocab_and_merges(map, merges)
        .byte_fallback(true)
        .fuse_unk(true);
    if let Some(unk) = vocab.unk_id {
        builder = builder.unk_token(vocab.tokens[unk as usize].clone());
    }
    builder
        .build()
        .map_err(|e| TokenizerError::Backend(e.to_string()))
}

/// The raw bytes a SentencePiece piece stands for (space marks become spaces, byte pieces their
/// byte).
pub(crate) fn piece_bytes(token: &str, token_type: TokenType) -> Vec<u8> {
    match token_type {
        TokenType::Byte => match byte_piece_value(token) {
            Some(b) => vec![b],
            None => token.as_bytes().to_vec(),
        },
        TokenType::Normal => token.replace(SPACE_MARK, " ").into_bytes(),
        _ => token.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> GgufVocab {
        // Scores make "ab" the best merge, then "abc", then "bc".
        let tokens = ["<unk>", "a", "b", "c", "bc", "ab", "abc"];
        GgufVocab {
            model: "llama".into(),
            tokens: tokens.iter().map(|s| s.to_string()).collect(),
            token_types: vec![2, 1, 1, 1, 1, 1, 1],
            scores: vec![0.0, -10.0, -10.0, -10.0, -3.0, -1.0, -2.0],
            unk_id: Some(0),
            ..GgufVocab::default()
        }
    }

    #[test]
    fn merges_follow_scores() {
        let vocab = toy();
        let mut map = Vocab::default();
        for (id, token) in vocab.tokens.iter().enumerate() {
            map.insert(token.clone(), id as u32);
        }
        let merges = merges_from_scores(&vocab, &map).unwrap();
        let pairs: Vec<(&str, &str)> = merges
            .iter()
            .map(|(l, r)| (l.as_str(), r.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![("a", "b"), ("ab", "c"), ("a", "bc"), ("b", "c")]
        );
    }

    #[test]
    fn byte_pieces() {
        assert_eq!(byte_piece_value("<0x0A>"), Some(b'\n'));
        assert_eq!(byte_piece_value("<0xff>"), Some(0xFF));
        assert_eq!(byte_piece_value("<0x1>"), None);
        assert_eq!(
            piece_bytes("\u{2581}hi", TokenType::Normal),
            b" hi".to_vec()
        );
        assert_eq!(piece_bytes("<0xE4>", TokenType::Byte), vec![0xE4]);
    }
}
