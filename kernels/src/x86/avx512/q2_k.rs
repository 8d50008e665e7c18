//! AVX-512 (F/BW/VL + VNNI) kernels for Q2_K weights × Q8_K activations (vec_dot, gemv, gemm),
//! bit-identical to the scalar twins in [`crate::generic::q2_k`].

use core::arch::x86_64::*;

use super::k_blocks::{self as kb, KWeightAvx512};
use crate::blocks::{BlockQ2K, BlockQ8K};
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemv_entry, vec_dot_entry, DotKernels, KernelTable};
use crate::x86::k_tile_walk as walk;

/// A Q2_K block unpacked: quants in value order (64 per vector), the scales spread by
/// [`kb::spread_scales16`], and the 16 minimums for the `bsums` term.
pub(crate) struct PreparedQ2K {
    q: [__m512i; 4],
    sc: [__m512i; 4],
    mins16: __m256i,
}

/// Marker for the Q2_K drivers.
pub(crate) struct Q2KAvx512;

impl KWeightAvx512 for Q2KAvx512 {
    type Block = BlockQ2K;
    type Prepared = PreparedQ2K;
    const OFFSET_SHIFT: Option<u32> = None;

    #[inline(always)]
    fn scale_bits(w: &BlockQ2K) -> u32 {
        w.d.to_bits() as u32 | (w.dmin.to_bits() as u32) << 16
    }

    #[inline(always)]
    unsafe fn prepare(w: &BlockQ2K) -> PreparedQ2K {
        // SAFETY: the broadcasts read 32 bytes at 0/32 of the 64-byte `qs`, the scale load the
        // whole 16-byte `scales`; the rest is register work; the caller guarantees AVX-512 F/BW.
        unsafe {
            // Vector k covers values 64k..64k + 64: half n = k / 2 of `qs`, groups j = 2(k % 2)
            // (low half) and j + 1 (high half) at bits 2j of each byte. A 16-bit shift drags in
            // bits of the neighbouring byte only above bit 1 of the low byte.
            let m3 = _mm512_set1_epi8(3);
            let mut q = [_mm512_setzero_si512(); 4];
            for (k, qv) in q.iter_mut().enumerate() {
                let raw = kb::broadcast32(w.qs.as_ptr().add(32 * (k / 2)));
                let j = 2 * (k % 2) as i16;
                let shift = kb::words_lo_hi(2 * j, 2 * j + 2);
                *qv = _mm512_and_si512(_mm512_srlv_epi16(raw, shift), m3);
            }
            let packed = _mm_loadu_si128(w.scales.as_ptr() as *const __m128i);
            let m4 = _mm_set1_epi8(0x0f);
            let scales16 = _mm256_cvtepu8_epi16(_mm_and_si128(packed, m4));
            let mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16::<4>(packed), m4));
            PreparedQ2K {
                q,
                sc: kb::spread_scales16(scales16),
                mins16,
            }
        }
    }

    #[inline(always)]
    unsafe fn partials(p: &PreparedQ2K, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX-512 F/BW and VNNI.
        unsafe { (kb::dot_scaled(&p.q, &p.sc, a), kb::dot_bsums(p.mins16, a)) }
    }
}

/// Dot product of a Q2_K row with a Q8_K row.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q2_k_q8_k_avx512(x: &[BlockQ2K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::vec_dot::<kb::Avx512Groups<Q2KAvx512>>(x, y) }
}

/// `out[r] = vec_dot(row r of w, act)`, rows of `act.len()` blocks.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemv_q2_k_q8_k_avx512(w: &[BlockQ2K], act: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::gemv::<kb::Avx512Groups<Q2KAvx512>, { kb::GEMV_ROWS }>(w, act, out) }
}

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemm_q2_k_q8_k_avx512(
    w: &[BlockQ2K],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
) {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::gemm::<kb::Avx512Groups<Q2KAvx512>>(w, act, n_act, out) }
}

/// Registers the Q2_K kernels of this file in an AVX-512 table (only for a CPU with AVX-512
/// F/BW/VL, VNNI, AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_dot(
        GgmlType::Q2_K,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ2K,
                BlockQ8K,
                vec_dot_q2_k_q8_k_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(BlockQ2K, BlockQ8K, gemv_q2_k_q8_k_avx512)),
            gemm: Some(gemm_entry!(BlockQ2K, BlockQ8K, gemm_q2_k_q8_k_avx512)),
        },
    );
}
