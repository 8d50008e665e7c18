//! The GGUF reader's one error type. Every variant names what was wrong and where.

use std::path::PathBuf;

/// Why a GGUF file could not be opened, or a value in it could not be read as asked.
///
/// Byte offsets are absolute positions in the file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or mapped.
    #[error("cannot read '{path}': {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file ends before a value it promises.
    #[error("{what} at byte {offset}: needs {wanted} bytes but only {available} remain (file truncated?)")]
    Truncated {
        /// The value being read.
        what: String,
        /// Where it starts.
        offset: u64,
        /// Bytes needed.
        wanted: u64,
        /// Bytes left in the file from `offset`.
        available: u64,
    },
    /// The first four bytes are not `GGUF`.
    #[error("not a GGUF file: magic is {found:02x?} at byte 0, expected \"GGUF\"")]
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// A GGUF version this reader does not support.
    #[error("GGUF version {version} at byte 4 is not supported (only versions 2 and 3)")]
    UnsupportedVersion {
        /// The version found.
        version: u32,
    },
    /// A count or length that the rest of the file cannot possibly hold.
    #[error("{what} at byte {offset} is {count}, but the {available} bytes left in the file hold at most {max}")]
    CountTooLarge {
        /// The count being read.
        what: String,
        /// Where it is stored.
        offset: u64,
        /// The count found.
        count: u64,
        /// The largest count the remaining bytes could hold.
        max: u64,
        /// Bytes remaining after the count.
        available: u64,
    },
    /// A metadata value type this reader does not know.
    #[error("metadata '{key}': unknown value type {type_id} at byte {offset}")]
    UnknownValueType {
        /// The key.
        key: String,
        /// The type number found.
        type_id: u32,
        /// Where it is stored.
        offset: u64,
    },
    /// A string that is not UTF-8.
    #[error("{what} at byte {offset} is not valid UTF-8")]
    BadUtf8 {
        /// The string being read.
        what: String,
        /// Where it starts.
        offset: u64,
    },
    /// A boolean other than 0 or 1.
    #[error("metadata '{key}': boolean at byte {offset} is {value}, expected 0 or 1")]
    BadBool {
        /// The key.
        key: String,
        /// The byte found.
        value: u8,
        /// Where it is stored.
        offset: u64,
    },
    /// Arrays nested deeper than the reader allows.
    #[error("metadata '{key}': arrays nested deeper than {limit} levels at byte {offset}")]
    NestingTooDeep {
        /// The key.
        key: String,
        /// The limit.
        limit: usize,
        /// Where the too-deep array starts.
        offset: u64,
    },
    /// A metadata key that appears twice.
    #[error("metadata key '{key}' at byte {offset} appears twice")]
    DuplicateKey {
        /// The key.
        key: String,
        /// Where the second one starts.
        offset: u64,
    },
    /// `general.alignment` is zero, not a power of two, or not an integer.
    #[error("metadata 'general.alignment' is {value}, which is not a power of two")]
    BadAlignment {
        /// The value found, as text.
        value: String,
    },
    /// A tensor type this reader does not know.
    #[error("tensor '{tensor}': unknown ggml type {type_id} at byte {offset}")]
    UnknownTensorType {
        /// The tensor.
        tensor: String,
        /// The type number found.
        type_id: u32,
        /// Where it is stored.
        offset: u64,
    },
    /// A tensor with no dimensions or more than four.
    #[error("tensor '{tensor}': {n_dims} dimensions at byte {offset}, expected 1 to 4")]
    BadDimCount {
        /// The tensor.
        tensor: String,
        /// The count found.
        n_dims: u32,
        /// Where it is stored.
        offset: u64,
    },
    /// A tensor with a zero-length dimension.
    #[error("tensor '{tensor}': dimension {index} is zero (shape {shape:?})")]
    ZeroDim {
        /// The tensor.
        tensor: String,
        /// Which dimension.
        index: usize,
        /// The whole shape.
        shape: Vec<u64>,
    },
    /// A tensor whose rows are not whole blocks of its type.
    #[error(
        "tensor '{tensor}': row length {row} is not a multiple of the {ty} block size {block}"
    )]
    NotWholeBlocks {
        /// The tensor.
        tensor: String,
        /// The type.
        ty: retort_kernels::GgmlType,
        /// Elements per row (the first dimension).
        row: u64,
        /// Elements per block.
        block: usize,
    },
    /// A tensor whose element or byte count overflows 64 bits.
    #[error("tensor '{tensor}': shape {shape:?} overflows 64-bit sizes")]
    SizeOverflow {
        /// The tensor.
        tensor: String,
        /// The shape.
        shape: Vec<u64>,
    },
    /// A tensor whose data offset is not a multiple of the file's alignment.
    #[error(
        "tensor '{tensor}': data offset {offset} is not a multiple of the alignment {alignment}"
    )]
    MisalignedTensor {
        /// The tensor.
        tensor: String,
        /// Offset relative to the data section.
        offset: u64,
        /// The file's alignment.
        alignment: u64,
    },
    /// A tensor whose data lies (partly) past the end of the file.
    #[error(
        "tensor '{tensor}': data [{start}, {end}) runs past the end of the file ({file_len} bytes)"
    )]
    TensorOutOfBounds {
        /// The tensor.
        tensor: String,
        /// Absolute start of its data (may be beyond the file).
        start: u128,
        /// Absolute end of its data.
        end: u128,
        /// The file's length.
        file_len: u64,
    },
    /// Two tensors with the same name.
    #[error("tensor '{tensor}' at byte {offset} appears twice")]
    DuplicateTensor {
        /// The tensor.
        tensor: String,
        /// Where the second one starts.
        offset: u64,
    },
    /// A metadata key the caller needs is absent.
    #[error("metadata key '{key}' is missing")]
    MissingKey {
        /// The key.
        key: String,
    },
    /// A metadata key holds a different type than the caller asked for.
    #[error("metadata '{key}' is {found}, expected {expected}")]
    WrongType {
        /// The key.
        key: String,
        /// What the caller asked for.
        expected: &'static str,
        /// What the file holds.
        found: String,
    },
    /// A tensor the caller needs is absent.
    #[error("tensor '{name}' is missing")]
    MissingTensor {
        /// The tensor.
        name: String,
    },
    /// Tensor data cannot be viewed as the asked type (size or alignment).
    #[error("tensor '{tensor}': its data at byte {offset} cannot be viewed as {what}: {reason}")]
    BadView {
        /// The tensor.
        tensor: String,
        /// Absolute offset of its data.
        offset: u64,
        /// The type asked for.
        what: &'static str,
        /// Why not.
        reason: String,
    },
}
