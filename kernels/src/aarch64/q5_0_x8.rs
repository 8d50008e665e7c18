//! x8 products of Q5_0 weights ([`BlockQ5_0x8`]) with Q8_0 activations, NEON and dotprod tiers,
//! bit-identical to the scalar twin [`crate::generic::x8::q5_0`]: `Σ q·a` over the unsigned
//! 5-bit quants (eight words stay within the NEON step's 16-bit bound, `8·31·128`), then
//! `- 16·Σ a` with the activation block's exact sum.

use core::arch::aarch64::*;
use core::marker::PhantomData;

use super::x8_lanes::{
    dot_words, f16x8, load_word, mul2, mul2_n, nibble_words, to_f32, RowDot, Rows8, Word,
};
use crate::blocks::BlockQ8_0;
use crate::blocks_x8::BlockQ5_0x8;
use crate::generic::x8::q5_0::Q5_0x8;
use crate::x8_walk::X8Pair;

/// The Q5_0 x8 × Q8_0 pair on integer step `D`.
pub(crate) struct Q5_0x8Arm<D>(PhantomData<D>);

/// An x8 block unpacked: the 5-bit quant words and the rows' scales.
#[derive(Clone, Copy)]
pub(crate) struct Q5_0Ready {
    q: [Word; 8],
    d: [float32x4_t; 2],
}

/// Bit 4 of every byte of word `G`: the fifth bits, which `qh` keeps at bit `G` of each byte.
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
unsafe fn fifth_bits<const G: usize>(qh: uint8x16_t) -> uint8x16_t {
    // SAFETY: register-only NEON operations (per-byte shifts).
    unsafe {
        let moved = match G {
            0 => vshlq_n_u8::<4>(qh),
            1 => vshlq_n_u8::<3>(qh),
            2 => vshlq_n_u8::<2>(qh),
            3 => vshlq_n_u8::<1>(qh),
            4 => qh,
            5 => vshrq_n_u8::<1>(qh),
            6 => vshrq_n_u8::<2>(qh),
            _ => vshrq_n_u8::<3>(qh),
        };
        vandq_u8(moved, vdupq_n_u8(0x10))
    }
}

/// Word `G` of the quants with its fifth bits.
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
unsafe fn with_fifth<const G: usize>(q: Word, qh: [uint8x16_t; 2]) -> Word {
    // SAFETY: register-only NEON operations.
    unsafe {
        let or = |h: usize| {
            vreinterpretq_s8_u8(vorrq_u8(vreinterpretq_u8_s8(q[h]), fifth_bits::<G>(qh[h])))
        };
        [or(0), or(1)]
    }
}

/// The exact sum of a Q8_0 block's 32 quants.
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
pub(crate) unsafe fn quant_sum(a: &BlockQ8_0) -> i32 {
    // SAFETY: two 16-byte loads inside the 32 quants; register-only NEON afterwards.
    unsafe {
        let lo = vld1q_s8(a.qs.as_ptr());
        let hi = vld1q_s8(a.qs.as_ptr().add(16));
        vaddlvq_s16(vaddq_s16(vpaddlq_s8(lo), vpaddlq_s8(hi)))
    }
}

impl<D: RowDot> X8Pair for Q5_0x8Arm<D> {
    type Lanes = Rows8;
    type Twin = Q5_0x8;
    type Ready = Q5_0Ready;
    const ACT_SUMS: bool = true;

    #[inline(always)]
    unsafe fn new_ready() -> Q5_0Ready {
        // SAFETY: NEON is baseline on aarch64.
        unsafe {
            Q5_0Ready {
                q: [[vdupq_n_s8(0); 2]; 8],
                d: [vdupq_n_f32(0.0); 2],
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ5_0x8, r: &mut Q5_0Ready) {
        // SAFETY: reads inside `w`; NEON is baseline.
        unsafe {
            let q = nibble_words(&w.qs);
            let qh = load_word(&w.qh, 0);
            let qh = [vreinterpretq_u8_s8(qh[0]), vreinterpretq_u8_s8(qh[1])];
            r.q = [
                with_fifth::<0>(q[0], qh),
                with_fifth::<1>(q[1], qh),
                with_fifth::<2>(q[2], qh),
                with_fifth::<3>(q[3], qh),
                with_fifth::<4>(q[4], qh),
                with_fifth::<5>(q[5], qh),
                with_fifth::<6>(q[6], qh),
                with_fifth::<7>(q[7], qh),
            ];
            r.d = f16x8(&w.d);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q5_0Ready, a: &BlockQ8_0, a_sum: i32) -> Rows8 {
        // SAFETY: the tier's features (the leaf's); the step bound is the module's.
        unsafe {
            let dot = dot_words::<D, 8>(&r.q, &a.qs, 0);
            let off = vdupq_n_s32(a_sum.wrapping_mul(16));
            let isum = [vsubq_s32(dot[0], off), vsubq_s32(dot[1], off)];
            // (dx * dy) * isum, as the twin.
            Rows8(mul2(mul2_n(r.d, a.d.to_f32()), to_f32(isum)))
        }
    }

    #[inline(always)]
    unsafe fn act_sum(a: &BlockQ8_0) -> i32 {
        // SAFETY: NEON is baseline.
        unsafe { quant_sum(a) }
    }
}

super::x8_leaves!(
    Q5_0x8Arm,
    BlockQ5_0x8,
    BlockQ8_0,
    "Q5_0 x8 × Q8_0",
    gemm_q5_0x8_q8_0_neon,
    gemm_q5_0x8_q8_0_dotprod
);
