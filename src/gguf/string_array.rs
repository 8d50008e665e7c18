//! An array of strings packed end to end: the vocabulary's shape in memory.
//!
//! A GGUF vocabulary is an array of 49,152–262,144 short strings, and a BPE one adds as many
//! merges. As `Vec<String>` each costs a 24-byte handle plus its own heap block (at least 32 bytes
//! with the allocator's header): some 5 MB for SmolLM2's tokens and merges, 15 MB for Gemma 3's
//! tokens, one allocation each while the header is parsed (SmolLM2's resident heap at its bench
//! peak went 6.4 → 3.4 MB without them). Here every string's bytes sit in one buffer and each
//! string is one end offset.

use std::fmt;
use std::ops::Index;

/// Strings in one buffer, each found by its end offset. Indexing yields `&str`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StringArray {
    /// Every string's bytes, one after another.
    text: String,
    /// `ends[i]` is where string `i` ends in `text`; it starts where string `i - 1` ends.
    ends: Vec<usize>,
}

impl StringArray {
    /// An empty array with room for `strings` strings of `bytes` bytes in total.
    pub fn with_capacity(strings: usize, bytes: usize) -> StringArray {
        StringArray {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(strings),
        }
    }

    /// Appends one string.
    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends.push(self.text.len());
    }

    /// How many strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// No strings at all.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// String `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    /// The strings in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + '_ {
        (0..self.len()).map(|i| &self[i])
    }

    /// Each string as an owned `String`.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }

    /// Bytes of all the strings together.
    pub fn total_bytes(&self) -> usize {
        self.text.len()
    }
}

impl Index<usize> for StringArray {
    type Output = str;

    /// String `i`; panics past the end, as a slice does.
    fn index(&self, i: usize) -> &str {
        match self.get(i) {
            Some(s) => s,
            None => panic!("string index {i} out of range for {} strings", self.len()),
        }
    }
}

impl<'a> FromIterator<&'a str> for StringArray {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> StringArray {
        let mut a = StringArray::default();
        for s in iter {
            a.push(s);
        }
        a
    }
}

impl fmt::Debug for StringArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<const N: usize> PartialEq<[&str; N]> for StringArray {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.len() == N && self.iter().zip(other).all(|(a, b)| a == *b)
    }
}

impl<const N: usize> PartialEq<[&str; N]> for &StringArray {
    fn eq(&self, other: &[&str; N]) -> bool {
        **self == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_come_back_as_pushed_including_empty_and_multibyte_ones() {
        let words = ["<s>", "", "é", "hello", "", "日本"];
        let a: StringArray = words.iter().copied().collect();
        assert_eq!(a.len(), words.len());
        assert_eq!(a.iter().collect::<Vec<_>>(), words);
        assert_eq!(a.iter().next_back(), Some("日本"));
        for (i, w) in words.iter().enumerate() {
            assert_eq!(&a[i], *w);
            assert_eq!(a.get(i), Some(*w));
        }
        assert_eq!(a.get(words.len()), None);
        assert_eq!(
            a.total_bytes(),
            words.iter().map(|w| w.len()).sum::<usize>()
        );
        assert_eq!(a.to_vec(), words.map(String::from));
        assert_eq!(a, words);
        assert_eq!(format!("{a:?}"), format!("{words:?}"));
    }

    #[test]
    fn an_empty_array_has_nothing_to_give() {
        let a = StringArray::with_capacity(4, 16);
        assert!(a.is_empty());
        assert_eq!(a.get(0), None);
        assert_eq!(a.iter().count(), 0);
        assert_eq!(a, []);
    }

    #[test]
    #[should_panic(expected = "string index 2 out of range for 2 strings")]
    fn indexing_past_the_end_panics_like_a_slice() {
        let a: StringArray = ["a", "b"].into_iter().collect();
        let _ = &a[2];
    }
}
