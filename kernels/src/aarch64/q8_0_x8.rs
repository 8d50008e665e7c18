//! x8 products of Q8_0 weights ([`BlockQ8_0x8`]) with Q8_0 activations, NEON and dotprod tiers,
//! bit-identical to the scalar twin [`crate::generic::x8::q8_0`]: signed bytes on both sides,
//! exact for every byte. The NEON step sums one word at a time (two products of -128·-128 would
//! pass its 16-bit bound).

use core::arch::aarch64::*;
use core::marker::PhantomData;

use super::x8_lanes::{
    add_i2, dot_words, f16x8, load_word, mul2, mul2_n, to_f32, RowDot, Rows8, Word,
};
use crate::blocks::BlockQ8_0;
use crate::blocks_x8::BlockQ8_0x8;
use crate::generic::x8::q8_0::Q8_0x8;
use crate::x8_walk::X8Pair;

/// The Q8_0 x8 × Q8_0 pair on integer step `D`.
pub(crate) struct Q8_0x8Arm<D>(PhantomData<D>);

/// An x8 block loaded: the quant words and the rows' scales.
#[derive(Clone, Copy)]
pub(crate) struct Q8_0Ready {
    q: [Word; 8],
    d: [float32x4_t; 2],
}

impl<D: RowDot> X8Pair for Q8_0x8Arm<D> {
    type Lanes = Rows8;
    type Twin = Q8_0x8;
    type Ready = Q8_0Ready;

    #[inline(always)]
    unsafe fn new_ready() -> Q8_0Ready {
        // SAFETY: NEON is baseline on aarch64.
        unsafe {
            Q8_0Ready {
                q: [[vdupq_n_s8(0); 2]; 8],
                d: [vdupq_n_f32(0.0); 2],
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ8_0x8, r: &mut Q8_0Ready) {
        // SAFETY: reads inside `w`; NEON is baseline.
        unsafe {
            for (g, qg) in r.q.iter_mut().enumerate() {
                *qg = load_word(&w.qs, g);
            }
            r.d = f16x8(&w.d);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q8_0Ready, a: &BlockQ8_0, _a_sum: i32) -> Rows8 {
        // SAFETY: the tier's features (the leaf's); one word per group keeps the step bound.
        unsafe {
            let mut isum = dot_words::<D, 1>(&[r.q[0]], &a.qs, 0);
            for g in 1..8 {
                isum = add_i2(isum, dot_words::<D, 1>(&[r.q[g]], &a.qs, g));
            }
            // (dx * dy) * isum, as the twin.
            Rows8(mul2(mul2_n(r.d, a.d.to_f32()), to_f32(isum)))
        }
    }
}

super::x8_leaves!(
    Q8_0x8Arm,
    BlockQ8_0x8,
    BlockQ8_0,
    "Q8_0 x8 × Q8_0",
    gemm_q8_0x8_q8_0_neon,
    gemm_q8_0x8_q8_0_dotprod
);
