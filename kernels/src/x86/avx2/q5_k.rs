//! AVX2 kernels for Q5_K weights × Q8_K activations (vec_dot, gemv, gemm), bit-identical to the
//! scalar twins in [`crate::generic::q5_k`].

use core::arch::x86_64::*;

use super::k_blocks::{self as kb, KWeightAvx2};
use crate::blocks::{BlockQ5K, BlockQ8K};
use crate::generic::q4_k::scales_mins_k4;
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemv_entry, vec_dot_entry, DotKernels, KernelTable};
use crate::x86::k_tile_walk as walk;

/// A Q5_K block unpacked: quants in value order, scales, and the minimums spread over the 16
/// per-16 activation sums.
pub(crate) struct PreparedQ5K {
    q: [__m256i; 8],
    sc8: __m128i,
    mins16: __m256i,
}

/// Marker for the Q5_K drivers.
pub(crate) struct Q5KAvx2;

impl KWeightAvx2 for Q5KAvx2 {
    type Block = BlockQ5K;
    type Prepared = PreparedQ5K;

    const OFFSET_SHIFT: Option<u32> = None;

    #[inline(always)]
    fn scale_bits(w: &BlockQ5K) -> (u16, u16) {
        (w.d.to_bits(), w.dmin.to_bits())
    }

    #[inline(always)]
    unsafe fn prepare(w: &BlockQ5K) -> PreparedQ5K {
        let (sc, mn) = scales_mins_k4(&w.scales);
        // SAFETY: loads read 32 bytes at `32c` of the 128-byte `qs` and the whole 32-byte `qh`;
        // the rest is register work; the caller guarantees AVX2.
        unsafe {
            let m4 = _mm256_set1_epi8(0x0f);
            let one = _mm256_set1_epi8(1);
            let mut qh = _mm256_loadu_si256(w.qh.as_ptr() as *const __m256i);
            let mut q = [_mm256_setzero_si256(); 8];
            for c in 0..4 {
                let raw = _mm256_loadu_si256(w.qs.as_ptr().add(32 * c) as *const __m256i);
                // Bits 2c and 2c+1 of each qh byte, after shifting qh right by 2c (bits that a
                // 16-bit shift drags in from the neighbouring byte are masked off).
                let b_lo = _mm256_slli_epi16::<4>(_mm256_and_si256(qh, one));
                let b_hi =
                    _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srli_epi16::<1>(qh), one));
                q[2 * c] = _mm256_or_si256(_mm256_and_si256(raw, m4), b_lo);
                q[2 * c + 1] =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(raw), m4), b_hi);
                qh = _mm256_srli_epi16::<2>(qh);
            }
            let m8 = _mm_cvtsi64_si128(i64::from_le_bytes(mn));
            let mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
            PreparedQ5K {
                q,
                sc8: _mm_cvtsi64_si128(i64::from_le_bytes(sc)),
                mins16,
            }
        }
    }

    #[inline(always)]
    unsafe fn partials(p: &PreparedQ5K, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2.
        unsafe { (kb::dot_sub32(&p.q, p.sc8, a), kb::dot_bsums(p.mins16, a)) }
    }
}

/// Dot product of a Q5_K row with a Q8_K row.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q5_k_q8_k_avx2(x: &[BlockQ5K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::vec_dot::<kb::Avx2Groups<Q5KAvx2>>(x, y) }
}

/// `out[r] = vec_dot(row r of w, act)`, rows of `act.len()` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q5_k_q8_k_avx2(w: &[BlockQ5K], act: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::gemv::<kb::Avx2Groups<Q5KAvx2>, { kb::GEMV_ROWS }>(w, act, out) }
}

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q5_k_q8_k_avx2(w: &[BlockQ5K], act: &[BlockQ8K], n_act: usize, out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::gemm::<kb::Avx2Groups<Q5KAvx2>>(w, act, n_act, out) }
}

/// Registers the Q5_K kernels of this file in an AVX2 table (only for a CPU with AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_dot(
        GgmlType::Q5_K,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ5K,
                BlockQ8K,
                vec_dot_q5_k_q8_k_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(BlockQ5K, BlockQ8K, gemv_q5_k_q8_k_avx2)),
            gemm: Some(gemm_entry!(BlockQ5K, BlockQ8K, gemm_q5_k_q8_k_avx2)),
        },
    );
}
