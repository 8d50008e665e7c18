//! The portable scalar kernels: the twin of every SIMD kernel, and the whole generic tier.
//!
//! Each file holds one type's dequantize, quantize and dot routines on typed block slices;
//! [`register`] puts them into the generic [`KernelTable`]. Their float accumulation follows the
//! fixed orders of [`accumulate`], which every SIMD tier reproduces, so a SIMD kernel equals its
//! twin bit for bit on the same data.
//!
//! Adding a type's twins: `mod` line + `pub use` line here, and one `t.set_…` line per entry in
//! [`register`] (see the `table` module docs for the entry macros).

pub mod accumulate;
pub mod bf16_row;
pub mod f16_row;
pub mod f32_row;
pub mod q2_k;
pub mod q3_k;
pub mod q4_0;
pub mod q4_1;
pub mod q4_k;
pub mod q5_0;
pub mod q5_1;
pub mod q5_k;
pub mod q6_k;
pub mod q8_0;
pub mod q8_1;
pub mod q8_k;
pub mod rounding;
pub mod scale_search;
pub mod x8;

pub use bf16_row::{dequantize_row_bf16, quantize_row_bf16, vec_dot_bf16};
pub use f16_row::{dequantize_row_f16, quantize_row_f16, vec_dot_f16};
pub use f32_row::{dequantize_row_f32, quantize_row_f32, vec_dot_f32};
pub use q2_k::{dequantize_row_q2_k, quantize_row_q2_k, vec_dot_q2_k_q8_k};
pub use q3_k::{dequantize_row_q3_k, quantize_row_q3_k, vec_dot_q3_k_q8_k};
pub use q4_0::{dequantize_row_q4_0, quantize_row_q4_0, vec_dot_q4_0_q8_0};
pub use q4_1::{dequantize_row_q4_1, quantize_row_q4_1, vec_dot_q4_1_q8_1};
pub use q4_k::{dequantize_row_q4_k, quantize_row_q4_k, vec_dot_q4_k_q8_k};
pub use q5_0::{dequantize_row_q5_0, quantize_row_q5_0, vec_dot_q5_0_q8_0};
pub use q5_1::{dequantize_row_q5_1, quantize_row_q5_1, vec_dot_q5_1_q8_1};
pub use q5_k::{dequantize_row_q5_k, quantize_row_q5_k, vec_dot_q5_k_q8_k};
pub use q6_k::{dequantize_row_q6_k, quantize_row_q6_k, vec_dot_q6_k_q8_k};
pub use q8_0::{dequantize_row_q8_0, quantize_row_q8_0, vec_dot_q8_0_q8_0};
pub use q8_1::{dequantize_row_q8_1, quantize_row_q8_1, vec_dot_q8_1_q8_1};
pub use q8_k::{dequantize_row_q8_k, quantize_row_q8_k};

use half::{bf16, f16};

use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ5_1, BlockQ8_0, BlockQ8_1};
use crate::ggml_type::GgmlType;
use crate::table::{dequantize_entry, quantize_entry, vec_dot_entry, DotKernels, KernelTable};

/// `out[r] = dot(row r of w, act)`: the scalar twin of every multi-row gemv kernel. `w` holds
/// `out.len()` rows of `act.len()` blocks each (extra blocks are ignored).
#[inline(always)]
pub fn gemv_by_rows<W, A>(w: &[W], act: &[A], out: &mut [f32], dot: impl Fn(&[W], &[A]) -> f32) {
    let nb = act.len();
    if nb == 0 {
        out.fill(0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(w.chunks_exact(nb)) {
        *o = dot(row, act);
    }
}

/// `out[c * rows + r] = dot(row r of w, activation row c)` with `rows = out.len() / n_act`:
/// the scalar twin of every gemm kernel. `act` holds `n_act` rows of `act.len() / n_act` blocks.
#[inline(always)]
pub fn gemm_by_rows<W, A>(
    w: &[W],
    act: &[A],
    n_act: usize,
    out: &mut [f32],
    dot: impl Fn(&[W], &[A]) -> f32,
) {
    if n_act == 0 {
        return;
    }
    let nb = act.len() / n_act;
    let rows = out.len() / n_act;
    for (c, col) in out.chunks_exact_mut(rows.max(1)).take(n_act).enumerate() {
        gemv_by_rows(w, &act[c * nb..(c + 1) * nb], col, &dot);
    }
}

macro_rules! gemm_twin {
    ($(#[$doc:meta])* $name:ident, $w:ty, $a:ty, $dot:path) => {
        $(#[$doc])*
        pub fn $name(w: &[$w], act: &[$a], n_act: usize, out: &mut [f32]) {
            gemm_by_rows(w, act, n_act, out, $dot)
        }
    };
}

gemm_twin!(
    /// Rows of Q4_0 by `n_act` Q8_0 activation rows; each output is [`vec_dot_q4_0_q8_0`].
    gemm_q4_0_q8_0, BlockQ4_0, BlockQ8_0, vec_dot_q4_0_q8_0
);
gemm_twin!(
    /// Rows of Q4_1 by `n_act` Q8_1 activation rows; each output is [`vec_dot_q4_1_q8_1`].
    gemm_q4_1_q8_1, BlockQ4_1, BlockQ8_1, vec_dot_q4_1_q8_1
);
gemm_twin!(
    /// Rows of Q5_0 by `n_act` Q8_0 activation rows; each output is [`vec_dot_q5_0_q8_0`].
    gemm_q5_0_q8_0, BlockQ5_0, BlockQ8_0, vec_dot_q5_0_q8_0
);
gemm_twin!(
    /// Rows of Q5_1 by `n_act` Q8_1 activation rows; each output is [`vec_dot_q5_1_q8_1`].
    gemm_q5_1_q8_1, BlockQ5_1, BlockQ8_1, vec_dot_q5_1_q8_1
);
gemm_twin!(
    /// Rows of Q8_0 by `n_act` Q8_0 activation rows; each output is [`vec_dot_q8_0_q8_0`].
    gemm_q8_0_q8_0, BlockQ8_0, BlockQ8_0, vec_dot_q8_0_q8_0
);

macro_rules! gemv_twin {
    ($(#[$doc:meta])* $name:ident, $w:ty, $a:ty, $dot:path) => {
        $(#[$doc])*
        pub fn $name(w: &[$w], act: &[$a], out: &mut [f32]) {
            gemv_by_rows(w, act, out, $dot)
        }
    };
}

gemv_twin!(
    /// Rows of Q4_0 by one Q8_0 activation row; each output is [`vec_dot_q4_0_q8_0`].
    gemv_q4_0_q8_0, BlockQ4_0, BlockQ8_0, vec_dot_q4_0_q8_0
);
gemv_twin!(
    /// Rows of Q4_1 by one Q8_1 activation row; each output is [`vec_dot_q4_1_q8_1`].
    gemv_q4_1_q8_1, BlockQ4_1, BlockQ8_1, vec_dot_q4_1_q8_1
);
gemv_twin!(
    /// Rows of Q5_0 by one Q8_0 activation row; each output is [`vec_dot_q5_0_q8_0`].
    gemv_q5_0_q8_0, BlockQ5_0, BlockQ8_0, vec_dot_q5_0_q8_0
);
gemv_twin!(
    /// Rows of Q5_1 by one Q8_1 activation row; each output is [`vec_dot_q5_1_q8_1`].
    gemv_q5_1_q8_1, BlockQ5_1, BlockQ8_1, vec_dot_q5_1_q8_1
);
gemv_twin!(
    /// Rows of Q8_0 by one Q8_0 activation row; each output is [`vec_dot_q8_0_q8_0`].
    gemv_q8_0_q8_0, BlockQ8_0, BlockQ8_0, vec_dot_q8_0_q8_0
);
gemv_twin!(
    /// Rows of F32 by one F32 activation row; each output is [`vec_dot_f32`].
    gemv_f32, f32, f32, vec_dot_f32
);
gemv_twin!(
    /// Rows of F16 by one F16 activation row; each output is [`vec_dot_f16`].
    gemv_f16, f16, f16, vec_dot_f16
);

/// Puts every scalar kernel into `t` (the generic table).
pub const fn register(t: &mut KernelTable) {
    use GgmlType as T;

    t.set_dequantize(T::F32, dequantize_entry!(f32, dequantize_row_f32));
    t.set_dequantize(T::F16, dequantize_entry!(f16, dequantize_row_f16));
    t.set_dequantize(T::BF16, dequantize_entry!(bf16, dequantize_row_bf16));
    t.set_dequantize(T::Q4_0, dequantize_entry!(BlockQ4_0, dequantize_row_q4_0));
    t.set_dequantize(T::Q4_1, dequantize_entry!(BlockQ4_1, dequantize_row_q4_1));
    t.set_dequantize(T::Q5_0, dequantize_entry!(BlockQ5_0, dequantize_row_q5_0));
    t.set_dequantize(T::Q5_1, dequantize_entry!(BlockQ5_1, dequantize_row_q5_1));
    t.set_dequantize(T::Q8_0, dequantize_entry!(BlockQ8_0, dequantize_row_q8_0));
    t.set_dequantize(T::Q8_1, dequantize_entry!(BlockQ8_1, dequantize_row_q8_1));

    t.set_quantize(T::F32, quantize_entry!(f32, quantize_row_f32));
    t.set_quantize(T::F16, quantize_entry!(f16, quantize_row_f16));
    t.set_quantize(T::BF16, quantize_entry!(bf16, quantize_row_bf16));
    t.set_quantize(T::Q4_0, quantize_entry!(BlockQ4_0, quantize_row_q4_0));
    t.set_quantize(T::Q4_1, quantize_entry!(BlockQ4_1, quantize_row_q4_1));
    t.set_quantize(T::Q5_0, quantize_entry!(BlockQ5_0, quantize_row_q5_0));
    t.set_quantize(T::Q5_1, quantize_entry!(BlockQ5_1, quantize_row_q5_1));
    t.set_quantize(T::Q8_0, quantize_entry!(BlockQ8_0, quantize_row_q8_0));
    t.set_quantize(T::Q8_1, quantize_entry!(BlockQ8_1, quantize_row_q8_1));

    t.set_dot(
        T::F32,
        DotKernels::vec_dot_only(vec_dot_entry!(f32, f32, vec_dot_f32)),
    );
    t.set_dot(
        T::F16,
        DotKernels::vec_dot_only(vec_dot_entry!(f16, f16, vec_dot_f16)),
    );
    t.set_dot(
        T::BF16,
        DotKernels::vec_dot_only(vec_dot_entry!(bf16, bf16, vec_dot_bf16)),
    );
    t.set_dot(
        T::Q4_0,
        DotKernels::vec_dot_only(vec_dot_entry!(BlockQ4_0, BlockQ8_0, vec_dot_q4_0_q8_0)),
    );
    t.set_dot(
        T::Q4_1,
        DotKernels::vec_dot_only(vec_dot_entry!(BlockQ4_1, BlockQ8_1, vec_dot_q4_1_q8_1)),
    );
    t.set_dot(
        T::Q5_0,
        DotKernels::vec_dot_only(vec_dot_entry!(BlockQ5_0, BlockQ8_0, vec_dot_q5_0_q8_0)),
    );
    t.set_dot(
        T::Q5_1,
        DotKernels::vec_dot_only(vec_dot_entry!(BlockQ5_1, BlockQ8_1, vec_dot_q5_1_q8_1)),
    );
    t.set_dot(
        T::Q8_0,
        DotKernels::vec_dot_only(vec_dot_entry!(BlockQ8_0, BlockQ8_0, vec_dot_q8_0_q8_0)),
    );
    t.set_dot(
        T::Q8_1,
        DotKernels::vec_dot_only(vec_dot_entry!(BlockQ8_1, BlockQ8_1, vec_dot_q8_1_q8_1)),
    );
    // K-quants (kernels-kquants).
    {
        use crate::blocks::{BlockQ2K, BlockQ3K, BlockQ4K, BlockQ5K, BlockQ6K, BlockQ8K};
        t.set_dequantize(T::Q2_K, dequantize_entry!(BlockQ2K, dequantize_row_q2_k));
        t.set_dequantize(T::Q3_K, dequantize_entry!(BlockQ3K, dequantize_row_q3_k));
        t.set_dequantize(T::Q4_K, dequantize_entry!(BlockQ4K, dequantize_row_q4_k));
        t.set_dequantize(T::Q5_K, dequantize_entry!(BlockQ5K, dequantize_row_q5_k));
        t.set_dequantize(T::Q6_K, dequantize_entry!(BlockQ6K, dequantize_row_q6_k));
        t.set_dequantize(T::Q8_K, dequantize_entry!(BlockQ8K, dequantize_row_q8_k));
        t.set_quantize(T::Q2_K, quantize_entry!(BlockQ2K, quantize_row_q2_k));
        t.set_quantize(T::Q3_K, quantize_entry!(BlockQ3K, quantize_row_q3_k));
        t.set_quantize(T::Q4_K, quantize_entry!(BlockQ4K, quantize_row_q4_k));
        t.set_quantize(T::Q5_K, quantize_entry!(BlockQ5K, quantize_row_q5_k));
        t.set_quantize(T::Q6_K, quantize_entry!(BlockQ6K, quantize_row_q6_k));
        t.set_quantize(T::Q8_K, quantize_entry!(BlockQ8K, quantize_row_q8_k));
        t.set_dot(
            T::Q2_K,
            DotKernels::vec_dot_only(vec_dot_entry!(BlockQ2K, BlockQ8K, vec_dot_q2_k_q8_k)),
        );
        t.set_dot(
            T::Q3_K,
            DotKernels::vec_dot_only(vec_dot_entry!(BlockQ3K, BlockQ8K, vec_dot_q3_k_q8_k)),
        );
        t.set_dot(
            T::Q4_K,
            DotKernels::vec_dot_only(vec_dot_entry!(BlockQ4K, BlockQ8K, vec_dot_q4_k_q8_k)),
        );
        t.set_dot(
            T::Q5_K,
            DotKernels::vec_dot_only(vec_dot_entry!(BlockQ5K, BlockQ8K, vec_dot_q5_k_q8_k)),
        );
        t.set_dot(
            T::Q6_K,
            DotKernels::vec_dot_only(vec_dot_entry!(BlockQ6K, BlockQ8K, vec_dot_q6_k_q8_k)),
        );
    }
    x8::register(t);
}
