//! AVX-512 Q8_K activation quantizer, bit-identical to the scalar twin
//! [`crate::generic::q8_k::quantize_row_q8_k`] (and so to ggml's reference).
//!
//! The AVX2 quantizer's steps sixteen lanes at a time: the same `|x|` maximum (NaN never wins),
//! the first value reaching it gives the sign, one f32 product and ggml's add-1.5·2²³ rounding per
//! value. Every rounded value lies in `-127..=127` (finite products are at most 127 in
//! magnitude; a NaN reads back a quiet-NaN mantissa, which is at least `2²²`, so `0..=127` after
//! the clamp), so narrowing i32 to i8 is the twin's `as i8`. Blocks whose maximum is infinite or
//! so small that `127 / max` overflows go to the twin.

use core::arch::x86_64::*;

use crate::blocks::BlockQ8K;
use crate::generic::q8_k::quantize_row_q8_k;
use crate::ggml_type::{GgmlType, QK_K};
use crate::table::{quantize_entry, KernelTable};

/// `min(127, nearest_int(iscale·x))` for the 16 floats at `p`, narrowed to bytes.
#[inline(always)]
unsafe fn round16(iscale: __m512, p: *const f32) -> __m128i {
    // SAFETY: the caller guarantees AVX-512 F and 16 readable floats at `p`.
    unsafe {
        let prod = _mm512_mul_ps(iscale, _mm512_loadu_ps(p));
        let bits = _mm512_castps_si512(_mm512_add_ps(prod, _mm512_set1_ps(12_582_912.0)));
        let q = _mm512_sub_epi32(
            _mm512_and_si512(bits, _mm512_set1_epi32(0x007f_ffff)),
            _mm512_set1_epi32(0x0040_0000),
        );
        _mm512_cvtepi32_epi8(_mm512_min_epi32(q, _mm512_set1_epi32(127)))
    }
}

/// Quantizes one block; `false` when the block must go to the scalar twin.
#[inline(always)]
unsafe fn quantize_block(src: &[f32], blk: &mut BlockQ8K) -> bool {
    debug_assert_eq!(src.len(), QK_K);
    // SAFETY: loads read 16 floats at `16k < 256` of the 256-float `src`, stores write 16 bytes
    // at `16k < 256` of the 256-byte `qs`; the rest is register work; the caller guarantees
    // AVX-512 F.
    unsafe {
        let ptr = src.as_ptr();
        let abs_mask = _mm512_set1_epi32(0x7fff_ffff);
        let abs = |k: usize| {
            _mm512_castsi512_ps(_mm512_and_si512(
                _mm512_castps_si512(_mm512_loadu_ps(ptr.add(16 * k))),
                abs_mask,
            ))
        };
        let mut m = _mm512_setzero_ps();
        for k in 0..QK_K / 16 {
            // `max_ps` returns its second operand when either is NaN: NaN never wins.
            m = _mm512_max_ps(abs(k), m);
        }
        let m8 = _mm256_max_ps(
            _mm512_castps512_ps256(m),
            _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(m))),
        );
        let m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps::<1>(m8));
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
        let target = _mm512_set1_ps(amax);
        let mut max = amax;
        for k in 0..QK_K / 16 {
            let hits = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(abs(k), target);
            if hits != 0 {
                max = src[16 * k + hits.trailing_zeros() as usize];
                break;
            }
        }
        let iscale = -127.0f32 / max;
        let vscale = _mm512_set1_ps(iscale);
        for k in 0..QK_K / 16 {
            let b = round16(vscale, ptr.add(16 * k));
            _mm_storeu_si128(blk.qs.as_mut_ptr().add(16 * k) as *mut __m128i, b);
        }
        // Index loops: iterator adapters here are left as out-of-line calls in the leaf.
        for j in 0..QK_K / 16 {
            let mut sum = 0i16;
            for e in 16 * j..16 * j + 16 {
                sum += blk.qs[e] as i16;
            }
            blk.bsums[j] = sum;
        }
        blk.d = 1.0 / iscale;
        true
    }
}

/// Quantizes `x` (a multiple of 256 values) into Q8_K blocks, exactly as the scalar twin.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_k_avx512(x: &[f32], y: &mut [BlockQ8K]) {
    for i in 0..y.len().min(x.len() / QK_K) {
        let src = &x[QK_K * i..QK_K * (i + 1)];
        // SAFETY: this function's contract guarantees the features.
        if !unsafe { quantize_block(src, &mut y[i]) } {
            quantize_row_q8_k(src, core::slice::from_mut(&mut y[i]));
        }
    }
}

/// Registers the Q8_K quantizer in an AVX-512 table (only for a CPU with AVX-512 F/BW/VL, VNNI,
/// AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_quantize(
        GgmlType::Q8_K,
        quantize_entry!(BlockQ8K, quantize_row_q8_k_avx512),
    );
}
