//! AVX-512 VNNI building blocks of the row-interleaved (x8) products: `vpdpbusd` on 256-bit
//! registers (AVX-512 VL), eight rows in the eight 32-bit lanes as in the AVX2 pairs, whose
//! unpacking and float steps these pairs share.
//!
//! Every function here is `#[inline(always)]` and `unsafe` only because it executes AVX-512 VNNI
//! and VL instructions: callers are `#[target_feature]` leaves whose callers checked the CPU.

use core::arch::x86_64::*;

use crate::x86::avx2::x8_lanes::word_in_lanes;

/// `Σ_g q[g]·a[4g..4g+4]` in each row's lane: unsigned quant words against activation words,
/// summed exactly in 32 bits by `vpdpbusd` (two chains, for its latency).
///
/// # Safety
/// The CPU supports AVX-512 VNNI and VL.
#[inline(always)]
pub(crate) unsafe fn dot_words<const N: usize>(
    q: &[__m256i; N],
    a: &[i8],
    first: usize,
) -> __m256i {
    // SAFETY: register-only VNNI operations and four-byte reads inside `a` (the caller's words).
    unsafe {
        let mut even = _mm256_setzero_si256();
        let mut odd = _mm256_setzero_si256();
        for (g, qg) in q.iter().enumerate() {
            let aw = word_in_lanes(a, first + g);
            if g % 2 == 0 {
                even = _mm256_dpbusd_epi32(even, *qg, aw);
            } else {
                odd = _mm256_dpbusd_epi32(odd, *qg, aw);
            }
        }
        _mm256_add_epi32(even, odd)
    }
}
