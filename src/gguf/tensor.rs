//! Tensor descriptions from the tensor-info table.

use retort_kernels::GgmlType;

/// One tensor's name, type, shape and where its data lies. Validated when the file is opened:
/// the type is known, 1–4 dimensions none of them zero, rows are whole blocks, sizes did not
/// overflow, the offset is aligned and the data lies inside the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Element type.
    pub ty: GgmlType,
    /// Shape in ggml order: `shape[0]` is the row length (contiguous), `shape[1]` the row count.
    pub shape: Vec<u64>,
    /// Absolute byte offset of the data in the file.
    pub offset: u64,
    /// Bytes of data.
    pub bytes: u64,
    /// Offset of the tensor's info record in the file (for error messages).
    pub info_offset: u64,
}

impl TensorInfo {
    /// Total number of elements.
    pub fn n_elements(&self) -> u64 {
        // Checked at open time not to overflow.
        self.shape.iter().product()
    }

    /// Elements per row (`shape[0]`).
    pub fn row_len(&self) -> u64 {
        self.shape[0]
    }

    /// Number of rows (all dimensions but the first).
    pub fn n_rows(&self) -> u64 {
        self.shape[1..].iter().product()
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> u64 {
        self.bytes / self.n_rows()
    }
}
