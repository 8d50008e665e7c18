//! AVX2 x8 products of Q4_1 weights ([`BlockQ4_1x8`]) with Q8_1 activations, bit-identical to
//! the scalar twin [`crate::generic::x8::q4_1`] (and so to `vec_dot_q4_1_q8_1`).
//!
//! Integer part: eight `maddubs` (nibbles × four activation quants broadcast to every row's
//! lane) summed in 16 bits — at most `8·2·15·128 = 30720`, so exact for every activation byte —
//! then one `madd` into each row's 32-bit lane.

use core::arch::x86_64::*;

use super::x8_lanes::{f16_in_lanes, f16x8, nibble_words, word_in_lanes};
use crate::blocks::BlockQ8_1;
use crate::blocks_x8::BlockQ4_1x8;
use crate::generic::x8::q4_1::Q4_1x8;
use crate::x8_walk::{self as walk, X8Pair};

/// Marker for the Q4_1 x8 × Q8_1 driver.
pub(crate) struct Q4_1x8Avx2;

/// An x8 block unpacked: quants of values `4g..4g+4` of the eight rows in `q[g]`, the rows'
/// scales and minimums.
#[derive(Clone, Copy)]
pub(crate) struct Q4_1Ready {
    pub(crate) q: [__m256i; 8],
    pub(crate) d: __m256,
    pub(crate) m: __m256,
}

/// Each row's exact `Σ q·a` over the block, in its lane: unsigned quants of at most 15 (so the
/// 16-bit sums of eight `maddubs` cannot saturate) against the 32 activation quants.
///
/// # Safety
/// The CPU supports AVX2; every `q[g]` byte is at most 15.
#[inline(always)]
pub(crate) unsafe fn dot_nibble_words(q: &[__m256i; 8], a: &[i8; 32]) -> __m256i {
    // SAFETY: register-only AVX2 operations and four-byte reads inside `a`.
    unsafe {
        let mut s = _mm256_maddubs_epi16(q[0], word_in_lanes(a, 0));
        for (g, qg) in q.iter().enumerate().skip(1) {
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(*qg, word_in_lanes(a, g)));
        }
        _mm256_madd_epi16(s, _mm256_set1_epi16(1))
    }
}

/// The eight rows' float terms from their exact sums `isum`: `(dx·dy)·isum + m·s`, unfused, as
/// the twin.
///
/// # Safety
/// The CPU supports AVX2 and F16C.
#[inline(always)]
pub(crate) unsafe fn float_terms(isum: __m256i, r: &Q4_1Ready, a: &BlockQ8_1) -> __m256 {
    // SAFETY: register-only AVX2/F16C operations.
    unsafe {
        let dd = _mm256_mul_ps(r.d, f16_in_lanes(a.d.to_bits()));
        let ms = _mm256_mul_ps(r.m, f16_in_lanes(a.s.to_bits()));
        _mm256_add_ps(_mm256_mul_ps(dd, _mm256_cvtepi32_ps(isum)), ms)
    }
}

impl X8Pair for Q4_1x8Avx2 {
    type Lanes = __m256;
    type Twin = Q4_1x8;
    type Ready = Q4_1Ready;

    #[inline(always)]
    unsafe fn new_ready() -> Q4_1Ready {
        // SAFETY: register-only AVX operations.
        unsafe {
            Q4_1Ready {
                q: [_mm256_setzero_si256(); 8],
                d: _mm256_setzero_ps(),
                m: _mm256_setzero_ps(),
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ4_1x8, r: &mut Q4_1Ready) {
        // SAFETY: the caller guarantees AVX2 and F16C; the loads read the block's own arrays.
        unsafe {
            r.q = nibble_words(&w.qs);
            r.d = f16x8(&w.d);
            r.m = f16x8(&w.m);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q4_1Ready, a: &BlockQ8_1, _a_sum: i32) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { float_terms(dot_nibble_words(&r.q, &a.qs), r, a) }
    }
}

/// AVX2 twin of [`crate::generic::x8::q4_1::gemm_q4_1x8_q8_1`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; the operands meet the [`crate::table::GemmX8Fn`]
/// contract.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q4_1x8_q8_1_avx2(
    w: &[BlockQ4_1x8],
    act: &[BlockQ8_1],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    // SAFETY: the caller guarantees the features.
    unsafe { walk::gemm::<Q4_1x8Avx2>(w, act, n_act, out, ld, rows) }
}
