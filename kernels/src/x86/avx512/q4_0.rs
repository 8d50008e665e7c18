//! AVX-512 VNNI kernels for Q4_0 weights × Q8_0 activations, bit-identical to the scalar twins in
//! [`crate::generic::q4_0`], on the driver in [`legacy_tiles`](super::legacy_tiles).
//!
//! Integer part: the nibbles `q` are the unsigned bytes (bias 8: the quant is `q - 8`).

use core::arch::x86_64::*;

use super::legacy_lanes::{self as lanes, f16_bits8};
use super::legacy_tiles::{avx512_legacy_leaves, LegacyPairAvx512};
use crate::blocks::{BlockQ4_0, BlockQ8_0};
use crate::x86::avx2::legacy_lanes::cvt_f16x8;
use crate::x86::avx2::q4_0::Q4_0Avx2;

impl LegacyPairAvx512 for Q4_0Avx2 {
    const BIAS: u8 = 8;

    #[inline(always)]
    unsafe fn unpack4(w: [&BlockQ4_0; 4]) -> (__m512i, __m512i) {
        // SAFETY: the caller guarantees the features; the loads read the blocks' own arrays.
        unsafe { lanes::nibbles_4x32(w.map(|b| &b.qs)) }
    }

    #[inline(always)]
    fn act_qs(a: &BlockQ8_0) -> &[i8; 32] {
        &a.qs
    }

    #[inline(always)]
    unsafe fn w_scales8(w: &[BlockQ4_0]) -> __m256 {
        // SAFETY: the caller guarantees F16C.
        unsafe { cvt_f16x8(f16_bits8(w, |b| &b.d)) }
    }

    #[inline(always)]
    unsafe fn act_scales8(a: &[BlockQ8_0]) -> __m256 {
        // SAFETY: the caller guarantees F16C.
        unsafe { cvt_f16x8(f16_bits8(a, |b| &b.d)) }
    }
}

avx512_legacy_leaves!(
    Q4_0Avx2,
    BlockQ4_0,
    BlockQ8_0,
    vec_dot_q4_0_q8_0_avx512,
    gemv_q4_0_q8_0_avx512,
    gemm_q4_0_q8_0_avx512,
    "q4_0_q8_0"
);
