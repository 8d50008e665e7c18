//! Q6_K weights × Q8_K activations on aarch64: NEON, dotprod and i8mm leaves.

use core::arch::aarch64::*;

use super::int_dot::IntDot;
use super::k_block_dot::{lanes, scaled_add, total, zero, KBlockDot};
use super::lanes::mmla16;
use crate::blocks::{BlockQ6K, BlockQ8K};
use crate::generic::q3_k::block_term_k_sym;

/// The Q6_K × Q8_K block pair, as [`crate::generic::q6_k`]: over 16 sub-blocks of 16,
/// `isum = Σ_sub sc·Σ q_u·a - 32·Σ_sub sc·bsum` with the stored quants `q_u = q + 32` (the twin
/// trusts `bsums`, so the leaves use them the same way and agree even when they are off).
pub(crate) struct Q6KQ8K;

/// The stored quants `q_u` (0..64) of half `h` (values `128h..128h + 128`), one vector per
/// sub-block `8h + i`.
#[inline(always)]
unsafe fn half_quants(w: &BlockQ6K, h: usize) -> [int8x16_t; 8] {
    // SAFETY: four 16-byte loads inside `ql[64h..64h + 64]` and two inside `qh[32h..32h + 32]`
    // (`h < 2`); register-only afterwards.
    unsafe {
        let ql = w.ql.as_ptr().add(64 * h);
        let qh = w.qh.as_ptr().add(32 * h);
        let m4 = vdupq_n_u8(0x0f);
        let m2 = vdupq_n_u8(0x30);
        let mut out = [vdupq_n_s8(0); 8];
        for k in 0..2 {
            let a = vld1q_u8(ql.add(16 * k)); // ql[l], l = 16k..16k + 16
            let b = vld1q_u8(ql.add(32 + 16 * k)); // ql[l + 32]
            let hb = vld1q_u8(qh.add(16 * k)); // qh[l]
                                               // Value 32g + l of the half: group g's low 4 bits and bits 2g..2g+2 of qh.
            let g = [
                vorrq_u8(vandq_u8(a, m4), vandq_u8(vshlq_n_u8::<4>(hb), m2)),
                vorrq_u8(vandq_u8(b, m4), vandq_u8(vshlq_n_u8::<2>(hb), m2)),
                vorrq_u8(vshrq_n_u8::<4>(a), vandq_u8(hb, m2)),
                vorrq_u8(vshrq_n_u8::<4>(b), vandq_u8(vshrq_n_u8::<2>(hb), m2)),
            ];
            for (gi, v) in g.into_iter().enumerate() {
                out[2 * gi + k] = vreinterpretq_s8_u8(v);
            }
        }
        out
    }
}

/// `Σ_sub sc·bsum`, wrapping like the twin's i32 arithmetic in release builds.
#[inline(always)]
fn offset_sum(w: &BlockQ6K, a: &BlockQ8K) -> i32 {
    let mut offset = 0i32;
    for (&sc, &bs) in w.scales.iter().zip(a.bsums.iter()) {
        offset = offset.wrapping_add(sc as i32 * bs as i32);
    }
    offset
}

/// `isum - 32·offset`, wrapping.
#[inline(always)]
fn centred(isum: i32, offset: i32) -> i32 {
    isum.wrapping_sub(offset.wrapping_mul(32))
}

/// Activation quants of sub-block `s` (`16s..16s + 16`).
#[inline(always)]
unsafe fn act16(a: &BlockQ8K, s: usize) -> int8x16_t {
    // SAFETY: a 16-byte load inside the 256-byte `qs` (`s < 16`).
    unsafe { vld1q_s8(a.qs.as_ptr().add(16 * s)) }
}

impl KBlockDot for Q6KQ8K {
    type W = BlockQ6K;
    type A = BlockQ8K;

    #[inline(always)]
    unsafe fn ints<D: IntDot>(w: &BlockQ6K, a: &BlockQ8K) -> (i32, i32) {
        // SAFETY: `D`'s feature is the caller's promise; loads stay inside the blocks.
        let isum = unsafe {
            let mut acc = zero();
            for h in 0..2 {
                let q = half_quants(w, h);
                for (i, qv) in q.into_iter().enumerate() {
                    let s = 8 * h + i;
                    let p = D::dot(zero(), qv, act16(a, s));
                    acc = scaled_add(acc, p, vdupq_n_s32(w.scales[s] as i32));
                }
            }
            total(acc)
        };
        (centred(isum, offset_sum(w, a)), 0)
    }

    #[inline(always)]
    unsafe fn ints_2x2(
        w0: &BlockQ6K,
        w1: &BlockQ6K,
        a0: &BlockQ8K,
        a1: &BlockQ8K,
    ) -> ([i32; 4], [i32; 4]) {
        // SAFETY: i8mm is the caller's promise; loads stay inside the blocks.
        let isum = unsafe {
            let mut acc = zero();
            for h in 0..2 {
                let (q0, q1) = (half_quants(w0, h), half_quants(w1, h));
                for i in 0..8 {
                    let s = 8 * h + i;
                    let m = mmla16(zero(), q0[i], q1[i], act16(a0, s), act16(a1, s));
                    let (s0, s1) = (w0.scales[s] as i32, w1.scales[s] as i32);
                    let k = [s0, s0, s1, s1];
                    acc = scaled_add(acc, m, vld1q_s32(k.as_ptr()));
                }
            }
            lanes(acc)
        };
        let offset = [
            offset_sum(w0, a0),
            offset_sum(w0, a1),
            offset_sum(w1, a0),
            offset_sum(w1, a1),
        ];
        (
            [
                centred(isum[0], offset[0]),
                centred(isum[1], offset[1]),
                centred(isum[2], offset[2]),
                centred(isum[3], offset[3]),
            ],
            [0; 4],
        )
    }

    #[inline(always)]
    fn term(w: &BlockQ6K, a: &BlockQ8K, isum: i32, _msum: i32) -> f32 {
        block_term_k_sym(w.d, a, isum)
    }
}

super::tier_leaves!(
    k_block_dot,
    Q6KQ8K,
    BlockQ6K,
    BlockQ8K,
    "Q6_K × Q8_K",
    vec_dot_q6_k_q8_k_neon,
    vec_dot_q6_k_q8_k_dotprod,
    gemm_q6_k_q8_k_neon,
    gemm_q6_k_q8_k_dotprod,
    gemm_q6_k_q8_k_i8mm
);
