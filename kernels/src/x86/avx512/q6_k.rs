//! AVX-512 (F/BW/VL + VNNI) kernels for Q6_K weights × Q8_K activations (vec_dot, gemv, gemm),
//! bit-identical to the scalar twins in [`crate::generic::q6_k`].

use core::arch::x86_64::*;

use super::k_blocks::{self as kb, KWeightAvx512};
use crate::blocks::{BlockQ6K, BlockQ8K};
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemv_entry, vec_dot_entry, DotKernels, KernelTable};
use crate::x86::k_tile_walk as walk;

/// A Q6_K block unpacked: stored quants `q + 32` in value order (64 per vector), the scales
/// spread by [`kb::spread_scales16`], and the 16 scales for the `-32·Σ sc·bsum` correction.
pub(crate) struct PreparedQ6K {
    q: [__m512i; 4],
    sc: [__m512i; 4],
    scales16: __m256i,
}

/// Marker for the Q6_K drivers.
pub(crate) struct Q6KAvx512;

impl KWeightAvx512 for Q6KAvx512 {
    type Block = BlockQ6K;
    type Prepared = PreparedQ6K;
    const OFFSET_SHIFT: Option<u32> = Some(5);

    #[inline(always)]
    fn scale_bits(w: &BlockQ6K) -> u32 {
        w.d.to_bits() as u32
    }

    #[inline(always)]
    unsafe fn prepare(w: &BlockQ6K) -> PreparedQ6K {
        // SAFETY: loads read 64 bytes at 0/64 of the 128-byte `ql`, 32 bytes at 0/32 of the
        // 64-byte `qh` and the whole 16-byte `scales`; the rest is register work; the caller
        // guarantees AVX-512 F/BW.
        unsafe {
            // Half h, groups g = 0, 1 (vector 2h) and g = 2, 3 (vector 2h + 1): the low 4 bits
            // of group g are the low (g < 2) or high nibbles of `ql[64h + 32·(g & 1) + l]`, so
            // one 64-byte load serves both vectors of a half; the top 2 bits sit at bits 2g of
            // `qh[32h + l]` and move to bits 4..6 (shift 4, 2, 0, -2: 16-bit shifts move
            // neighbouring bits only outside bits 4..6, which the mask keeps).
            let m4 = _mm512_set1_epi8(0x0f);
            let m2 = _mm512_set1_epi8(0x30);
            let mut q = [_mm512_setzero_si512(); 4];
            for h in 0..2 {
                let ql = _mm512_loadu_si512(w.ql.as_ptr().add(64 * h) as *const _);
                let qh = kb::broadcast32(w.qh.as_ptr().add(32 * h));
                let high01 = _mm512_sllv_epi16(qh, kb::words_lo_hi(4, 2));
                let high23 = _mm512_srlv_epi16(qh, kb::words_lo_hi(0, 2));
                let low01 = _mm512_and_si512(ql, m4);
                let low23 = _mm512_and_si512(_mm512_srli_epi16::<4>(ql), m4);
                // low | (high & 0x30)
                q[2 * h] = _mm512_ternarylogic_epi32::<0xf8>(low01, high01, m2);
                q[2 * h + 1] = _mm512_ternarylogic_epi32::<0xf8>(low23, high23, m2);
            }
            let s8 = _mm_loadu_si128(w.scales.as_ptr() as *const __m128i);
            let scales16 = _mm256_cvtepi8_epi16(s8);
            PreparedQ6K {
                q,
                sc: kb::spread_scales16(scales16),
                scales16,
            }
        }
    }

    #[inline(always)]
    unsafe fn partials(p: &PreparedQ6K, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX-512 F/BW and VNNI.
        unsafe { (kb::dot_scaled(&p.q, &p.sc, a), kb::dot_bsums(p.scales16, a)) }
    }
}

/// Dot product of a Q6_K row with a Q8_K row.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q6_k_q8_k_avx512(x: &[BlockQ6K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::vec_dot::<kb::Avx512Groups<Q6KAvx512>>(x, y) }
}

/// `out[r] = vec_dot(row r of w, act)`, rows of `act.len()` blocks.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemv_q6_k_q8_k_avx512(w: &[BlockQ6K], act: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::gemv::<kb::Avx512Groups<Q6KAvx512>, { kb::GEMV_ROWS }>(w, act, out) }
}

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemm_q6_k_q8_k_avx512(
    w: &[BlockQ6K],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
) {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::gemm::<kb::Avx512Groups<Q6KAvx512>>(w, act, n_act, out) }
}

/// Registers the Q6_K kernels of this file in an AVX-512 table (only for a CPU with AVX-512
/// F/BW/VL, VNNI, AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_dot(
        GgmlType::Q6_K,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ6K,
                BlockQ8K,
                vec_dot_q6_k_q8_k_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(BlockQ6K, BlockQ8K, gemv_q6_k_q8_k_avx512)),
            gemm: Some(gemm_entry!(BlockQ6K, BlockQ8K, gemm_q6_k_q8_k_avx512)),
        },
    );
}
