//! x8 products of Q4_1 weights ([`BlockQ4_1x8`]) with Q8_1 activations, NEON and dotprod tiers,
//! bit-identical to the scalar twin [`crate::generic::x8::q4_1`]. The nibbles are the unsigned
//! quants; eight words of them against the activations stay within the 16-bit bound of the
//! NEON step (`8·15·128`).

use core::arch::aarch64::*;
use core::marker::PhantomData;

use super::x8_lanes::{dot_words, f16x8, mul2, mul2_n, nibble_words, to_f32, RowDot, Rows8, Word};
use crate::blocks::BlockQ8_1;
use crate::blocks_x8::BlockQ4_1x8;
use crate::generic::x8::q4_1::Q4_1x8;
use crate::x8_walk::X8Pair;

/// The Q4_1 x8 × Q8_1 pair on integer step `D`.
pub(crate) struct Q4_1x8Arm<D>(PhantomData<D>);

/// An x8 block unpacked: the quant words, the rows' scales and minimums.
#[derive(Clone, Copy)]
pub(crate) struct Q4_1Ready {
    q: [Word; 8],
    d: [float32x4_t; 2],
    m: [float32x4_t; 2],
}

impl<D: RowDot> X8Pair for Q4_1x8Arm<D> {
    type Lanes = Rows8;
    type Twin = Q4_1x8;
    type Ready = Q4_1Ready;

    #[inline(always)]
    unsafe fn new_ready() -> Q4_1Ready {
        // SAFETY: NEON is baseline on aarch64.
        unsafe {
            let z = vdupq_n_f32(0.0);
            Q4_1Ready {
                q: [[vdupq_n_s8(0); 2]; 8],
                d: [z; 2],
                m: [z; 2],
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ4_1x8, r: &mut Q4_1Ready) {
        // SAFETY: reads inside `w`; NEON is baseline.
        unsafe {
            r.q = nibble_words(&w.qs);
            r.d = f16x8(&w.d);
            r.m = f16x8(&w.m);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q4_1Ready, a: &BlockQ8_1, _a_sum: i32) -> Rows8 {
        // SAFETY: the tier's features (the leaf's); the step bound is the module's.
        unsafe {
            let isum = to_f32(dot_words::<D, 8>(&r.q, &a.qs, 0));
            // (dx * dy) * isum + m * s, unfused, as the twin.
            let t = mul2(mul2_n(r.d, a.d.to_f32()), isum);
            let ms = mul2_n(r.m, a.s.to_f32());
            Rows8([vaddq_f32(t[0], ms[0]), vaddq_f32(t[1], ms[1])])
        }
    }
}

super::x8_leaves!(
    Q4_1x8Arm,
    BlockQ4_1x8,
    BlockQ8_1,
    "Q4_1 x8 × Q8_1",
    gemm_q4_1x8_q8_1_neon,
    gemm_q4_1x8_q8_1_dotprod
);
