//! Metadata values: the thirteen GGUF value types, arrays of them and arrays of arrays.

use std::fmt;

use super::cursor::Cursor;
use super::error::GgufError;
use super::string_array::StringArray;

/// Arrays may nest; deeper than this is refused (no real file nests more than twice).
pub const MAX_ARRAY_NESTING: usize = 8;

/// Most elements reserved up front for a collection whose length the file declares.
pub(crate) const RESERVE_LIMIT: usize = 4096;

/// One metadata value, owned (metadata is small next to the weights, which are never copied).
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    /// GGUF type 0.
    U8(u8),
    /// GGUF type 1.
    I8(i8),
    /// GGUF type 2.
    U16(u16),
    /// GGUF type 3.
    I16(i16),
    /// GGUF type 4.
    U32(u32),
    /// GGUF type 5.
    I32(i32),
    /// GGUF type 6.
    F32(f32),
    /// GGUF type 7.
    Bool(bool),
    /// GGUF type 8.
    String(String),
    /// GGUF type 9.
    Array(MetaArray),
    /// GGUF type 10.
    U64(u64),
    /// GGUF type 11.
    I64(i64),
    /// GGUF type 12.
    F64(f64),
}

/// A homogeneous metadata array.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaArray {
    /// Array of u8.
    U8(Vec<u8>),
    /// Array of i8.
    I8(Vec<i8>),
    /// Array of u16.
    U16(Vec<u16>),
    /// Array of i16.
    I16(Vec<i16>),
    /// Array of u32.
    U32(Vec<u32>),
    /// Array of i32.
    I32(Vec<i32>),
    /// Array of f32.
    F32(Vec<f32>),
    /// Array of bool.
    Bool(Vec<bool>),
    /// Array of strings, packed in one buffer.
    String(StringArray),
    /// Array of arrays.
    Array(Vec<MetaArray>),
    /// Array of u64.
    U64(Vec<u64>),
    /// Array of i64.
    I64(Vec<i64>),
    /// Array of f64.
    F64(Vec<f64>),
}

impl MetaArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            MetaArray::U8(v) => v.len(),
            MetaArray::I8(v) => v.len(),
            MetaArray::U16(v) => v.len(),
            MetaArray::I16(v) => v.len(),
            MetaArray::U32(v) => v.len(),
            MetaArray::I32(v) => v.len(),
            MetaArray::F32(v) => v.len(),
            MetaArray::Bool(v) => v.len(),
            MetaArray::String(v) => v.len(),
            MetaArray::Array(v) => v.len(),
            MetaArray::U64(v) => v.len(),
            MetaArray::I64(v) => v.len(),
            MetaArray::F64(v) => v.len(),
        }
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type's name, as GGUF names value types.
    pub fn element_type_name(&self) -> &'static str {
        match self {
            MetaArray::U8(_) => "u8",
            MetaArray::I8(_) => "i8",
            MetaArray::U16(_) => "u16",
            MetaArray::I16(_) => "i16",
            MetaArray::U32(_) => "u32",
            MetaArray::I32(_) => "i32",
            MetaArray::F32(_) => "f32",
            MetaArray::Bool(_) => "bool",
            MetaArray::String(_) => "string",
            MetaArray::Array(_) => "array",
            MetaArray::U64(_) => "u64",
            MetaArray::I64(_) => "i64",
            MetaArray::F64(_) => "f64",
        }
    }
}

impl MetaValue {
    /// The value type's name, as GGUF names it (`u32`, `string`, `array<f32>`, …).
    pub fn type_name(&self) -> String {
        match self {
            MetaValue::U8(_) => "u8".into(),
            MetaValue::I8(_) => "i8".into(),
            MetaValue::U16(_) => "u16".into(),
            MetaValue::I16(_) => "i16".into(),
            MetaValue::U32(_) => "u32".into(),
            MetaValue::I32(_) => "i32".into(),
            MetaValue::F32(_) => "f32".into(),
            MetaValue::Bool(_) => "bool".into(),
            MetaValue::String(_) => "string".into(),
            MetaValue::Array(a) => format!("array<{}>", a.element_type_name()),
            MetaValue::U64(_) => "u64".into(),
            MetaValue::I64(_) => "i64".into(),
            MetaValue::F64(_) => "f64".into(),
        }
    }

    /// The value as an integer, for any integer type (lossless).
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            MetaValue::U8(v) => v.into(),
            MetaValue::I8(v) => v.into(),
            MetaValue::U16(v) => v.into(),
            MetaValue::I16(v) => v.into(),
            MetaValue::U32(v) => v.into(),
            MetaValue::I32(v) => v.into(),
            MetaValue::U64(v) => v.into(),
            MetaValue::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// The value as a float, for f32 and f64.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => Some(v.into()),
            MetaValue::F64(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaValue::U8(v) => write!(f, "{v}"),
            MetaValue::I8(v) => write!(f, "{v}"),
            MetaValue::U16(v) => write!(f, "{v}"),
            MetaValue::I16(v) => write!(f, "{v}"),
            MetaValue::U32(v) => write!(f, "{v}"),
            MetaValue::I32(v) => write!(f, "{v}"),
            MetaValue::F32(v) => write!(f, "{v}"),
            MetaValue::Bool(v) => write!(f, "{v}"),
            MetaValue::String(v) => write!(f, "{v:?}"),
            MetaValue::Array(a) => write!(f, "[{} × {}]", a.len(), a.element_type_name()),
            MetaValue::U64(v) => write!(f, "{v}"),
            MetaValue::I64(v) => write!(f, "{v}"),
            MetaValue::F64(v) => write!(f, "{v}"),
        }
    }
}

/// Smallest encoded size of one value of GGUF type `type_id` (for bounding counts).
fn min_encoded_size(type_id: u32) -> u64 {
    match type_id {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 => 8,     // u64 length, empty string
        9 => 4 + 8, // element type and count of an empty array
        10..=12 => 8,
        _ => 1,
    }
}

/// Reads one value of type `type_id`; `key` and `depth` are for error messages and nesting.
pub(crate) fn read_value(
    cur: &mut Cursor<'_>,
    type_id: u32,
    type_offset: u64,
    key: &str,
    depth: usize,
) -> Result<MetaValue, GgufError> {
    let what = || format!("metadata '{key}' value");
    Ok(match type_id {
        0 => MetaValue::U8(cur.u8(what)?),
        1 => MetaValue::I8(cur.u8(what)? as i8),
        2 => MetaValue::U16(cur.u16(what)?),
        3 => MetaValue::I16(cur.u16(what)? as i16),
        4 => MetaValue::U32(cur.u32(what)?),
        5 => MetaValue::I32(cur.u32(what)? as i32),
        6 => MetaValue::F32(f32::from_bits(cur.u32(what)?)),
        7 => MetaValue::Bool(read_bool(cur, key)?),
        8 => MetaValue::String(cur.string(|| format!("metadata '{key}' string"))?),
        9 => MetaValue::Array(read_array(cur, key, depth + 1)?),
        10 => MetaValue::U64(cur.u64(what)?),
        11 => MetaValue::I64(cur.u64(what)? as i64),
        12 => MetaValue::F64(f64::from_bits(cur.u64(what)?)),
        _ => {
            return Err(GgufError::UnknownValueType {
                key: key.to_owned(),
                type_id,
                offset: type_offset,
            })
        }
    })
}

fn read_bool(cur: &mut Cursor<'_>, key: &str) -> Result<bool, GgufError> {
    let offset = cur.pos();
    match cur.u8(|| format!("metadata '{key}' bool"))? {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(GgufError::BadBool {
            key: key.to_owned(),
            value,
            offset,
        }),
    }
}

fn read_array(cur: &mut Cursor<'_>, key: &str, depth: usize) -> Result<MetaArray, GgufError> {
    let start = cur.pos();
    if depth > MAX_ARRAY_NESTING {
        return Err(GgufError::NestingTooDeep {
            key: key.to_owned(),
            limit: MAX_ARRAY_NESTING,
            offset: start,
        });
    }
    let elem_type = cur.u32(|| format!("metadata '{key}' array element type"))?;
    let unknown = || GgufError::UnknownValueType {
        key: key.to_owned(),
        type_id: elem_type,
        offset: start,
    };
    if elem_type > 12 {
        return Err(unknown());
    }
    let n = cur.count(min_encoded_size(elem_type), || {
        format!("metadata '{key}' array length")
    })? as usize;
    let what = || format!("metadata '{key}' array element");
    macro_rules! collect {
        ($variant:ident, $read:expr) => {{
            // The count is bounded by the bytes left, but an element may need more memory than
            // its encoding (a String is 24 bytes for an 8-byte empty string): grow as read.
            let mut v = Vec::with_capacity(n.min(RESERVE_LIMIT));
            for _ in 0..n {
                v.push($read);
            }
            MetaArray::$variant(v)
        }};
    }
    Ok(match elem_type {
        0 => MetaArray::U8(cur.take(n as u64, what)?.to_vec()),
        1 => MetaArray::I8(cur.take(n as u64, what)?.iter().map(|&b| b as i8).collect()),
        2 => collect!(U16, cur.u16(what)?),
        3 => collect!(I16, cur.u16(what)? as i16),
        4 => collect!(U32, cur.u32(what)?),
        5 => collect!(I32, cur.u32(what)? as i32),
        6 => collect!(F32, f32::from_bits(cur.u32(what)?)),
        7 => collect!(Bool, read_bool(cur, key)?),
        8 => {
            // A first pass over the lengths sizes the buffer exactly (a vocabulary grown by
            // doubling would keep up to half its capacity unused); it also checks every length
            // against the bytes left before anything is allocated.
            let string = || format!("metadata '{key}' array string");
            let mut scan = cur.clone();
            let mut text = 0;
            for _ in 0..n {
                let len = scan.count(1, || format!("length of {}", string()))?;
                scan.take(len, string)?;
                text += len as usize;
            }
            let mut a = StringArray::with_capacity(n, text);
            for _ in 0..n {
                a.push(cur.str(string)?);
            }
            MetaArray::String(a)
        }
        9 => collect!(Array, read_array(cur, key, depth + 1)?),
        10 => collect!(U64, cur.u64(what)?),
        11 => collect!(I64, cur.u64(what)? as i64),
        12 => collect!(F64, f64::from_bits(cur.u64(what)?)),
        _ => return Err(unknown()),
    })
}
