//! AVX2 kernels for Q3_K weights × Q8_K activations (vec_dot, gemv, gemm), bit-identical to the
//! scalar twins in [`crate::generic::q3_k`].

use core::arch::x86_64::*;

use super::k_blocks::{self as kb, KWeightAvx2};
use crate::blocks::{BlockQ3K, BlockQ8K};
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemv_entry, vec_dot_entry, DotKernels, KernelTable};
use crate::x86::k_tile_walk as walk;

/// A Q3_K block unpacked: stored quants `q + 4` in value order, scale pairs for
/// [`kb::dot_sub16`], and the 16 scales for the `-4·Σ sc·bsum` correction.
pub(crate) struct PreparedQ3K {
    q: [__m256i; 8],
    pairs: [__m256i; 8],
    scales16: __m256i,
}

/// The 16 signed scales of a Q3_K block (as [`crate::generic::q3_k::scales_q3_k`]) as i16
/// lanes, from its 12 packed scale bytes, with byte shuffles instead of a scalar loop.
///
/// Scale `j` keeps its low 4 bits in the low (`j < 8`) or high nibble of packed byte `j % 8`
/// and its top 2 bits at bits `2·(j / 4)` of packed byte `8 + j % 4`; it is stored `+ 32`.
#[inline(always)]
unsafe fn scales16_q3_k(packed: &[u8; 12]) -> __m256i {
    let mut bytes = [0u8; 16];
    bytes[..12].copy_from_slice(packed);
    // SAFETY: one 16-byte load from a 16-byte array; register operations; the caller guarantees
    // AVX2.
    unsafe {
        let v = _mm_loadu_si128(bytes.as_ptr() as *const __m128i);
        let nib = _mm_set1_epi8(0x0f);
        let low = _mm_shuffle_epi8(
            v,
            _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7),
        );
        // Lanes 0–7 take the low nibbles, lanes 8–15 (16-bit words 4–7) the high ones; bits a
        // 16-bit shift drags in from the neighbouring byte land above the kept nibble.
        let low = _mm_blend_epi16::<0xf0>(
            _mm_and_si128(low, nib),
            _mm_and_si128(_mm_srli_epi16::<4>(low), nib),
        );
        // Lane j takes bits 2·(j / 4) of packed byte 8 + j % 4: word w shifts by 2·(w / 2).
        let top = _mm_shuffle_epi8(
            v,
            _mm_setr_epi8(8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11),
        );
        let top = _mm_blend_epi16::<0b0000_1100>(top, _mm_srli_epi16::<2>(top));
        let top = _mm_blend_epi16::<0b0011_0000>(top, _mm_srli_epi16::<4>(top));
        let top = _mm_blend_epi16::<0b1100_0000>(top, _mm_srli_epi16::<6>(top));
        let top = _mm_slli_epi16::<4>(_mm_and_si128(top, _mm_set1_epi8(3)));
        let stored = _mm_or_si128(low, top);
        _mm256_cvtepi8_epi16(_mm_sub_epi8(stored, _mm_set1_epi8(32)))
    }
}

/// Marker for the Q3_K drivers.
pub(crate) struct Q3KAvx2;

impl KWeightAvx2 for Q3KAvx2 {
    type Block = BlockQ3K;
    type Prepared = PreparedQ3K;

    const OFFSET_SHIFT: Option<u32> = Some(2);

    #[inline(always)]
    fn scale_bits(w: &BlockQ3K) -> (u16, u16) {
        (w.d.to_bits(), 0)
    }

    #[inline(always)]
    unsafe fn prepare(w: &BlockQ3K) -> PreparedQ3K {
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
            let scales16 = scales16_q3_k(&w.scales);
            PreparedQ3K {
                q,
                pairs: kb::scale_pairs16(scales16),
                scales16,
            }
        }
    }

    #[inline(always)]
    unsafe fn partials(p: &PreparedQ3K, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2.
        unsafe {
            (
                kb::dot_sub16(&p.q, &p.pairs, a),
                kb::dot_bsums(p.scales16, a),
            )
        }
    }
}

/// Dot product of a Q3_K row with a Q8_K row.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q3_k_q8_k_avx2(x: &[BlockQ3K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::vec_dot::<kb::Avx2Groups<Q3KAvx2>>(x, y) }
}

/// `out[r] = vec_dot(row r of w, act)`, rows of `act.len()` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q3_k_q8_k_avx2(w: &[BlockQ3K], act: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::gemv::<kb::Avx2Groups<Q3KAvx2>, { kb::GEMV_ROWS }>(w, act, out) }
}

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q3_k_q8_k_avx2(w: &[BlockQ3K], act: &[BlockQ8K], n_act: usize, out: &mut [f32]) {
    // SAFETY: this function's contract guarantees AVX2.
    unsafe { walk::gemm::<kb::Avx2Groups<Q3KAvx2>>(w, act, n_act, out) }
}

/// Registers the Q3_K kernels of this file in an AVX2 table (only for a CPU with AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_dot(
        GgmlType::Q3_K,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ3K,
                BlockQ8K,
                vec_dot_q3_k_q8_k_avx2,
                features = "avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(BlockQ3K, BlockQ8K, gemv_q3_k_q8_k_avx2)),
            gemm: Some(gemm_entry!(BlockQ3K, BlockQ8K, gemm_q3_k_q8_k_avx2)),
        },
    );
}
