//! x8 products of Q6_K weights ([`BlockQ6Kx8`]) with Q8_K activations, NEON and dotprod tiers,
//! bit-identical to the scalar twin [`crate::generic::x8::q6_k`]: per sub-block of 16, the
//! stored quants' sums (`q + 32`; four words: within the NEON step's bound, `4·63·128`), less
//! `32·bsum`, times the rows' signed scales — the twin's integer, summed in another order.

use core::arch::aarch64::*;
use core::marker::PhantomData;

use super::x8_lanes::{
    bytes_per_row, dot_words, f16x8, load_word, mul2, mul2_n, to_f32, KWords, RowDot, Rows8, Word,
};
use crate::blocks::BlockQ8K;
use crate::blocks_x8::BlockQ6Kx8;
use crate::generic::x8::q6_k::Q6Kx8;
use crate::x8_walk::X8Pair;

/// The Q6_K x8 × Q8_K pair on integer step `D`.
pub(crate) struct Q6Kx8Arm<D>(PhantomData<D>);

/// A super-block unpacked for many activation rows.
pub(crate) struct Q6KReady {
    words: [Word; 64],
    scales: [[int32x4_t; 2]; 16],
    d: [float32x4_t; 2],
}

impl KWords for Q6KReady {
    #[inline(always)]
    unsafe fn word(&self, j: usize) -> Word {
        self.words[j]
    }

    #[inline(always)]
    unsafe fn scale(&self, g: usize) -> [int32x4_t; 2] {
        self.scales[g]
    }
}

/// Word `j = 32h + 8q + i` (values `128h + 32q + 4i..+4`) has its low bits in `ql` word
/// `16h + 8(q & 1) + i` (low nibbles for `q < 2`) and its top two bits at bits `2q..2q+2` of
/// `qh` word `8h + i`.
impl KWords for BlockQ6Kx8 {
    #[inline(always)]
    unsafe fn word(&self, j: usize) -> Word {
        let (h, q, i) = (j / 32, (j / 8) % 4, j % 8);
        // SAFETY: words inside `ql` (< 32) and `qh` (< 16); per-byte NEON shifts otherwise.
        unsafe {
            let low = load_word(&self.ql, 16 * h + 8 * (q & 1) + i);
            let high = load_word(&self.qh, 8 * h + i);
            let one = |l: int8x16_t, t: int8x16_t| {
                let l = vreinterpretq_u8_s8(l);
                let l = if q < 2 {
                    vandq_u8(l, vdupq_n_u8(0x0f))
                } else {
                    vshrq_n_u8::<4>(l)
                };
                let t = vreinterpretq_u8_s8(t);
                let t = match q {
                    0 => vshlq_n_u8::<4>(t),
                    1 => vshlq_n_u8::<2>(t),
                    2 => t,
                    _ => vshrq_n_u8::<2>(t),
                };
                vreinterpretq_s8_u8(vorrq_u8(l, vandq_u8(t, vdupq_n_u8(0x30))))
            };
            [one(low[0], high[0]), one(low[1], high[1])]
        }
    }

    #[inline(always)]
    unsafe fn scale(&self, g: usize) -> [int32x4_t; 2] {
        // SAFETY: NEON is baseline.
        unsafe { bytes_per_row::<true>(bytemuck::cast_ref(&self.scales[g])) }
    }
}

/// `isum` plus sub-block `G`'s `sc·(Σ q·a - 32·bsum)` in each row's lane.
///
/// # Safety
/// The tier's features.
#[inline(always)]
unsafe fn group_sum<D: RowDot, const G: usize>(
    q: &impl KWords,
    a: &BlockQ8K,
    isum: [int32x4_t; 2],
) -> [int32x4_t; 2] {
    // SAFETY: forwarded; four words keep the step bound.
    unsafe {
        let words: [Word; 4] = [
            q.word(4 * G),
            q.word(4 * G + 1),
            q.word(4 * G + 2),
            q.word(4 * G + 3),
        ];
        let dot = dot_words::<D, 4>(&words, &a.qs, 4 * G);
        let off = vdupq_n_s32((a.bsums[G] as i32).wrapping_mul(32));
        let sc = q.scale(G);
        [
            vmlaq_s32(isum[0], vsubq_s32(dot[0], off), sc[0]),
            vmlaq_s32(isum[1], vsubq_s32(dot[1], off), sc[1]),
        ]
    }
}

/// The eight rows' float terms `(d·ad)·isum`, as the twin's block term.
///
/// # Safety
/// The tier's features.
#[inline(always)]
unsafe fn terms_from<D: RowDot>(q: &impl KWords, d: [float32x4_t; 2], a: &BlockQ8K) -> Rows8 {
    // SAFETY: forwarded.
    unsafe {
        // Constant group numbers: every word's unpacking is static.
        let mut isum = [vdupq_n_s32(0); 2];
        isum = group_sum::<D, 0>(q, a, isum);
        isum = group_sum::<D, 1>(q, a, isum);
        isum = group_sum::<D, 2>(q, a, isum);
        isum = group_sum::<D, 3>(q, a, isum);
        isum = group_sum::<D, 4>(q, a, isum);
        isum = group_sum::<D, 5>(q, a, isum);
        isum = group_sum::<D, 6>(q, a, isum);
        isum = group_sum::<D, 7>(q, a, isum);
        isum = group_sum::<D, 8>(q, a, isum);
        isum = group_sum::<D, 9>(q, a, isum);
        isum = group_sum::<D, 10>(q, a, isum);
        isum = group_sum::<D, 11>(q, a, isum);
        isum = group_sum::<D, 12>(q, a, isum);
        isum = group_sum::<D, 13>(q, a, isum);
        isum = group_sum::<D, 14>(q, a, isum);
        isum = group_sum::<D, 15>(q, a, isum);
        Rows8(mul2(mul2_n(d, a.d), to_f32(isum)))
    }
}

impl<D: RowDot> X8Pair for Q6Kx8Arm<D> {
    type Lanes = Rows8;
    type Twin = Q6Kx8;
    type Ready = Q6KReady;

    #[inline(always)]
    unsafe fn new_ready() -> Q6KReady {
        // SAFETY: NEON is baseline on aarch64.
        unsafe {
            Q6KReady {
                words: [[vdupq_n_s8(0); 2]; 64],
                scales: [[vdupq_n_s32(0); 2]; 16],
                d: [vdupq_n_f32(0.0); 2],
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ6Kx8, r: &mut Q6KReady) {
        // SAFETY: reads inside `w`; NEON is baseline.
        unsafe {
            for (j, word) in r.words.iter_mut().enumerate() {
                *word = w.word(j);
            }
            for (g, sc) in r.scales.iter_mut().enumerate() {
                *sc = w.scale(g);
            }
            r.d = f16x8(&w.d);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q6KReady, a: &BlockQ8K, _a_sum: i32) -> Rows8 {
        // SAFETY: forwarded.
        unsafe { terms_from::<D>(r, r.d, a) }
    }

    #[inline(always)]
    unsafe fn terms_direct(w: &BlockQ6Kx8, a: &BlockQ8K, _a_sum: i32) -> Rows8 {
        // SAFETY: forwarded; every read is inside `w`.
        unsafe { terms_from::<D>(w, f16x8(&w.d), a) }
    }
}

super::x8_leaves!(
    Q6Kx8Arm,
    BlockQ6Kx8,
    BlockQ8K,
    "Q6_K x8 × Q8_K",
    gemm_q6_kx8_q8_k_neon,
    gemm_q6_kx8_q8_k_dotprod
);
