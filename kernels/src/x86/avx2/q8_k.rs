//! AVX2 Q8_K activation quantizer, bit-identical to the scalar twin
//! [`crate::generic::q8_k::quantize_row_q8_k`] (and so to ggml's reference).
//!
//! Every step repeats the twin's arithmetic lane by lane: the same `|x|` maximum (NaN never
//! wins), the first value reaching it gives the sign, one f32 product and ggml's add-1.5·2²³
//! rounding per value. For finite data every quant lies in `-127..=127`, so saturating packs are
//! exact; blocks whose maximum is infinite or so small that `127 / max` overflows (where the
//! twin's C-style int-to-i8 truncation matters) go to the twin.

use core::arch::x86_64::*;

use crate::blocks::BlockQ8K;
use crate::generic::q8_k::quantize_row_q8_k;
use crate::ggml_type::{GgmlType, QK_K};
use crate::table::{quantize_entry, KernelTable};

/// `min(127, nearest_int(iscale·x))` for the 8 floats at `p`, as ggml rounds: add 1.5·2²³ and
/// read the integer from the mantissa.
#[inline(always)]
unsafe fn round8(iscale: __m256, p: *const f32) -> __m256i {
    // SAFETY: the caller guarantees AVX2 and 8 readable floats at `p`.
    unsafe {
        let prod = _mm256_mul_ps(iscale, _mm256_loadu_ps(p));
        let bits = _mm256_castps_si256(_mm256_add_ps(prod, _mm256_set1_ps(12_582_912.0)));
        let q = _mm256_sub_epi32(
            _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff)),
            _mm256_set1_epi32(0x0040_0000),
        );
        _mm256_min_epi32(q, _mm256_set1_epi32(127))
    }
}

/// Quantizes one block; `false` when the block must go to the scalar twin.
#[inline(always)]
unsafe fn quantize_block(src: &[f32], blk: &mut BlockQ8K) -> bool {
    debug_assert_eq!(src.len(), QK_K);
    // SAFETY: loads read 8 floats at `8k < 256` of the 256-float `src`, stores write 32 bytes
    // at `32c < 256` of the 256-byte `qs`; the rest is register work; the caller guarantees
    // AVX2.
    unsafe {
        let ptr = src.as_ptr();
        let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
        let mut m = _mm256_setzero_ps();
        for k in 0..QK_K / 8 {
            let a = _mm256_and_ps(_mm256_loadu_ps(ptr.add(8 * k)), abs_mask);
            // `max_ps` returns its second operand when either is NaN: NaN never wins.
            m = _mm256_max_ps(a, m);
        }
        let m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
        let m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        let amax = _mm_cvtss_f32(_mm_max_ss(m2, _mm_shuffle_ps::<0b01>(m2, m2)));
        if amax == 0.0 {
            blk.d = 0.0;
            blk.qs = [0; QK_K];
            blk.bsums = [0; QK_K / 16];
            return true;
        }
        if !amax.is_finite() || !(127.0f32 / amax).is_finite() {
            return false;
        }
        // The first value whose magnitude is the maximum carries the sign.
        let target = _mm256_set1_ps(amax);
        let mut max = amax;
        for k in 0..QK_K / 8 {
            let a = _mm256_and_ps(_mm256_loadu_ps(ptr.add(8 * k)), abs_mask);
            let hits = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(a, target));
            if hits != 0 {
                max = src[8 * k + hits.trailing_zeros() as usize];
                break;
            }
        }
        let iscale = -127.0f32 / max;
        let vscale = _mm256_set1_ps(iscale);
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for c in 0..QK_K / 32 {
            let at = ptr.add(32 * c);
            // Packs interleave 128-bit lanes; the permute puts the 32 bytes back in order.
            let w01 = _mm256_packs_epi32(round8(vscale, at), round8(vscale, at.add(8)));
            let w23 = _mm256_packs_epi32(round8(vscale, at.add(16)), round8(vscale, at.add(24)));
            let b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w01, w23), order);
            _mm256_storeu_si256(blk.qs.as_mut_ptr().add(32 * c) as *mut __m256i, b);
        }
        for (sum, group) in blk.bsums.iter_mut().zip(blk.qs.chunks_exact(16)) {
            *sum = group.iter().map(|&q| q as i16).sum();
        }
        blk.d = 1.0 / iscale;
        true
    }
}

/// Quantizes `x` (a multiple of 256 values) into Q8_K blocks, exactly as the scalar twin.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_k_avx2(x: &[f32], y: &mut [BlockQ8K]) {
    for (src, blk) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        // SAFETY: this function's contract guarantees AVX2.
        if !unsafe { quantize_block(src, blk) } {
            quantize_row_q8_k(src, core::slice::from_mut(blk));
        }
    }
}

/// Registers the Q8_K quantizer in an AVX2 table (only for a CPU with AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_quantize(
        GgmlType::Q8_K,
        quantize_entry!(BlockQ8K, quantize_row_q8_k_avx2),
    );
}
