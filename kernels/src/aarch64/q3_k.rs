//! Q3_K weights × Q8_K activations on aarch64: NEON, dotprod and i8mm leaves.

use core::arch::aarch64::*;

use super::int_dot::IntDot;
use super::k_block_dot::{dot_half16, lanes, mmla_half16, total, zero, KBlockDot};
use crate::blocks::{BlockQ3K, BlockQ8K};
use crate::generic::q3_k::{block_term_k_sym, scales_q3_k};

/// The Q3_K × Q8_K block pair, as [`crate::generic::q3_k`]: over 16 sub-blocks of 16 with
/// stored quants `q_u = q + 4`, `isum = Σ_sub sc·Σ q_u·a - 4·Σ_sub sc·bsum` (the twin trusts
/// `bsums`; so do the leaves).
pub(crate) struct Q3KQ8K;

/// The stored quants `q_u` (0..8) of half `h`, one vector per sub-block `8h + i`: value
/// `128h + 32j + l` has bits `2j..2j+2` of `qs[32h + l]` and, as bit 2, bit `4h + j` of
/// `hmask[l]`.
#[inline(always)]
unsafe fn half_quants(w: &BlockQ3K, h: usize) -> [int8x16_t; 8] {
    // SAFETY: two 16-byte loads inside `qs[32h..32h + 32]` (`h < 2`) and two covering the
    // 32-byte `hmask`; register-only afterwards.
    unsafe {
        let p = w.qs.as_ptr().add(32 * h);
        let m = vdupq_n_u8(3);
        let four = vdupq_n_u8(4);
        let mut out = [vdupq_n_s8(0); 8];
        for k in 0..2 {
            let v = vld1q_u8(p.add(16 * k));
            let hm = vld1q_u8(w.hmask.as_ptr().add(16 * k));
            let low = [
                vandq_u8(v, m),
                vandq_u8(vshrq_n_u8::<2>(v), m),
                vandq_u8(vshrq_n_u8::<4>(v), m),
                vshrq_n_u8::<6>(v),
            ];
            for (j, lo) in low.into_iter().enumerate() {
                let bit = vdupq_n_u8(1 << (4 * h + j));
                let hi = vandq_u8(vtstq_u8(hm, bit), four);
                out[2 * j + k] = vreinterpretq_s8_u8(vorrq_u8(lo, hi));
            }
        }
        out
    }
}

/// The 16 signed 6-bit scales, widened.
#[inline(always)]
fn scales(w: &BlockQ3K) -> [i32; 16] {
    scales_q3_k(&w.scales).map(|s| s as i32)
}

/// `isum - 4·Σ_sub sc·bsum`, wrapping like the twin's i32 arithmetic in release builds.
#[inline(always)]
fn centred(isum: i32, sc: &[i32; 16], a: &BlockQ8K) -> i32 {
    let mut offset = 0i32;
    for (&s, &bs) in sc.iter().zip(a.bsums.iter()) {
        offset = offset.wrapping_add(s * bs as i32);
    }
    isum.wrapping_sub(offset.wrapping_mul(4))
}

impl KBlockDot for Q3KQ8K {
    type W = BlockQ3K;
    type A = BlockQ8K;

    #[inline(always)]
    unsafe fn ints<D: IntDot>(w: &BlockQ3K, a: &BlockQ8K) -> (i32, i32) {
        let sc = scales(w);
        // SAFETY: `D`'s feature is the caller's promise; loads stay inside the blocks.
        let isum = unsafe {
            let mut acc = zero();
            for h in 0..2 {
                acc = dot_half16::<D>(acc, &half_quants(w, h), &sc, a, h);
            }
            total(acc)
        };
        (centred(isum, &sc, a), 0)
    }

    #[inline(always)]
    unsafe fn ints_2x2(
        w0: &BlockQ3K,
        w1: &BlockQ3K,
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
        (
            [
                centred(isum[0], &s0, a0),
                centred(isum[1], &s0, a1),
                centred(isum[2], &s1, a0),
                centred(isum[3], &s1, a1),
            ],
            [0; 4],
        )
    }

    #[inline(always)]
    fn term(w: &BlockQ3K, a: &BlockQ8K, isum: i32, _msum: i32) -> f32 {
        block_term_k_sym(w.d, a, isum)
    }
}

super::tier_leaves!(
    k_block_dot,
    Q3KQ8K,
    BlockQ3K,
    BlockQ8K,
    "Q3_K × Q8_K",
    vec_dot_q3_k_q8_k_neon,
    vec_dot_q3_k_q8_k_dotprod,
    gemm_q3_k_q8_k_neon,
    gemm_q3_k_q8_k_dotprod,
    gemm_q3_k_q8_k_i8mm
);
