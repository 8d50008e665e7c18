//! AVX-512 VNNI kernels for Q5_1 weights × Q8_1 activations, bit-identical to the scalar twins in
//! [`crate::generic::q5_1`], on the driver in [`legacy_tiles`](super::legacy_tiles).
//!
//! Integer part: the five-bit quants are the unsigned bytes (no bias; the minimum is a float
//! term).

use core::arch::x86_64::*;

use super::legacy_lanes::{self as lanes, f16_fields8};
use super::legacy_tiles::{avx512_legacy_leaves, LegacyPairAvx512};
use crate::blocks::{BlockQ5_1, BlockQ8_1};
use crate::x86::avx2::q5_1::Q5_1Avx2;

impl LegacyPairAvx512 for Q5_1Avx2 {
    const BIAS: u8 = 0;

    #[inline(always)]
    unsafe fn unpack4(w: [&BlockQ5_1; 4]) -> (__m512i, __m512i) {
        // SAFETY: the caller guarantees the features; the loads read the blocks' own arrays.
        unsafe {
            let (lo, hi) = lanes::nibbles_4x32(w.map(|b| &b.qs));
            lanes::with_fifth_bits(lo, hi, w.map(|b| u32::from_le_bytes(b.qh)))
        }
    }

    #[inline(always)]
    fn act_qs(a: &BlockQ8_1) -> &[i8; 32] {
        &a.qs
    }

    #[inline(always)]
    unsafe fn w_scales8(w: &[BlockQ5_1]) -> (__m256, __m256) {
        // SAFETY: the caller guarantees F16C.
        unsafe { f16_fields8(w, |b| &b.d, |b| &b.m) }
    }

    #[inline(always)]
    unsafe fn act_scales8(a: &[BlockQ8_1]) -> (__m256, __m256) {
        // SAFETY: the caller guarantees F16C.
        unsafe { f16_fields8(a, |b| &b.d, |b| &b.s) }
    }
}

avx512_legacy_leaves!(
    Q5_1Avx2,
    BlockQ5_1,
    BlockQ8_1,
    vec_dot_q5_1_q8_1_avx512,
    gemv_q5_1_q8_1_avx512,
    gemm_q5_1_q8_1_avx512,
    "q5_1_q8_1"
);
