//! AVX-512 VNNI kernels for Q5_0 weights × Q8_0 activations, bit-identical to the scalar twins in
//! [`crate::generic::q5_0`], on the driver in [`legacy_tiles`](super::legacy_tiles).
//!
//! Integer part: the five-bit quants `q` are the unsigned bytes (bias 16: the quant is `q - 16`).

use core::arch::x86_64::*;

use super::legacy_lanes::{self as lanes, f16_bits8};
use super::legacy_tiles::{avx512_legacy_leaves, LegacyPairAvx512};
use crate::blocks::{BlockQ5_0, BlockQ8_0};
use crate::x86::avx2::legacy_lanes::cvt_f16x8;
use crate::x86::avx2::q5_0::Q5_0Avx2;

impl LegacyPairAvx512 for Q5_0Avx2 {
    const BIAS: u8 = 16;

    #[inline(always)]
    unsafe fn unpack4(w: [&BlockQ5_0; 4]) -> (__m512i, __m512i) {
        // SAFETY: the caller guarantees the features; the loads read the blocks' own arrays.
        unsafe {
            let (lo, hi) = lanes::nibbles_4x32(w.map(|b| &b.qs));
            lanes::with_fifth_bits(lo, hi, w.map(|b| u32::from_le_bytes(b.qh)))
        }
    }

    #[inline(always)]
    fn act_qs(a: &BlockQ8_0) -> &[i8; 32] {
        &a.qs
    }

    #[inline(always)]
    unsafe fn w_scales8(w: &[BlockQ5_0]) -> __m256 {
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
    Q5_0Avx2,
    BlockQ5_0,
    BlockQ8_0,
    vec_dot_q5_0_q8_0_avx512,
    gemv_q5_0_q8_0_avx512,
    gemm_q5_0_q8_0_avx512,
    "q5_0_q8_0"
);
