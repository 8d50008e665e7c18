//! Q4_K weights × Q8_K activations on aarch64: NEON, dotprod and i8mm leaves.

use core::arch::aarch64::*;

use super::int_dot::IntDot;
use super::k_block_dot::{lanes, scaled_add, total, zero, KBlockDot};
use super::lanes::{dot32, mmla32};
use crate::blocks::{BlockQ4K, BlockQ8K};
use crate::generic::q4_k::{block_term_k_min, scales_mins_k4};

/// The Q4_K × Q8_K block pair, as [`crate::generic::q4_k`]: `isum = Σ_sub sc·Σ q·a`,
/// `msum = Σ_j m(j/2)·bsum_j`.
pub(crate) struct Q4KQ8K;

/// Quants of sub-blocks `2c` (low nibbles) and `2c + 1` (high nibbles) of chunk `c`, 32 each.
#[inline(always)]
unsafe fn chunk_quants(w: &BlockQ4K, c: usize) -> [[int8x16_t; 2]; 2] {
    // SAFETY: two 16-byte loads at `32c` and `32c + 16` of the 128-byte `qs` (`c < 4`).
    unsafe {
        let p = w.qs.as_ptr().add(32 * c);
        let (r0, r1) = (vld1q_u8(p), vld1q_u8(p.add(16)));
        let m = vdupq_n_u8(0x0f);
        [
            [
                vreinterpretq_s8_u8(vandq_u8(r0, m)),
                vreinterpretq_s8_u8(vandq_u8(r1, m)),
            ],
            [
                vreinterpretq_s8_u8(vshrq_n_u8::<4>(r0)),
                vreinterpretq_s8_u8(vshrq_n_u8::<4>(r1)),
            ],
        ]
    }
}

/// Activation quants `32s..32s + 32` (sub-block `s`).
#[inline(always)]
pub(crate) unsafe fn act32(a: &BlockQ8K, s: usize) -> [int8x16_t; 2] {
    // SAFETY: two 16-byte loads inside the 256-byte `qs` (`s < 8`).
    unsafe {
        let p = a.qs.as_ptr().add(32 * s);
        [vld1q_s8(p), vld1q_s8(p.add(16))]
    }
}

/// `Σ_j bsums[j] · mn[j / 2]`, exactly.
#[inline(always)]
pub(crate) fn min_sum(mn: &[u8; 8], a: &BlockQ8K) -> i32 {
    let mut msum = 0i32;
    for (j, &bs) in a.bsums.iter().enumerate() {
        msum += bs as i32 * mn[j / 2] as i32;
    }
    msum
}

impl KBlockDot for Q4KQ8K {
    type W = BlockQ4K;
    type A = BlockQ8K;

    #[inline(always)]
    unsafe fn ints<D: IntDot>(w: &BlockQ4K, a: &BlockQ8K) -> (i32, i32) {
        let (sc, mn) = scales_mins_k4(&w.scales);
        // SAFETY: `D`'s feature is the caller's promise; loads stay inside the blocks.
        let isum = unsafe {
            let mut acc = zero();
            for c in 0..4 {
                let q = chunk_quants(w, c);
                let lo = dot32::<D>(q[0], act32(a, 2 * c));
                let hi = dot32::<D>(q[1], act32(a, 2 * c + 1));
                acc = scaled_add(acc, lo, vdupq_n_s32(sc[2 * c] as i32));
                acc = scaled_add(acc, hi, vdupq_n_s32(sc[2 * c + 1] as i32));
            }
            total(acc)
        };
        (isum, min_sum(&mn, a))
    }

    #[inline(always)]
    unsafe fn ints_2x2(
        w0: &BlockQ4K,
        w1: &BlockQ4K,
        a0: &BlockQ8K,
        a1: &BlockQ8K,
    ) -> ([i32; 4], [i32; 4]) {
        let (sc0, mn0) = scales_mins_k4(&w0.scales);
        let (sc1, mn1) = scales_mins_k4(&w1.scales);
        // SAFETY: i8mm is the caller's promise; loads stay inside the blocks.
        let isum = unsafe {
            let mut acc = zero();
            for c in 0..4 {
                let (q0, q1) = (chunk_quants(w0, c), chunk_quants(w1, c));
                for h in 0..2 {
                    let s = 2 * c + h;
                    let m = mmla32(q0[h], q1[h], act32(a0, s), act32(a1, s));
                    let k = [sc0[s] as i32, sc0[s] as i32, sc1[s] as i32, sc1[s] as i32];
                    acc = scaled_add(acc, m, vld1q_s32(k.as_ptr()));
                }
            }
            lanes(acc)
        };
        let msum = [
            min_sum(&mn0, a0),
            min_sum(&mn0, a1),
            min_sum(&mn1, a0),
            min_sum(&mn1, a1),
        ];
        (isum, msum)
    }

    #[inline(always)]
    fn term(w: &BlockQ4K, a: &BlockQ8K, isum: i32, msum: i32) -> f32 {
        block_term_k_min(w.d, w.dmin, a, isum, msum)
    }
}

super::tier_leaves!(
    k_block_dot,
    Q4KQ8K,
    BlockQ4K,
    BlockQ8K,
    "Q4_K × Q8_K",
    vec_dot_q4_k_q8_k_neon,
    vec_dot_q4_k_q8_k_dotprod,
    gemm_q4_k_q8_k_neon,
    gemm_q4_k_q8_k_dotprod,
    gemm_q4_k_q8_k_i8mm
);
