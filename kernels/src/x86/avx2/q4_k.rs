//! AVX2 kernels for Q4_K weights × Q8_K activations (vec_dot, gemv, gemm), bit-identical to the
//! scalar twins in [`crate::generic::q4_k`].

use core::arch::x86_64::*;

use super::k_blocks::{self as kb, KWeightAvx2};
use crate::blocks::{BlockQ4K, BlockQ8K};
use crate::generic::q4_k::scales_mins_k4;
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemv_entry, vec_dot_entry, DotKernels, KernelTable};
use crate::x86::k_tile_walk as walk;

/// A Q4_K block unpacked: quants in value order, scales, and the minimums spread over the 16
/// per-16 activation sums (`mn[j / 2]` at position `j`).
pub(crate) struct PreparedQ4K {
    q: [__m256i; 8],
    sc8: __m128i,
    mins16: __m256i,
}

/// Marker for the Q4_K drivers.
pub(crate) struct Q4KAvx2;

impl KWeightAvx2 for Q4KAvx2 {
    type Block = BlockQ4K;
    type Prepared = PreparedQ4K;

    const OFFSET_SHIFT: Option<u32> = None;

    #[inline(always)]
    fn scale_bits(w: &BlockQ4K) -> (u16, u16) {
        (w.d.to_bits(), w.dmin.to_bits())
    }

    #[inline(always)]
    unsafe fn prepare(w: &BlockQ4K) -> PreparedQ4K {
        let (sc, mn) = scales_mins_k4(&w.scales);
        // SAFETY: each load reads 32 bytes at `32c` of the 128-byte `qs`; the rest is register
        // work; the caller guarantees AVX2.
        unsafe {
            let mask = _mm256_set1_epi8(0x0f);
            let mut q = [_mm256_setzero_si256(); 8];
            for c in 0..4 {
                let raw = _mm256_loadu_si256(w.qs.as_ptr().add(32 * c) as *const __m256i);
                q[2 * c] = _mm256_and_si256(raw, mask);
                q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16::<4>(raw), mask);
            }
            // mn[j / 2] at i16 position j: duplicate each byte, then widen.
            let m8 = _mm_cvtsi64_si128(i64::from_le_bytes(mn));
            let mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
            PreparedQ4K {
                q,
                sc8: _mm_cvtsi64_si128(i64::from_le_bytes(sc)),
                mins16,
            }
        }
    }

    #[inline(always)]
    unsafe fn partials(p: &PreparedQ4K, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2.
        unsafe { (kb::dot_sub32(&p.q, p.sc8, a), kb::dot_bsums(p.mins16, a)) }
    }
}

/// Dot product of a Q4_K row with a Q8_K row.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q4_k_q8_k_avx2(x: &[BlockQ4K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::vec_dot::<kb::Avx2Groups<Q4KAvx2>>(x, y) }
}

/// `out[r] = vec_dot(row r of w, act)`, rows of `act.len()` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q4_k_q8_k_avx2(w: &[BlockQ4K], act: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::gemv::<kb::Avx2Groups<Q4KAvx2>, { kb::GEMV_ROWS }>(w, act, out) }
}

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q4_k_q8_k_avx2(w: &[BlockQ4K], act: &[BlockQ8K], n_act: usize, out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::gemm::<kb::Avx2Groups<Q4KAvx2>>(w, act, n_act, out) }
}

/// Registers the Q4_K kernels of this file in an AVX2 table (only for a CPU with AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_dot(
        GgmlType::Q4_K,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ4K,
                BlockQ8K,
                vec_dot_q4_k_q8_k_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(BlockQ4K, BlockQ8K, gemv_q4_k_q8_k_avx2)),
            gemm: Some(gemm_entry!(BlockQ4K, BlockQ8K, gemm_q4_k_q8_k_avx2)),
        },
    );
}
