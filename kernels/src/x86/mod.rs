//! x86-64 kernels, one `#[target_feature]` leaf per kernel around an `#[inline(always)]` body,
//! each the twin of a scalar kernel in [`crate::generic`] with the same signature.
//!
//! `overlay_avx2` registers the AVX2 (+FMA +F16C) entries; `table::for_tier` calls it only
//! when the CPU has those features. `overlay_avx512` registers the AVX-512 (F/BW/VL + VNNI)
//! entries on top of the AVX2 table, for a CPU with those features as well. Adding a kernel:
//! `mod` line here and one `t.set_…` line in the overlay.

pub mod avx2_f16;
pub mod avx2_f32;
mod avx2_k_blocks;
mod avx2_legacy_lanes;
mod avx2_legacy_tiles;
pub mod avx2_q2_k;
pub mod avx2_q3_k;
pub mod avx2_q4_0;
pub mod avx2_q4_1;
pub mod avx2_q4_k;
pub mod avx2_q5_0;
pub mod avx2_q5_1;
pub mod avx2_q5_k;
pub mod avx2_q6_k;
pub mod avx2_q8_0;
pub mod avx2_q8_k;
pub mod avx2_quantize_q8;
pub mod avx512_float_dots;
mod avx512_k_blocks;
mod avx512_legacy_lanes;
mod avx512_legacy_tiles;
pub mod avx512_q2_k;
pub mod avx512_q3_k;
pub mod avx512_q4_0;
pub mod avx512_q4_1;
pub mod avx512_q4_k;
pub mod avx512_q5_0;
pub mod avx512_q5_1;
pub mod avx512_q5_k;
pub mod avx512_q6_k;
pub mod avx512_q8_0;
pub mod avx512_q8_k;
mod k_tile_walk;
mod legacy_tile_walk;

use half::{bf16, f16};

use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ5_1, BlockQ8_0, BlockQ8_1};
use crate::ggml_type::GgmlType;
use crate::table::{
    gemm_entry, gemv_entry, quantize_entry, vec_dot_entry, DotKernels, KernelTable,
};

/// Puts the AVX2 kernels into `t`.
///
/// Only for a CPU with AVX2, FMA and F16C: the entries execute those instructions.
pub(crate) fn overlay_avx2(t: &mut KernelTable) {
    use GgmlType as T;

    t.set_quantize(
        T::Q8_0,
        quantize_entry!(BlockQ8_0, avx2_quantize_q8::quantize_row_q8_0_avx2),
    );
    t.set_quantize(
        T::Q8_1,
        quantize_entry!(BlockQ8_1, avx2_quantize_q8::quantize_row_q8_1_avx2),
    );

    t.set_dot(
        T::F32,
        DotKernels {
            vec_dot: vec_dot_entry!(
                f32,
                f32,
                avx2_f32::vec_dot_f32_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(f32, f32, avx2_f32::gemv_f32_avx2)),
            gemm: None,
        },
    );
    t.set_dot(
        T::F16,
        DotKernels {
            vec_dot: vec_dot_entry!(
                f16,
                f16,
                avx2_f16::vec_dot_f16_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(f16, f16, avx2_f16::gemv_f16_avx2)),
            gemm: None,
        },
    );
    t.set_dot(
        T::Q4_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx2_q4_0::vec_dot_q4_0_q8_0_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx2_q4_0::gemv_q4_0_q8_0_avx2
            )),
            gemm: Some(gemm_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx2_q4_0::gemm_q4_0_q8_0_avx2
            )),
        },
    );
    t.set_dot(
        T::Q4_1,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx2_q4_1::vec_dot_q4_1_q8_1_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx2_q4_1::gemv_q4_1_q8_1_avx2
            )),
            gemm: Some(gemm_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx2_q4_1::gemm_q4_1_q8_1_avx2
            )),
        },
    );
    t.set_dot(
        T::Q5_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx2_q5_0::vec_dot_q5_0_q8_0_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx2_q5_0::gemv_q5_0_q8_0_avx2
            )),
            gemm: Some(gemm_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx2_q5_0::gemm_q5_0_q8_0_avx2
            )),
        },
    );
    t.set_dot(
        T::Q5_1,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx2_q5_1::vec_dot_q5_1_q8_1_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx2_q5_1::gemv_q5_1_q8_1_avx2
            )),
            gemm: Some(gemm_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx2_q5_1::gemm_q5_1_q8_1_avx2
            )),
        },
    );
    t.set_dot(
        T::Q8_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx2_q8_0::vec_dot_q8_0_q8_0_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx2_q8_0::gemv_q8_0_q8_0_avx2
            )),
            gemm: Some(gemm_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx2_q8_0::gemm_q8_0_q8_0_avx2
            )),
        },
    );
    // K-quants (kernels-kquants).
    avx2_q2_k::register(t);
    avx2_q3_k::register(t);
    avx2_q4_k::register(t);
    avx2_q5_k::register(t);
    avx2_q6_k::register(t);
    avx2_q8_k::register(t);
}

/// Puts the AVX-512 kernels into `t`, which already holds the AVX2 ones (types without an
/// AVX-512 kernel keep their AVX2 entries).
///
/// Only for a CPU with AVX-512 F, BW, VL and VNNI as well as AVX2, FMA and F16C.
pub(crate) fn overlay_avx512(t: &mut KernelTable) {
    use GgmlType as T;

    t.set_dot(
        T::F32,
        DotKernels {
            vec_dot: vec_dot_entry!(
                f32,
                f32,
                avx512_float_dots::vec_dot_f32_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(f32, f32, avx512_float_dots::gemv_f32_avx512)),
            gemm: None,
        },
    );
    t.set_dot(
        T::F16,
        DotKernels {
            vec_dot: vec_dot_entry!(
                f16,
                f16,
                avx512_float_dots::vec_dot_f16_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(f16, f16, avx512_float_dots::gemv_f16_avx512)),
            gemm: None,
        },
    );
    t.set_dot(
        T::BF16,
        DotKernels {
            vec_dot: vec_dot_entry!(
                bf16,
                bf16,
                avx512_float_dots::vec_dot_bf16_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(bf16, bf16, avx512_float_dots::gemv_bf16_avx512)),
            gemm: None,
        },
    );
    t.set_dot(
        T::Q4_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx512_q4_0::vec_dot_q4_0_q8_0_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx512_q4_0::gemv_q4_0_q8_0_avx512
            )),
            gemm: Some(gemm_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx512_q4_0::gemm_q4_0_q8_0_avx512
            )),
        },
    );
    t.set_dot(
        T::Q4_1,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx512_q4_1::vec_dot_q4_1_q8_1_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx512_q4_1::gemv_q4_1_q8_1_avx512
            )),
            gemm: Some(gemm_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx512_q4_1::gemm_q4_1_q8_1_avx512
            )),
        },
    );
    t.set_dot(
        T::Q5_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx512_q5_0::vec_dot_q5_0_q8_0_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx512_q5_0::gemv_q5_0_q8_0_avx512
            )),
            gemm: Some(gemm_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx512_q5_0::gemm_q5_0_q8_0_avx512
            )),
        },
    );
    t.set_dot(
        T::Q5_1,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx512_q5_1::vec_dot_q5_1_q8_1_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx512_q5_1::gemv_q5_1_q8_1_avx512
            )),
            gemm: Some(gemm_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx512_q5_1::gemm_q5_1_q8_1_avx512
            )),
        },
    );
    t.set_dot(
        T::Q8_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx512_q8_0::vec_dot_q8_0_q8_0_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx512_q8_0::gemv_q8_0_q8_0_avx512
            )),
            gemm: Some(gemm_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx512_q8_0::gemm_q8_0_q8_0_avx512
            )),
        },
    );
    // K-quants (avx512-kquants helper).
    avx512_q2_k::register(t);
    avx512_q3_k::register(t);
    avx512_q4_k::register(t);
    avx512_q5_k::register(t);
    avx512_q6_k::register(t);
    avx512_q8_k::register(t);
}
