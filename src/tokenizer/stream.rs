//! Incremental detokenization: token ids in, always-valid UTF-8 text out.
//!
//! A token may end in the middle of a character (byte-level BPE splits emoji and CJK across
//! tokens; SentencePiece spells unknown characters as `<0xAB>` byte tokens). The decoder holds
//! back an incomplete trailing sequence until the bytes that finish it arrive, and turns bytes
//! that can never be valid into U+FFFD exactly as [`Tokenizer::decode`] does, so the chunks
//! always concatenate to `decode` of the same ids.

use super::{Tokenizer, TokenizerError};

/// Feeds ids one at a time; see the module documentation.
#[derive(Debug)]
pub struct StreamDecoder<'t> {
    tokenizer: &'t Tokenizer,
    render_special: bool,
    /// Bytes received but not yet emitted: at most an incomplete UTF-8 sequence between calls.
    pending: Vec<u8>,
    /// The text of the last `push` or `finish`, reused so that streaming does not allocate.
    out: String,
    /// Nothing has been produced yet (the leading space of SentencePiece output is dropped).
    at_start: bool,
}

impl<'t> StreamDecoder<'t> {
    /// A decoder for `tokenizer`; control tokens are rendered only with `render_special`.
    pub fn new(tokenizer: &'t Tokenizer, render_special: bool) -> StreamDecoder<'t> {
        // Sized for the longest piece, so that no push allocates: pending holds at most an
        // incomplete character (3 bytes) and one piece; out at most those bytes each turned
        // into a 3-byte U+FFFD.
        let pending = tokenizer.max_piece_len() + 3;
        StreamDecoder {
            tokenizer,
            render_special,
            pending: Vec::with_capacity(pending),
            out: String::with_capacity(3 * pending),
            at_start: true,
        }
    }

    /// Adds token `id`; returns the text that is now complete (possibly empty), valid until the
    /// next call. Does not allocate.
    pub fn push(&mut self, id: u32) -> Result<&str, TokenizerError> {
        let mut piece = self.tokenizer.token_to_piece(id, self.render_special)?;
        if self.at_start && !piece.is_empty() {
            self.at_start = false;
            if self.tokenizer.strips_leading_space() && piece[0] == b' ' {
                piece = &piece[1..];
            }
        }
        self.pending.extend_from_slice(piece);
        Ok(self.drain(false))
    }

    /// Ends the stream: whatever incomplete sequence is left becomes U+FFFD. The text is valid
    /// until the next call.
    pub fn finish(&mut self) -> &str {
        self.drain(true)
    }

    /// True when bytes are held back waiting for the rest of a character.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    fn drain(&mut self, at_end: bool) -> &str {
        let out = &mut self.out;
        out.clear();
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(valid) => {
                    out.push_str(valid);
                    start = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid_end = start + e.valid_up_to();
                    // The slice up to valid_up_to() is valid UTF-8 by the definition of the error
                    // (so the lossy view borrows and never allocates).
                    out.push_str(&String::from_utf8_lossy(&self.pending[start..valid_end]));
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start = valid_end + bad;
                        }
                        None if at_end => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start = self.pending.len();
                            break;
                        }
                        None => {
                            start = valid_end;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..start);
        &self.out
    }
}
