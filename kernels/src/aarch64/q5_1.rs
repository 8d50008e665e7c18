//! Q5_1 weights × Q8_1 activations on aarch64: NEON, dotprod and i8mm leaves.

use core::arch::aarch64::*;

use super::block_dot::{BlockDot, BlockDot2x2};
use super::int_dot::IntDot;
use super::lanes::{
    dot32, f16_cols, f16_lanes, f16_rows, fifth_bits, load_nibbles, load_q8, mmla32,
};
use crate::blocks::{BlockQ5_1, BlockQ8_1};

/// The Q5_1 × Q8_1 block pair: term `(dx · dy) · isum + m · s`, quants `q`, as [`crate::generic::q5_1`].
pub(crate) struct Q5_1Q8_1;

/// The 32 signed quants of a Q5_1 block: elements 0–15 and 16–31.
#[inline(always)]
unsafe fn quants(x: &BlockQ5_1) -> [int8x16_t; 2] {
    // SAFETY: loads stay inside the block; register-only NEON afterwards.
    unsafe {
        let n = load_nibbles(&x.qs);
        let h = fifth_bits(x.qh);
        let q = [vorrq_u8(n[0], h[0]), vorrq_u8(n[1], h[1])];
        [vreinterpretq_s8_u8(q[0]), vreinterpretq_s8_u8(q[1])]
    }
}

impl BlockDot for Q5_1Q8_1 {
    type W = BlockQ5_1;
    type A = BlockQ8_1;

    #[inline(always)]
    unsafe fn isum<D: IntDot>(x: &BlockQ5_1, y: &BlockQ8_1) -> int32x4_t {
        // SAFETY: forwarded (`D`'s feature); loads stay inside the blocks.
        unsafe { dot32::<D>(quants(x), load_q8(&y.qs)) }
    }

    #[inline(always)]
    unsafe fn terms4(x: &[BlockQ5_1], y: &[BlockQ8_1], isums: int32x4_t) -> float32x4_t {
        // SAFETY: register-only NEON on lanes built from the blocks.
        unsafe {
            let d = vmulq_f32(f16_lanes(x, |b| b.d), f16_lanes(y, |b| b.d));
            let m = vmulq_f32(f16_lanes(x, |b| b.m), f16_lanes(y, |b| b.s));
            vaddq_f32(vmulq_f32(d, vcvtq_f32_s32(isums)), m)
        }
    }
}

impl BlockDot2x2 for Q5_1Q8_1 {
    #[inline(always)]
    unsafe fn isum_2x2(
        x0: &BlockQ5_1,
        x1: &BlockQ5_1,
        y0: &BlockQ8_1,
        y1: &BlockQ8_1,
    ) -> int32x4_t {
        // SAFETY: forwarded (i8mm); loads stay inside the blocks.
        unsafe { mmla32(quants(x0), quants(x1), load_q8(&y0.qs), load_q8(&y1.qs)) }
    }

    #[inline(always)]
    unsafe fn terms_2x2(
        x0: &BlockQ5_1,
        x1: &BlockQ5_1,
        y0: &BlockQ8_1,
        y1: &BlockQ8_1,
        isums: int32x4_t,
    ) -> float32x4_t {
        // SAFETY: register-only NEON.
        unsafe {
            let d = vmulq_f32(f16_rows(x0.d, x1.d), f16_cols(y0.d, y1.d));
            let m = vmulq_f32(f16_rows(x0.m, x1.m), f16_cols(y0.s, y1.s));
            vaddq_f32(vmulq_f32(d, vcvtq_f32_s32(isums)), m)
        }
    }
}

super::tier_leaves!(
    block_dot,
    Q5_1Q8_1,
    BlockQ5_1,
    BlockQ8_1,
    "Q5_1 × Q8_1",
    vec_dot_q5_1_q8_1_neon,
    vec_dot_q5_1_q8_1_dotprod,
    gemm_q5_1_q8_1_neon,
    gemm_q5_1_q8_1_dotprod,
    gemm_q5_1_q8_1_i8mm
);
