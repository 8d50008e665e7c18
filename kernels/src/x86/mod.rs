//! x86-64 kernels, one `#[target_feature]` leaf per kernel around an `#[inline(always)]` body,
//! each the twin of a scalar kernel in [`crate::generic`] with the same signature.
//!
//! The kernels live in `avx2/` and `avx512/`, with the row×column walks both share here.
//! `overlay_avx2` registers the AVX2 (+FMA +F16C) entries; `table::for_tier` calls it only
//! when the CPU has those features. `overlay_avx512` registers the AVX-512 (F/BW/VL + VNNI)
//! entries on top of the AVX2 table, for a CPU with those features as well. Adding a kernel:
//! `mod` line in `avx2/mod.rs` or `avx512/mod.rs` and one `t.set_…` line in the overlay.

pub mod avx2;
pub mod avx512;
mod k_tile_walk;
mod legacy_tile_walk;
pub(crate) mod prefetch;

use half::{bf16, f16};

use crate::blocks::BlockQ8K;
use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ5_1, BlockQ8_0, BlockQ8_1};
use crate::blocks_x8::{BlockQ4Kx8, BlockQ4_1x8, BlockQ5_0x8, BlockQ6Kx8, BlockQ8_0x8};
use crate::ggml_type::GgmlType;
use crate::table::{
    gemm_entry, gemm_x8_entry, gemv_entry, quantize_entry, vec_dot_entry, DotKernels, KernelTable,
};

/// Puts the AVX2 kernels into `t`.
///
/// Only for a CPU with AVX2, FMA and F16C: the entries execute those instructions.
pub(crate) fn overlay_avx2(t: &mut KernelTable) {
    use GgmlType as T;

    t.set_quantize(
        T::Q8_0,
        quantize_entry!(BlockQ8_0, avx2::quantize_q8::quantize_row_q8_0_avx2),
    );
    t.set_quantize(
        T::Q8_1,
        quantize_entry!(BlockQ8_1, avx2::quantize_q8::quantize_row_q8_1_avx2),
    );
    t.set_quantize(
        T::F16,
        quantize_entry!(f16, avx2::f16_convert::quantize_row_f16_avx2),
    );

    t.set_dot(
        T::F32,
        DotKernels {
            vec_dot: vec_dot_entry!(
                f32,
                f32,
                avx2::f32_dot::vec_dot_f32_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(f32, f32, avx2::f32_dot::gemv_f32_avx2)),
            gemm: None,
        },
    );
    t.set_dot(
        T::F16,
        DotKernels {
            vec_dot: vec_dot_entry!(
                f16,
                f16,
                avx2::f16_dot::vec_dot_f16_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(f16, f16, avx2::f16_dot::gemv_f16_avx2)),
            gemm: Some(gemm_entry!(f16, f16, avx2::f16_dot::gemm_f16_avx2)),
        },
    );
    t.set_dot(
        T::Q4_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx2::q4_0::vec_dot_q4_0_q8_0_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx2::q4_0::gemv_q4_0_q8_0_avx2
            )),
            gemm: Some(gemm_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx2::q4_0::gemm_q4_0_q8_0_avx2
            )),
        },
    );
    t.set_dot(
        T::Q4_1,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx2::q4_1::vec_dot_q4_1_q8_1_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx2::q4_1::gemv_q4_1_q8_1_avx2
            )),
            gemm: Some(gemm_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx2::q4_1::gemm_q4_1_q8_1_avx2
            )),
        },
    );
    t.set_dot(
        T::Q5_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx2::q5_0::vec_dot_q5_0_q8_0_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx2::q5_0::gemv_q5_0_q8_0_avx2
            )),
            gemm: Some(gemm_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx2::q5_0::gemm_q5_0_q8_0_avx2
            )),
        },
    );
    t.set_dot(
        T::Q5_1,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx2::q5_1::vec_dot_q5_1_q8_1_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx2::q5_1::gemv_q5_1_q8_1_avx2
            )),
            gemm: Some(gemm_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx2::q5_1::gemm_q5_1_q8_1_avx2
            )),
        },
    );
    t.set_dot(
        T::Q8_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx2::q8_0::vec_dot_q8_0_q8_0_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx2::q8_0::gemv_q8_0_q8_0_avx2
            )),
            gemm: Some(gemm_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx2::q8_0::gemm_q8_0_q8_0_avx2
            )),
        },
    );
    // K-quants (kernels-kquants).
    avx2::q2_k::register(t);
    avx2::q3_k::register(t);
    avx2::q4_k::register(t);
    avx2::q5_k::register(t);
    avx2::q6_k::register(t);
    avx2::q8_k::register(t);
    // Row-interleaved (x8) products.
    t.set_x8_gemm(
        T::Q4_1,
        gemm_x8_entry!(BlockQ4_1x8, BlockQ8_1, avx2::q4_1_x8::gemm_q4_1x8_q8_1_avx2),
    );
    t.set_x8_gemm(
        T::Q5_0,
        gemm_x8_entry!(BlockQ5_0x8, BlockQ8_0, avx2::q5_0_x8::gemm_q5_0x8_q8_0_avx2),
    );
    t.set_x8_gemm(
        T::Q8_0,
        gemm_x8_entry!(BlockQ8_0x8, BlockQ8_0, avx2::q8_0_x8::gemm_q8_0x8_q8_0_avx2),
    );
    t.set_x8_gemm(
        T::Q4_K,
        gemm_x8_entry!(BlockQ4Kx8, BlockQ8K, avx2::q4_k_x8::gemm_q4_kx8_q8_k_avx2),
    );
    t.set_x8_gemm(
        T::Q6_K,
        gemm_x8_entry!(BlockQ6Kx8, BlockQ8K, avx2::q6_k_x8::gemm_q6_kx8_q8_k_avx2),
    );
}

/// Puts the AVX-512 kernels into `t`, which already holds the AVX2 ones (types without an
/// AVX-512 kernel keep their AVX2 entries).
///
/// Only for a CPU with AVX-512 F, BW, VL and VNNI as well as AVX2, FMA and F16C.
pub(crate) fn overlay_avx512(t: &mut KernelTable) {
    use GgmlType as T;

    t.set_quantize(
        T::Q8_0,
        quantize_entry!(BlockQ8_0, avx512::quantize_q8::quantize_row_q8_0_avx512),
    );
    t.set_quantize(
        T::Q8_1,
        quantize_entry!(BlockQ8_1, avx512::quantize_q8::quantize_row_q8_1_avx512),
    );

    t.set_dot(
        T::F32,
        DotKernels {
            vec_dot: vec_dot_entry!(
                f32,
                f32,
                avx512::float_dots::vec_dot_f32_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(f32, f32, avx512::float_dots::gemv_f32_avx512)),
            gemm: None,
        },
    );
    t.set_dot(
        T::F16,
        DotKernels {
            vec_dot: vec_dot_entry!(
                f16,
                f16,
                avx512::float_dots::vec_dot_f16_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(f16, f16, avx512::float_dots::gemv_f16_avx512)),
            gemm: Some(gemm_entry!(f16, f16, avx512::f16_gemm::gemm_f16_avx512)),
        },
    );
    t.set_dot(
        T::BF16,
        DotKernels {
            vec_dot: vec_dot_entry!(
                bf16,
                bf16,
                avx512::float_dots::vec_dot_bf16_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                bf16,
                bf16,
                avx512::float_dots::gemv_bf16_avx512
            )),
            gemm: None,
        },
    );
    t.set_dot(
        T::Q4_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx512::q4_0::vec_dot_q4_0_q8_0_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx512::q4_0::gemv_q4_0_q8_0_avx512
            )),
            gemm: Some(gemm_entry!(
                BlockQ4_0,
                BlockQ8_0,
                avx512::q4_0::gemm_q4_0_q8_0_avx512
            )),
        },
    );
    t.set_dot(
        T::Q4_1,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx512::q4_1::vec_dot_q4_1_q8_1_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx512::q4_1::gemv_q4_1_q8_1_avx512
            )),
            gemm: Some(gemm_entry!(
                BlockQ4_1,
                BlockQ8_1,
                avx512::q4_1::gemm_q4_1_q8_1_avx512
            )),
        },
    );
    t.set_dot(
        T::Q5_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx512::q5_0::vec_dot_q5_0_q8_0_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx512::q5_0::gemv_q5_0_q8_0_avx512
            )),
            gemm: Some(gemm_entry!(
                BlockQ5_0,
                BlockQ8_0,
                avx512::q5_0::gemm_q5_0_q8_0_avx512
            )),
        },
    );
    t.set_dot(
        T::Q5_1,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx512::q5_1::vec_dot_q5_1_q8_1_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx512::q5_1::gemv_q5_1_q8_1_avx512
            )),
            gemm: Some(gemm_entry!(
                BlockQ5_1,
                BlockQ8_1,
                avx512::q5_1::gemm_q5_1_q8_1_avx512
            )),
        },
    );
    t.set_dot(
        T::Q8_0,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx512::q8_0::vec_dot_q8_0_q8_0_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx512::q8_0::gemv_q8_0_q8_0_avx512
            )),
            gemm: Some(gemm_entry!(
                BlockQ8_0,
                BlockQ8_0,
                avx512::q8_0::gemm_q8_0_q8_0_avx512
            )),
        },
    );
    // K-quants (avx512-kquants helper).
    avx512::q2_k::register(t);
    avx512::q3_k::register(t);
    avx512::q4_k::register(t);
    avx512::q5_k::register(t);
    avx512::q6_k::register(t);
    avx512::q8_k::register(t);
    // Row-interleaved (x8) products.
    t.set_x8_gemm(
        T::Q4_1,
        gemm_x8_entry!(
            BlockQ4_1x8,
            BlockQ8_1,
            avx512::q4_1_x8::gemm_q4_1x8_q8_1_avx512
        ),
    );
    t.set_x8_gemm(
        T::Q5_0,
        gemm_x8_entry!(
            BlockQ5_0x8,
            BlockQ8_0,
            avx512::q5_0_x8::gemm_q5_0x8_q8_0_avx512
        ),
    );
    t.set_x8_gemm(
        T::Q8_0,
        gemm_x8_entry!(
            BlockQ8_0x8,
            BlockQ8_0,
            avx512::q8_0_x8::gemm_q8_0x8_q8_0_avx512
        ),
    );
    t.set_x8_gemm(
        T::Q4_K,
        gemm_x8_entry!(
            BlockQ4Kx8,
            BlockQ8K,
            avx512::q4_k_x8::gemm_q4_kx8_q8_k_avx512
        ),
    );
    t.set_x8_gemm(
        T::Q6_K,
        gemm_x8_entry!(
            BlockQ6Kx8,
            BlockQ8K,
            avx512::q6_k_x8::gemm_q6_kx8_q8_k_avx512
        ),
    );
}
