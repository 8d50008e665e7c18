//! Q2_K weights × Q8_K activations on aarch64: NEON, dotprod and i8mm leaves.

use core::arch::aarch64::*;

use super::int_dot::IntDot;
use super::k_block_dot::{dot_half16, lanes, mmla_half16, total, zero, KBlockDot};
use crate::blocks::{BlockQ2K, BlockQ8K};
use crate::generic::q4_k::block_term_k_min;

/// The Q2_K × Q8_K block pair, as [`crate::generic::q2_k`]: over 16 sub-blocks of 16,
/// `isum = Σ_sub (sc & 15)·Σ q·a`, `msum = Σ_sub (sc >> 4)·bsum`.
pub(crate) struct Q2KQ8K;

/// The 2-bit quants of half `h` (values `128h..128h + 128`), one vector per sub-block `8h + i`:
/// value `128h + 32j + l` is bits `2j..2j+2` of `qs[32h + l]`.
#[inline(always)]
unsafe fn half_quants(w: &BlockQ2K, h: usize) -> [int8x16_t; 8] {
    // SAFETY: two 16-byte loads inside `qs[32h..32h + 32]` (`h < 2`); register-only afterwards.
    unsafe {
        let p = w.qs.as_ptr().add(32 * h);
        let m = vdupq_n_u8(3);
        let mut out = [vdupq_n_s8(0); 8];
        for k in 0..2 {
            let v = vld1q_u8(p.add(16 * k));
            out[k] = vreinterpretq_s8_u8(vandq_u8(v, m));
            out[2 + k] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8::<2>(v), m));
            out[4 + k] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8::<4>(v), m));
            out[6 + k] = vreinterpretq_s8_u8(vshrq_n_u8::<6>(v));
        }
        out
    }
}

/// The low-nibble scales, widened.
#[inline(always)]
fn scales(w: &BlockQ2K) -> [i32; 16] {
    w.scales.map(|s| (s & 0x0f) as i32)
}

/// `Σ_sub (sc >> 4)·bsum`.
#[inline(always)]
fn min_sum(w: &BlockQ2K, a: &BlockQ8K) -> i32 {
    let mut msum = 0i32;
    for (&bs, &sc) in a.bsums.iter().zip(&w.scales) {
        msum += bs as i32 * (sc >> 4) as i32;
    }
    msum
}

impl KBlockDot for Q2KQ8K {
    type W = BlockQ2K;
    type A = BlockQ8K;

    #[inline(always)]
    unsafe fn ints<D: IntDot>(w: &BlockQ2K, a: &BlockQ8K) -> (i32, i32) {
        let sc = scales(w);
        // SAFETY: `D`'s feature is the caller's promise; loads stay inside the blocks.
        let isum = unsafe {
            let mut acc = zero();
            for h in 0..2 {
                acc = dot_half16::<D>(acc, &half_quants(w, h), &sc, a, h);
            }
            total(acc)
        };
        (isum, min_sum(w, a))
    }

    #[inline(always)]
    unsafe fn ints_2x2(
        w0: &BlockQ2K,
        w1: &BlockQ2K,
        a0: &BlockQ8K,
        a1: &BlockQ8K,
    ) -> ([i32; 4], [i32; 4]) {
        let (s0, s1) = (scales(w0), scales(w1));
        // SAFETY: i8mm is the caller's promise; loads stay inside the blocks.
        let isum = unsafe {
            let mut acc = zero();
            for h in 0..2 {
                let (q0, q1) = (half_quants(w0, h), half_quants(w1, h));
                acc = mmla_half16(acc, &q0, &q1, &s0, &s1, a0, a1, h);
            }
            lanes(acc)
        };
        let msum = [
            min_sum(w0, a0),
            min_sum(w0, a1),
            min_sum(w1, a0),
            min_sum(w1, a1),
        ];
        (isum, msum)
    }

    #[inline(always)]
    fn term(w: &BlockQ2K, a: &BlockQ8K, isum: i32, msum: i32) -> f32 {
        block_term_k_min(w.d, w.dmin, a, isum, msum)
    }
}

super::tier_leaves!(
    k_block_dot,
    Q2KQ8K,
    BlockQ2K,
    BlockQ8K,
    "Q2_K × Q8_K",
    vec_dot_q2_k_q8_k_neon,
    vec_dot_q2_k_q8_k_dotprod,
    gemm_q2_k_q8_k_neon,
    gemm_q2_k_q8_k_dotprod,
    gemm_q2_k_q8_k_i8mm
);
