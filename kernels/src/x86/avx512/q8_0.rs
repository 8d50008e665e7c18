//! AVX-512 VNNI kernels for Q8_0 weights × Q8_0 activations, bit-identical to the scalar twins in
//! [`crate::generic::q8_0`], on the driver in [`legacy_tiles`](super::legacy_tiles).
//!
//! Integer part: the signed quants with their sign bit flipped are the unsigned bytes (bias 128),
//! exact for every byte pair including -128 × -128.

use core::arch::x86_64::*;

use super::legacy_lanes::{self as lanes, f16_bits8};
use super::legacy_tiles::{avx512_legacy_leaves, LegacyPairAvx512};
use crate::blocks::BlockQ8_0;
use crate::x86::avx2::legacy_lanes::cvt_f16x8;
use crate::x86::avx2::q8_0::Q8_0Avx2;

impl LegacyPairAvx512 for Q8_0Avx2 {
    const BIAS: u8 = 128;

    #[inline(always)]
    unsafe fn unpack4(w: [&BlockQ8_0; 4]) -> (__m512i, __m512i) {
        // SAFETY: the caller guarantees the features; the loads read the blocks' own arrays.
        unsafe {
            let (lo, hi) = lanes::bytes_4x32(w.map(|b| &b.qs));
            (lanes::bias_128(lo), lanes::bias_128(hi))
        }
    }

    #[inline(always)]
    fn act_qs(a: &BlockQ8_0) -> &[i8; 32] {
        &a.qs
    }

    #[inline(always)]
    unsafe fn w_scales8(w: &[BlockQ8_0]) -> __m256 {
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
    Q8_0Avx2,
    BlockQ8_0,
    BlockQ8_0,
    vec_dot_q8_0_q8_0_avx512,
    gemv_q8_0_q8_0_avx512,
    gemm_q8_0_q8_0_avx512,
    "q8_0_q8_0"
);
