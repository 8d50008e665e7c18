//! AVX2 kernels for Q2_K weights × Q8_K activations (vec_dot, gemv, gemm), bit-identical to the
//! scalar twins in [`crate::generic::q2_k`].

use core::arch::x86_64::*;

use super::k_blocks::{self as kb, KWeightAvx2};
use crate::blocks::{BlockQ2K, BlockQ8K};
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemv_entry, vec_dot_entry, DotKernels, KernelTable};
use crate::x86::k_tile_walk as walk;

/// A Q2_K block unpacked: quants in value order, scale pairs for [`kb::dot_sub16`], and the 16
/// minimums for the `bsums` term.
pub(crate) struct PreparedQ2K {
    q: [__m256i; 8],
    pairs: [__m256i; 8],
    mins16: __m256i,
}

/// Marker for the Q2_K drivers.
pub(crate) struct Q2KAvx2;

impl KWeightAvx2 for Q2KAvx2 {
    type Block = BlockQ2K;
    type Prepared = PreparedQ2K;

    const OFFSET_SHIFT: Option<u32> = None;

    #[inline(always)]
    fn scale_bits(w: &BlockQ2K) -> (u16, u16) {
        (w.d.to_bits(), w.dmin.to_bits())
    }

    #[inline(always)]
    unsafe fn prepare(w: &BlockQ2K) -> PreparedQ2K {
        // SAFETY: loads read the 16-byte `scales` and 32 bytes at 0/32 of the 64-byte `qs`; the
        // rest is register work; the caller guarantees AVX2.
        unsafe {
            // Scale j is the low nibble of byte j, its min the high nibble.
            let packed = _mm_loadu_si128(w.scales.as_ptr() as *const __m128i);
            let nib = _mm_set1_epi8(0x0f);
            let scales8 = _mm_and_si128(packed, nib);
            let mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16::<4>(packed), nib));
            let m3 = _mm256_set1_epi8(3);
            let mut q = [_mm256_setzero_si256(); 8];
            for n in 0..2 {
                // Group j sits at bits 2j..2j+2; shift right 2 per group (bits a 16-bit shift
                // drags in from the neighbouring byte never reach bits 0..2 within 3 shifts).
                let mut raw = _mm256_loadu_si256(w.qs.as_ptr().add(32 * n) as *const __m256i);
                for j in 0..4 {
                    q[4 * n + j] = _mm256_and_si256(raw, m3);
                    raw = _mm256_srli_epi16::<2>(raw);
                }
            }
            PreparedQ2K {
                q,
                pairs: kb::scale_pairs16_u8(scales8),
                mins16,
            }
        }
    }

    #[inline(always)]
    unsafe fn partials(p: &PreparedQ2K, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2.
        unsafe { (kb::dot_sub16(&p.q, &p.pairs, a), kb::dot_bsums(p.mins16, a)) }
    }
}

/// Dot product of a Q2_K row with a Q8_K row.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q2_k_q8_k_avx2(x: &[BlockQ2K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::vec_dot::<kb::Avx2Groups<Q2KAvx2>>(x, y) }
}

/// `out[r] = vec_dot(row r of w, act)`, rows of `act.len()` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q2_k_q8_k_avx2(w: &[BlockQ2K], act: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::gemv::<kb::Avx2Groups<Q2KAvx2>, { kb::GEMV_ROWS }>(w, act, out) }
}

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q2_k_q8_k_avx2(w: &[BlockQ2K], act: &[BlockQ8K], n_act: usize, out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::gemm::<kb::Avx2Groups<Q2KAvx2>>(w, act, n_act, out) }
}

/// Registers the Q2_K kernels of this file in an AVX2 table (only for a CPU with AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_dot(
        GgmlType::Q2_K,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ2K,
                BlockQ8K,
                vec_dot_q2_k_q8_k_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(BlockQ2K, BlockQ8K, gemv_q2_k_q8_k_avx2)),
            gemm: Some(gemm_entry!(BlockQ2K, BlockQ8K, gemm_q2_k_q8_k_avx2)),
        },
    );
}
