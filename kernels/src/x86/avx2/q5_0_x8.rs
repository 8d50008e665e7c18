//! AVX2 x8 products of Q5_0 weights ([`BlockQ5_0x8`]) with Q8_0 activations, bit-identical to
//! the scalar twin [`crate::generic::x8::q5_0`] (and so to `vec_dot_q5_0_q8_0`).
//!
//! Integer part: the unsigned 5-bit quants `q` (0..32) against the activations, `maddubs` summed
//! four at a time in 16 bits (at most `4·2·31·128 = 31744`, exact for every activation byte),
//! then `Σ (q - 16)·a = Σ q·a - 16·Σ a` with the activation block's exact sum, which the driver
//! works out once per activation row and keeps for every stripe. The activation words are
//! broadcast straight from memory ([`super::x8_lanes::word_dot`]): compiled from plain loads,
//! this pair's eight became one vector load and sixteen shuffles per block and activation row,
//! and those shuffles, not the multiplies, bounded Gemma's prefill (pp512 286 → 340 tok/s).

use core::arch::x86_64::*;

use super::x8_lanes::{f16_in_lanes, f16x8, load32, nibble_words, word_dot};
use crate::blocks::BlockQ8_0;
use crate::blocks_x8::BlockQ5_0x8;
use crate::generic::x8::q5_0::Q5_0x8;
use crate::x8_walk::{self as walk, X8Pair};

/// Marker for the Q5_0 x8 × Q8_0 driver.
pub(crate) struct Q5_0x8Avx2;

/// An x8 block unpacked: the 5-bit quant words (`q[g]`: values `4g..4g+4` of the eight rows)
/// and the rows' scales.
#[derive(Clone, Copy)]
pub(crate) struct Q5_0Ready {
    pub(crate) q: [__m256i; 8],
    pub(crate) d: __m256,
}

/// Bit 4 of every byte of word `g`: the fifth bits, which `qh` keeps at bit `g` of each byte.
/// The 16-bit shifts move no bit across a byte boundary into bit 4 (at most four places left,
/// three right).
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn fifth_bits<const G: usize>(qh: __m256i) -> __m256i {
    // SAFETY: register-only AVX2 operations.
    unsafe {
        let moved = match G {
            0 => _mm256_slli_epi16::<4>(qh),
            1 => _mm256_slli_epi16::<3>(qh),
            2 => _mm256_slli_epi16::<2>(qh),
            3 => _mm256_slli_epi16::<1>(qh),
            4 => qh,
            5 => _mm256_srli_epi16::<1>(qh),
            6 => _mm256_srli_epi16::<2>(qh),
            _ => _mm256_srli_epi16::<3>(qh),
        };
        _mm256_and_si256(moved, _mm256_set1_epi8(0x10))
    }
}

/// The exact sum of a Q8_0 block's 32 quants.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn quant_sum(a: &BlockQ8_0) -> i32 {
    // SAFETY: the load reads the block's 32 quants; register-only AVX2 otherwise.
    unsafe {
        let pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), load32(&a.qs));
        let s = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
        let s = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
        let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01>(s));
        _mm_cvtsi128_si32(s)
    }
}

/// The eight rows' float terms `(dx·dy)·isum` of a Q8_0-activation pair, as the twin.
///
/// # Safety
/// The CPU supports AVX2 and F16C.
#[inline(always)]
pub(crate) unsafe fn scaled_terms(isum: __m256i, d: __m256, a: &BlockQ8_0) -> __m256 {
    // SAFETY: register-only AVX2/F16C operations.
    unsafe {
        let dd = _mm256_mul_ps(d, f16_in_lanes(a.d.to_bits()));
        _mm256_mul_ps(dd, _mm256_cvtepi32_ps(isum))
    }
}

impl X8Pair for Q5_0x8Avx2 {
    type Lanes = __m256;
    type Twin = Q5_0x8;
    type Ready = Q5_0Ready;
    const ACT_SUMS: bool = true;

    #[inline(always)]
    unsafe fn new_ready() -> Q5_0Ready {
        // SAFETY: register-only AVX operations.
        unsafe {
            Q5_0Ready {
                q: [_mm256_setzero_si256(); 8],
                d: _mm256_setzero_ps(),
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ5_0x8, r: &mut Q5_0Ready) {
        // SAFETY: the caller guarantees AVX2 and F16C; the loads read the block's own arrays.
        unsafe {
            let q = nibble_words(&w.qs);
            let qh = load32(&w.qh);
            r.q = [
                _mm256_or_si256(q[0], fifth_bits::<0>(qh)),
                _mm256_or_si256(q[1], fifth_bits::<1>(qh)),
                _mm256_or_si256(q[2], fifth_bits::<2>(qh)),
                _mm256_or_si256(q[3], fifth_bits::<3>(qh)),
                _mm256_or_si256(q[4], fifth_bits::<4>(qh)),
                _mm256_or_si256(q[5], fifth_bits::<5>(qh)),
                _mm256_or_si256(q[6], fifth_bits::<6>(qh)),
                _mm256_or_si256(q[7], fifth_bits::<7>(qh)),
            ];
            r.d = f16x8(&w.d);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q5_0Ready, a: &BlockQ8_0, a_sum: i32) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C; `word_dot` reads inside `a.qs`.
        unsafe {
            let dot = word_dot(&r.q, &a.qs);
            let isum = _mm256_sub_epi32(dot, _mm256_set1_epi32(a_sum.wrapping_mul(16)));
            scaled_terms(isum, r.d, a)
        }
    }

    #[inline(always)]
    unsafe fn act_sum(a: &BlockQ8_0) -> i32 {
        // SAFETY: the caller guarantees AVX2.
        unsafe { quant_sum(a) }
    }
}

/// AVX2 twin of [`crate::generic::x8::q5_0::gemm_q5_0x8_q8_0`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; the operands meet the [`crate::table::GemmX8Fn`]
/// contract.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q5_0x8_q8_0_avx2(
    w: &[BlockQ5_0x8],
    act: &[BlockQ8_0],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    // SAFETY: the caller guarantees the features.
    unsafe { walk::gemm::<Q5_0x8Avx2>(w, act, n_act, out, ld, rows) }
}
