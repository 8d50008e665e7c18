//! AVX2 x8 products of Q8_0 weights ([`BlockQ8_0x8`]) with Q8_0 activations, bit-identical to
//! the scalar twin [`crate::generic::x8::q8_0`] (and so to `vec_dot_q8_0_q8_0`).
//!
//! Integer part, per word of four quants: the sign trick — `maddubs(|w|, sign(a, w))`, each
//! 16-bit pair at most `2·128·127` — then `madd` into each row's lane. The trick is exact unless
//! an activation quant is -128 (`sign` cannot negate it), which our quantizer never makes; a call
//! whose activations hold one takes the scalar twin instead.

use core::arch::x86_64::*;

use super::q5_0_x8::scaled_terms;
use super::x8_lanes::{f16x8, load32, word_in_lanes};
use crate::blocks::BlockQ8_0;
use crate::blocks_x8::BlockQ8_0x8;
use crate::generic::x8::q8_0::Q8_0x8;
use crate::x8_walk::{self as walk, X8Pair};

/// Marker for the Q8_0 x8 × Q8_0 driver.
pub(crate) struct Q8_0x8Avx2;

/// An x8 block unpacked: the quant words (`q[g]`: values `4g..4g+4` of the eight rows), their
/// magnitudes, and the rows' scales.
#[derive(Clone, Copy)]
pub(crate) struct Q8_0Ready {
    q: [__m256i; 8],
    abs: [__m256i; 8],
    d: __m256,
}

impl X8Pair for Q8_0x8Avx2 {
    type Lanes = __m256;
    type Twin = Q8_0x8;
    type Ready = Q8_0Ready;

    #[inline(always)]
    unsafe fn new_ready() -> Q8_0Ready {
        // SAFETY: register-only AVX operations.
        unsafe {
            Q8_0Ready {
                q: [_mm256_setzero_si256(); 8],
                abs: [_mm256_setzero_si256(); 8],
                d: _mm256_setzero_ps(),
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ8_0x8, r: &mut Q8_0Ready) {
        // SAFETY: the caller guarantees AVX2 and F16C; the loads read the block's own arrays.
        unsafe {
            for g in 0..8 {
                r.q[g] = load32(&w.qs[32 * g..]);
                // |-128| is 128 as an unsigned byte: right for `maddubs`.
                r.abs[g] = _mm256_abs_epi8(r.q[g]);
            }
            r.d = f16x8(&w.d);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q8_0Ready, a: &BlockQ8_0, _a_sum: i32) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C; four-byte reads inside `a.qs`.
        unsafe {
            let ones = _mm256_set1_epi16(1);
            let mut isum = _mm256_setzero_si256();
            for g in 0..8 {
                let signed = _mm256_sign_epi8(word_in_lanes(&a.qs, g), r.q[g]);
                let pairs = _mm256_maddubs_epi16(r.abs[g], signed);
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(pairs, ones));
            }
            scaled_terms(isum, r.d, a)
        }
    }

    #[inline(always)]
    unsafe fn exact_for(act: &[BlockQ8_0]) -> bool {
        // SAFETY: the caller guarantees AVX2; each load reads one block's 32 quants.
        unsafe {
            let mut low = _mm256_set1_epi8(i8::MAX);
            for a in act {
                low = _mm256_min_epi8(low, load32(&a.qs));
            }
            let is_min = _mm256_cmpeq_epi8(low, _mm256_set1_epi8(i8::MIN));
            _mm256_testz_si256(is_min, is_min) != 0
        }
    }
}

/// AVX2 twin of [`crate::generic::x8::q8_0::gemm_q8_0x8_q8_0`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; the operands meet the [`crate::table::GemmX8Fn`]
/// contract.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q8_0x8_q8_0_avx2(
    w: &[BlockQ8_0x8],
    act: &[BlockQ8_0],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    // SAFETY: the caller guarantees the features.
    unsafe { walk::gemm::<Q8_0x8Avx2>(w, act, n_act, out, ld, rows) }
}
