//! AVX-512 (F/BW/VL + VNNI) kernels for Q3_K weights × Q8_K activations (vec_dot, gemv, gemm),
//! bit-identical to the scalar twins in [`crate::generic::q3_k`].

use core::arch::x86_64::*;

use super::k_blocks::{self as kb, KWeightAvx512};
use crate::blocks::{BlockQ3K, BlockQ8K};
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemv_entry, vec_dot_entry, DotKernels, KernelTable};
use crate::x86::k_tile_walk as walk;

/// A Q3_K block unpacked: stored quants `q + 4` in value order (64 per vector), the scales
/// spread by [`kb::spread_scales16`], and the 16 scales for the `-4·Σ sc·bsum` correction.
pub(crate) struct PreparedQ3K {
    q: [__m512i; 4],
    sc: [__m512i; 4],
    scales16: __m256i,
}

/// The 16 signed scales of a Q3_K block (as [`crate::generic::q3_k::scales_q3_k`]) as i16
/// lanes, from the block's last 16 bytes (two quant bytes, the 12 packed scale bytes, `d`).
///
/// Scale `j` keeps its low 4 bits in the low (`j < 8`) or high nibble of packed byte `j % 8`
/// and its top 2 bits at bits `2·(j / 4)` of packed byte `8 + j % 4`; it is stored `+ 32`.
#[inline(always)]
unsafe fn scales16_q3_k(tail: &[u8; 16]) -> __m256i {
    // SAFETY: one 16-byte load from a 16-byte array; register operations; the caller guarantees
    // AVX-512 BW/VL.
    unsafe {
        let v = _mm_loadu_si128(tail.as_ptr() as *const __m128i);
        // Packed byte k is byte 2 + k of `tail`.
        let low = _mm_shuffle_epi8(
            v,
            _mm_setr_epi8(2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, 6, 7, 8, 9),
        );
        let top = _mm_shuffle_epi8(
            v,
            _mm_setr_epi8(
                10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13,
            ),
        );
        // Lanes 8–15 take the high nibbles; lane j takes the top bits at 2·(j / 4). Both per
        // 16-bit word (two lanes share a shift); bits dragged in from the neighbouring byte land
        // above the bits the masks keep.
        let low = _mm_srlv_epi16(low, _mm_setr_epi16(0, 0, 0, 0, 4, 4, 4, 4));
        let low = _mm_and_si128(low, _mm_set1_epi8(0x0f));
        let top = _mm_srlv_epi16(top, _mm_setr_epi16(0, 0, 2, 2, 4, 4, 6, 6));
        let top = _mm_slli_epi16::<4>(_mm_and_si128(top, _mm_set1_epi8(3)));
        let stored = _mm_or_si128(low, top);
        _mm256_cvtepi8_epi16(_mm_sub_epi8(stored, _mm_set1_epi8(32)))
    }
}

/// Marker for the Q3_K drivers.
pub(crate) struct Q3KAvx512;

impl KWeightAvx512 for Q3KAvx512 {
    type Block = BlockQ3K;
    type Prepared = PreparedQ3K;
    const OFFSET_SHIFT: Option<u32> = Some(2);

    #[inline(always)]
    fn scale_bits(w: &BlockQ3K) -> u32 {
        w.d.to_bits() as u32
    }

    #[inline(always)]
    unsafe fn prepare(w: &BlockQ3K) -> PreparedQ3K {
        // The last two quant bytes, the 12 packed scale bytes and `d`.
        let bytes = bytemuck::bytes_of(w);
        let tail: &[u8; 16] = bytes[bytes.len() - 16..].try_into().unwrap();
        // SAFETY: the broadcasts read 32 bytes at 0/32 of the 64-byte `qs` and the whole 32-byte
        // `hmask`; the rest is register work; the caller guarantees AVX-512 F/BW.
        unsafe {
            // Vector k covers values 64k..64k + 64: half n = k / 2, groups j = 2(k % 2) (low
            // half) and j + 1 (high half): low 2 bits at bits 2j of `qs[32n + l]` (a 16-bit
            // shift drags in bits of the neighbouring byte only above bit 1), high bit at bit
            // 4n + j of `hmask[l]`, worth 4.
            let m3 = _mm512_set1_epi8(3);
            let four = _mm512_set1_epi8(4);
            let hmask = kb::broadcast32(w.hmask.as_ptr());
            let mut q = [_mm512_setzero_si512(); 4];
            for (k, qv) in q.iter_mut().enumerate() {
                let n = k / 2;
                let j = 2 * (k % 2);
                let raw = kb::broadcast32(w.qs.as_ptr().add(32 * n));
                let shift = kb::words_lo_hi(2 * j as i16, 2 * j as i16 + 2);
                let low = _mm512_and_si512(_mm512_srlv_epi16(raw, shift), m3);
                let bit = 4 * n + j;
                let high = _mm512_test_epi8_mask(hmask, kb::bytes_lo_hi(1 << bit, 2 << bit));
                *qv = _mm512_mask_add_epi8(low, high, low, four);
            }
            let scales16 = scales16_q3_k(tail);
            PreparedQ3K {
                q,
                sc: kb::spread_scales16(scales16),
                scales16,
            }
        }
    }

    #[inline(always)]
    unsafe fn partials(p: &PreparedQ3K, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX-512 F/BW and VNNI.
        unsafe { (kb::dot_scaled(&p.q, &p.sc, a), kb::dot_bsums(p.scales16, a)) }
    }
}

/// Dot product of a Q3_K row with a Q8_K row.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q3_k_q8_k_avx512(x: &[BlockQ3K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::vec_dot::<kb::Avx512Groups<Q3KAvx512>>(x, y) }
}

/// `out[r] = vec_dot(row r of w, act)`, rows of `act.len()` blocks.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemv_q3_k_q8_k_avx512(w: &[BlockQ3K], act: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::gemv::<kb::Avx512Groups<Q3KAvx512>, { kb::GEMV_ROWS }>(w, act, out) }
}

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemm_q3_k_q8_k_avx512(
    w: &[BlockQ3K],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
) {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::gemm::<kb::Avx512Groups<Q3KAvx512>>(w, act, n_act, out) }
}

/// Registers the Q3_K kernels of this file in an AVX-512 table (only for a CPU with AVX-512
/// F/BW/VL, VNNI, AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_dot(
        GgmlType::Q3_K,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ3K,
                BlockQ8K,
                vec_dot_q3_k_q8_k_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(BlockQ3K, BlockQ8K, gemv_q3_k_q8_k_avx512)),
            gemm: Some(gemm_entry!(BlockQ3K, BlockQ8K, gemm_q3_k_q8_k_avx512)),
        },
    );
}
