//! The one error type of the kernels: what was wrong with a call, as a value.
//!
//! `no_std`; `Display` names the type, the operand and the expected against the given size, so a
//! message read in a log says what to fix without a debugger.

use core::fmt;

use crate::ggml_type::GgmlType;
use crate::tier::Tier;

/// The kernel operation a call asked for (used in [`KernelError::Unsupported`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelOp {
    /// `ops::dequantize_row`.
    Dequantize,
    /// `ops::quantize_row`.
    Quantize,
    /// `ops::vec_dot`, `ops::gemv`, `ops::gemm` (they share their kernels).
    Dot,
    /// The row-interleaved (x8) form: `ops::repack_x8`, `ops::unpack_x8_row`, `ops::gemm_x8`.
    Interleaved,
}

impl KernelOp {
    /// A lower-case name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            KernelOp::Dequantize => "dequantize",
            KernelOp::Quantize => "quantize",
            KernelOp::Dot => "dot product",
            KernelOp::Interleaved => "row-interleaved",
        }
    }
}

/// Which argument of a kernel call a length or alignment error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// The packed input of `dequantize_row`.
    Src,
    /// The packed output of `quantize_row`.
    Dst,
    /// The weight rows of a dot product.
    Weights,
    /// The activation rows of a dot product (stored as the weight type's `vec_dot_type`).
    Activations,
}

impl Operand {
    /// A lower-case name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Operand::Src => "source",
            Operand::Dst => "destination",
            Operand::Weights => "weights",
            Operand::Activations => "activations",
        }
    }
}

/// What was wrong with a kernel call. Every `ops` function checks its arguments and returns one
/// of these instead of panicking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelError {
    /// No kernel for this type and operation in the active table.
    Unsupported {
        /// The element type asked for.
        ty: GgmlType,
        /// The operation asked for.
        op: KernelOp,
        /// The tier whose table was searched.
        tier: Tier,
    },
    /// The element count is not a whole number of blocks of `ty`.
    NotBlockMultiple {
        /// The element type.
        ty: GgmlType,
        /// The element count given.
        n: usize,
    },
    /// A byte or element count does not match what the shape implies.
    Length {
        /// The type the operand is stored as.
        ty: GgmlType,
        /// The operand.
        what: Operand,
        /// The length the other arguments imply (bytes for packed data, elements for f32).
        expected: usize,
        /// The length given.
        given: usize,
    },
    /// A packed operand does not start at a multiple of its block's alignment.
    Misaligned {
        /// The type the operand is stored as.
        ty: GgmlType,
        /// The operand.
        what: Operand,
        /// The alignment the block struct needs, in bytes.
        align: usize,
    },
    /// `gemm` was given an output whose length is not a multiple of the activation count (or
    /// a zero activation count with a non-empty output).
    OutputShape {
        /// The output length given.
        out_len: usize,
        /// The number of activation rows given.
        n_act: usize,
    },
    /// A row-interleaved product was asked for rows its stripes do not hold, or for an output
    /// whose row stride is shorter than a row of outputs.
    InterleavedShape {
        /// Rows asked for.
        rows: usize,
        /// Stripes of eight rows given.
        stripes: usize,
        /// Output elements from one activation row's outputs to the next.
        ld: usize,
    },
    /// The sizes implied by the arguments overflow `usize`.
    Overflow {
        /// The element type.
        ty: GgmlType,
        /// The element count per row.
        n: usize,
    },
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KernelError::Unsupported { ty, op, tier } => {
                write!(f, "no {} kernel for {ty} in the {tier} kernel table", op.name())
            }
            KernelError::NotBlockMultiple { ty, n } => write!(
                f,
                "{n} elements is not a whole number of {ty} blocks ({} elements each)",
                ty.block_size()
            ),
            KernelError::Length {
                ty,
                what,
                expected,
                given,
            } => write!(
                f,
                "{} ({ty}) has length {given}, expected {expected}",
                what.name()
            ),
            KernelError::Misaligned { ty, what, align } => write!(
                f,
                "{} ({ty}) starts at an address that is not a multiple of {align} bytes",
                what.name()
            ),
            KernelError::OutputShape { out_len, n_act } => write!(
                f,
                "gemm output of {out_len} elements is not a whole number of columns for {n_act} activation rows"
            ),
            KernelError::InterleavedShape { rows, stripes, ld } => write!(
                f,
                "row-interleaved product of {rows} rows with {stripes} stripes of 8 rows and an output stride of {ld}"
            ),
            KernelError::Overflow { ty, n } => {
                write!(f, "sizes for rows of {n} {ty} elements overflow usize")
            }
        }
    }
}

impl core::error::Error for KernelError {}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn messages_name_what_was_wrong() {
        let e = KernelError::Length {
            ty: GgmlType::Q4_0,
            what: Operand::Weights,
            expected: 36,
            given: 35,
        };
        assert_eq!(e.to_string(), "weights (Q4_0) has length 35, expected 36");
        let e = KernelError::Unsupported {
            ty: GgmlType::Q4_K,
            op: KernelOp::Dot,
            tier: Tier::Generic,
        };
        assert_eq!(
            e.to_string(),
            "no dot product kernel for Q4_K in the generic kernel table"
        );
        let e = KernelError::Misaligned {
            ty: GgmlType::F32,
            what: Operand::Src,
            align: 4,
        };
        assert!(e.to_string().contains("multiple of 4 bytes"));
    }
}
