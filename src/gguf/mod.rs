//! The GGUF reader: a memory-mapped, validated, zero-copy view of a GGUF v2/v3 file.
//!
//! [`GgufFile::open`] maps the file and checks everything before handing anything out: magic and
//! version, every count and length against the bytes that remain, every metadata value type,
//! every tensor's type, shape, size (overflow-checked), alignment and byte range, and duplicate
//! names. Tensor data are then borrowed slices of the map. [`GgufHeader::open`] reads only the
//! header and metadata, for what needs the vocabulary and never the weights.

mod cursor;
mod error;
mod file;
mod metadata;
mod string_array;
mod tensor;
mod value;

pub use error::GgufError;
pub use file::{
    FileSource, GgufBytes, GgufFile, GgufHeader, DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_DIMS,
};
pub use metadata::Metadata;
pub use string_array::StringArray;
pub use tensor::TensorInfo;
pub use value::{MetaArray, MetaValue, MAX_ARRAY_NESTING};
