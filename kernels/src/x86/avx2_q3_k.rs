//! AVX2 kernels for Q3_K weights × Q8_K activations (vec_dot, gemv, gemm), bit-identical to the
//! scalar twins in [`crate::generic::q3_k`].

use core::arch::x86_64::*;

use super::avx2_k_blocks::{self as kb, KWeightAvx2};
use crate::blocks::{BlockQ3K, BlockQ8K};
use crate::generic::q3_k::{block_term_k_sym_f32, scales_q3_k};
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemv_entry, vec_dot_entry, DotKernels, KernelTable};

/// A Q3_K block unpacked: stored quants `q + 4` in value order, scale pairs for
/// [`kb::dot_sub16`], and the 16 scales for the `-4·Σ sc·bsum` correction.
pub(crate) struct PreparedQ3K {
    q: [__m256i; 8],
    pairs: [__m256i; 8],
    scales16: __m256i,
}

/// Marker for the Q3_K drivers.
pub(crate) struct Q3KAvx2;

impl KWeightAvx2 for Q3KAvx2 {
    type Block = BlockQ3K;
    type Prepared = PreparedQ3K;

    #[inline(always)]
    unsafe fn prepare(w: &BlockQ3K) -> PreparedQ3K {
        let sc = scales_q3_k(&w.scales);
        let scales: [i16; 16] = sc.map(|s| s as i16);
        // SAFETY: loads read 32 bytes at 0/32 of the 64-byte `qs` and the whole 32-byte
        // `hmask`; the rest is register work; the caller guarantees AVX2.
        unsafe {
            let m3 = _mm256_set1_epi8(3);
            let one = _mm256_set1_epi8(1);
            // Group k's high bit is bit k of each hmask byte; shift right 1 per group (bits a
            // 16-bit shift drags in never reach bit 0 within 7 shifts).
            let mut hm = _mm256_loadu_si256(w.hmask.as_ptr() as *const __m256i);
            let mut q = [_mm256_setzero_si256(); 8];
            for n in 0..2 {
                let mut raw = _mm256_loadu_si256(w.qs.as_ptr().add(32 * n) as *const __m256i);
                for j in 0..4 {
                    let high = _mm256_slli_epi16::<2>(_mm256_and_si256(hm, one));
                    q[4 * n + j] = _mm256_or_si256(_mm256_and_si256(raw, m3), high);
                    raw = _mm256_srli_epi16::<2>(raw);
                    hm = _mm256_srli_epi16::<1>(hm);
                }
            }
            let scales16 = kb::load_i16x16(&scales);
            PreparedQ3K {
                q,
                pairs: kb::scale_pairs16(scales16),
                scales16,
            }
        }
    }

    #[inline(always)]
    unsafe fn block_term(p: &PreparedQ3K, w: &BlockQ3K, a: &BlockQ8K) -> f32 {
        // SAFETY: the caller guarantees AVX2.
        let (isum, offset) = unsafe {
            kb::hsum_pair(
                kb::dot_sub16(&p.q, &p.pairs, a),
                kb::dot_bsums(p.scales16, a),
            )
        };
        // SAFETY: the caller guarantees F16C.
        let d = unsafe { kb::f16_to_f32(w.d) };
        block_term_k_sym_f32(d, a.d, isum - 4 * offset)
    }
}

/// Dot product of a Q3_K row with a Q8_K row.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q3_k_q8_k_avx2(x: &[BlockQ3K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { kb::vec_dot::<Q3KAvx2>(x, y) }
}

/// `out[r] = vec_dot(row r of w, act)`, rows of `act.len()` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q3_k_q8_k_avx2(w: &[BlockQ3K], act: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { kb::gemv::<Q3KAvx2>(w, act, out) }
}

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q3_k_q8_k_avx2(w: &[BlockQ3K], act: &[BlockQ8K], n_act: usize, out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { kb::gemm::<Q3KAvx2>(w, act, n_act, out) }
}

/// Registers the Q3_K kernels of this file in an AVX2 table (only for a CPU with AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_dot(
        GgmlType::Q3_K,
        DotKernels {
            vec_dot: vec_dot_entry!(BlockQ3K, BlockQ8K, vec_dot_q3_k_q8_k_avx2),
            gemv: Some(gemv_entry!(BlockQ3K, BlockQ8K, gemv_q3_k_q8_k_avx2)),
            gemm: Some(gemm_entry!(BlockQ3K, BlockQ8K, gemm_q3_k_q8_k_avx2)),
        },
    );
}
