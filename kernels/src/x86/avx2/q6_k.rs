//! AVX2 kernels for Q6_K weights × Q8_K activations (vec_dot, gemv, gemm), bit-identical to the
//! scalar twins in [`crate::generic::q6_k`].

use core::arch::x86_64::*;

use super::k_blocks::{self as kb, KWeightAvx2};
use crate::blocks::{BlockQ6K, BlockQ8K};
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemv_entry, vec_dot_entry, DotKernels, KernelTable};
use crate::x86::k_tile_walk as walk;

/// A Q6_K block unpacked: stored quants `q + 32` in value order, scale pairs for
/// [`kb::dot_sub16`], and the 16 scales for the `-32·Σ sc·bsum` correction.
pub(crate) struct PreparedQ6K {
    q: [__m256i; 8],
    pairs: [__m256i; 8],
    scales16: __m256i,
}

/// Marker for the Q6_K drivers.
pub(crate) struct Q6KAvx2;

impl KWeightAvx2 for Q6KAvx2 {
    type Block = BlockQ6K;
    type Prepared = PreparedQ6K;

    const OFFSET_SHIFT: Option<u32> = Some(5);

    #[inline(always)]
    fn scale_bits(w: &BlockQ6K) -> (u16, u16) {
        (w.d.to_bits(), 0)
    }

    #[inline(always)]
    unsafe fn prepare(w: &BlockQ6K) -> PreparedQ6K {
        // SAFETY: loads read the 16-byte `scales`, 32 bytes at offsets 0/32/64/96 of the
        // 128-byte `ql` and 0/32 of the 64-byte `qh`; the rest is register work; the caller
        // guarantees AVX2.
        unsafe {
            let m4 = _mm256_set1_epi8(0x0f);
            let m2 = _mm256_set1_epi8(0x30);
            let mut q = [_mm256_setzero_si256(); 8];
            for h in 0..2 {
                let ql0 = _mm256_loadu_si256(w.ql.as_ptr().add(64 * h) as *const __m256i);
                let ql1 = _mm256_loadu_si256(w.ql.as_ptr().add(64 * h + 32) as *const __m256i);
                let qh = _mm256_loadu_si256(w.qh.as_ptr().add(32 * h) as *const __m256i);
                // Top 2 bits of group g are bits 2g..2g+2 of qh; move them to bits 4..6.
                let h0 = _mm256_and_si256(_mm256_slli_epi16::<4>(qh), m2);
                let h1 = _mm256_and_si256(_mm256_slli_epi16::<2>(qh), m2);
                let h2 = _mm256_and_si256(qh, m2);
                let h3 = _mm256_and_si256(_mm256_srli_epi16::<2>(qh), m2);
                q[4 * h] = _mm256_or_si256(_mm256_and_si256(ql0, m4), h0);
                q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), h1);
                q[4 * h + 2] =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(ql0), m4), h2);
                q[4 * h + 3] =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(ql1), m4), h3);
            }
            let scales16 =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(w.scales.as_ptr() as *const __m128i));
            PreparedQ6K {
                q,
                pairs: kb::scale_pairs16(scales16),
                scales16,
            }
        }
    }

    #[inline(always)]
    unsafe fn partials(p: &PreparedQ6K, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2.
        unsafe {
            (
                kb::dot_sub16(&p.q, &p.pairs, a),
                kb::dot_bsums(p.scales16, a),
            )
        }
    }
}

/// Dot product of a Q6_K row with a Q8_K row.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q6_k_q8_k_avx2(x: &[BlockQ6K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::vec_dot::<kb::Avx2Groups<Q6KAvx2>>(x, y) }
}

/// `out[r] = vec_dot(row r of w, act)`, rows of `act.len()` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q6_k_q8_k_avx2(w: &[BlockQ6K], act: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::gemv::<kb::Avx2Groups<Q6KAvx2>, { kb::GEMV_ROWS }>(w, act, out) }
}

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q6_k_q8_k_avx2(w: &[BlockQ6K], act: &[BlockQ8K], n_act: usize, out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::gemm::<kb::Avx2Groups<Q6KAvx2>>(w, act, n_act, out) }
}

/// Registers the Q6_K kernels of this file in an AVX2 table (only for a CPU with AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_dot(
        GgmlType::Q6_K,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ6K,
                BlockQ8K,
                vec_dot_q6_k_q8_k_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(BlockQ6K, BlockQ8K, gemv_q6_k_q8_k_avx2)),
            gemm: Some(gemm_entry!(BlockQ6K, BlockQ8K, gemm_q6_k_q8_k_avx2)),
        },
    );
}
