//! A bounds-checked cursor over the file's bytes: every read can fail with the number of bytes
//! wanted and the number left, and no count from the file drives an allocation unchecked.

use super::error::GgufError;

/// Reads little-endian values from a byte slice, tracking the absolute offset.
#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    /// Absolute offset of the next byte.
    pub(crate) fn pos(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes left after the cursor.
    pub(crate) fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    /// The next `n` bytes, or a `Truncated` error naming `what`.
    pub(crate) fn take(
        &mut self,
        n: u64,
        what: impl FnOnce() -> String,
    ) -> Result<&'a [u8], GgufError> {
        if n > self.remaining() {
            return Err(GgufError::Truncated {
                what: what(),
                offset: self.pos(),
                wanted: n,
                available: self.remaining(),
            });
        }
        let start = self.pos;
        // n <= remaining, which fits in usize.
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: impl FnOnce() -> String,
    ) -> Result<[u8; N], GgufError> {
        let b = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: impl FnOnce() -> String) -> Result<u8, GgufError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: impl FnOnce() -> String) -> Result<u16, GgufError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: impl FnOnce() -> String) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: impl FnOnce() -> String) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Reads a count and checks that the remaining bytes could hold `count` items of at least
    /// `min_item_bytes` each, so that a hostile count never drives an allocation.
    pub(crate) fn count(
        &mut self,
        min_item_bytes: u64,
        what: impl Fn() -> String,
    ) -> Result<u64, GgufError> {
        let offset = self.pos();
        let count = self.u64(&what)?;
        let available = self.remaining();
        let max = available / min_item_bytes.max(1);
        if count > max {
            return Err(GgufError::CountTooLarge {
                what: what(),
                offset,
                count,
                max,
                available,
            });
        }
        Ok(count)
    }

    /// A GGUF string: u64 length, then that many UTF-8 bytes, borrowed from the file.
    pub(crate) fn str(&mut self, what: impl Fn() -> String) -> Result<&'a str, GgufError> {
        let len = self.count(1, || format!("length of {}", what()))?;
        let start = self.pos();
        let bytes = self.take(len, &what)?;
        std::str::from_utf8(bytes).map_err(|_| GgufError::BadUtf8 {
            what: what(),
            offset: start,
        })
    }

    /// A GGUF string, owned.
    pub(crate) fn string(&mut self, what: impl Fn() -> String) -> Result<String, GgufError> {
        self.str(what).map(str::to_owned)
    }

    /// The cursor's position rounded up to a multiple of `alignment` (non-zero); saturates.
    pub(crate) fn aligned_pos(&self, alignment: u64) -> u64 {
        self.pos().div_ceil(alignment).saturating_mul(alignment)
    }
}
