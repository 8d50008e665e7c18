//! The metadata table and its typed accessors.

use std::collections::HashMap;

use super::error::GgufError;
use super::string_array::StringArray;
use super::value::{MetaArray, MetaValue};

/// Key/value metadata in file order, with typed accessors that fail with a clear error for a
/// missing or mistyped key.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    entries: Vec<(String, MetaValue)>,
    index: HashMap<String, usize>,
}

impl Metadata {
    /// Adds an entry; `false` if the key is already present (nothing is replaced).
    pub(crate) fn insert(&mut self, key: String, value: MetaValue) -> bool {
        if self.index.contains_key(&key) {
            return false;
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
        true
    }

    /// All entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &MetaValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    fn require(&self, key: &str) -> Result<&MetaValue, GgufError> {
        self.get(key).ok_or_else(|| GgufError::MissingKey {
            key: key.to_owned(),
        })
    }

    fn wrong(key: &str, expected: &'static str, found: &MetaValue) -> GgufError {
        GgufError::WrongType {
            key: key.to_owned(),
            expected,
            found: found.type_name(),
        }
    }

    fn integer<T: TryFrom<i128>>(&self, key: &str, expected: &'static str) -> Result<T, GgufError> {
        let v = self.require(key)?;
        v.as_i128()
            .and_then(|i| T::try_from(i).ok())
            .ok_or_else(|| Self::wrong(key, expected, v))
    }

    /// An integer that fits in u32 (stored as any integer type).
    pub fn get_u32(&self, key: &str) -> Result<u32, GgufError> {
        self.integer(key, "an integer that fits in u32")
    }

    /// An integer that fits in u64 (stored as any integer type).
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.integer(key, "an integer that fits in u64")
    }

    /// An integer that fits in i32 (stored as any integer type).
    pub fn get_i32(&self, key: &str) -> Result<i32, GgufError> {
        self.integer(key, "an integer that fits in i32")
    }

    /// A float (stored as f32 or f64).
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        let v = self.require(key)?;
        v.as_f64()
            .map(|f| f as f32)
            .ok_or_else(|| Self::wrong(key, "a float", v))
    }

    /// A boolean.
    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        match self.require(key)? {
            MetaValue::Bool(b) => Ok(*b),
            v => Err(Self::wrong(key, "bool", v)),
        }
    }

    /// A string.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        match self.require(key)? {
            MetaValue::String(s) => Ok(s),
            v => Err(Self::wrong(key, "string", v)),
        }
    }

    /// An array of any element type.
    pub fn get_array(&self, key: &str) -> Result<&MetaArray, GgufError> {
        match self.require(key)? {
            MetaValue::Array(a) => Ok(a),
            v => Err(Self::wrong(key, "array", v)),
        }
    }

    /// An array of strings.
    pub fn get_str_array(&self, key: &str) -> Result<&StringArray, GgufError> {
        match self.require(key)? {
            MetaValue::Array(MetaArray::String(a)) => Ok(a),
            v => Err(Self::wrong(key, "array<string>", v)),
        }
    }

    /// An array of i32.
    pub fn get_i32_array(&self, key: &str) -> Result<&[i32], GgufError> {
        match self.require(key)? {
            MetaValue::Array(MetaArray::I32(a)) => Ok(a),
            v => Err(Self::wrong(key, "array<i32>", v)),
        }
    }

    /// An array of f32.
    pub fn get_f32_array(&self, key: &str) -> Result<&[f32], GgufError> {
        match self.require(key)? {
            MetaValue::Array(MetaArray::F32(a)) => Ok(a),
            v => Err(Self::wrong(key, "array<f32>", v)),
        }
    }

    /// `Ok(None)` when the key is absent; an error only when present with the wrong type.
    pub fn opt<'a, T>(
        &'a self,
        key: &str,
        get: impl FnOnce(&'a Self, &str) -> Result<T, GgufError>,
    ) -> Result<Option<T>, GgufError> {
        if self.get(key).is_some() {
            get(self, key).map(Some)
        } else {
            Ok(None)
        }
    }
}
