//! x8 products of Q4_K weights ([`BlockQ4Kx8`]) with Q8_K activations, NEON and dotprod tiers,
//! bit-identical to the scalar twin [`crate::generic::x8::q4_k`]: per sub-block, the nibbles'
//! sums (eight words: within the NEON step's bound, `8·15·128`) times the rows' 6-bit scales;
//! the minimums against pairs of the activations' 16-value sums.

use core::arch::aarch64::*;
use core::marker::PhantomData;

use super::x8_lanes::{
    bytes_per_row, dot_words, f16x8, load_word, mul2, mul2_n, to_f32, KWords, RowDot, Rows8, Word,
};
use crate::blocks::BlockQ8K;
use crate::blocks_x8::BlockQ4Kx8;
use crate::generic::x8::q4_k::Q4Kx8;
use crate::x8_walk::X8Pair;

/// The Q4_K x8 × Q8_K pair on integer step `D`.
pub(crate) struct Q4Kx8Arm<D>(PhantomData<D>);

/// A super-block unpacked for many activation rows.
pub(crate) struct Q4KReady {
    words: [Word; 64],
    scales: [[int32x4_t; 2]; 8],
    mins: [[u8; 16]; 4],
    d: [float32x4_t; 2],
    dmin: [float32x4_t; 2],
}

impl KWords for Q4KReady {
    #[inline(always)]
    unsafe fn word(&self, j: usize) -> Word {
        self.words[j]
    }

    #[inline(always)]
    unsafe fn scale(&self, s: usize) -> [int32x4_t; 2] {
        self.scales[s]
    }
}

/// Word `8s + i` of sub-block `s = 2c + h` is the low (`h = 0`) or high nibbles of `qs` word
/// `8c + i`.
impl KWords for BlockQ4Kx8 {
    #[inline(always)]
    unsafe fn word(&self, j: usize) -> Word {
        let (s, i) = (j / 8, j % 8);
        // SAFETY: word `8c + i < 32` of the 1024-byte `qs`; NEON is baseline.
        unsafe {
            let v = load_word(&self.qs, 8 * (s / 2) + i);
            let nib = |x: int8x16_t| {
                let u = vreinterpretq_u8_s8(x);
                let u = if s % 2 == 0 {
                    vandq_u8(u, vdupq_n_u8(0x0f))
                } else {
                    vshrq_n_u8::<4>(u)
                };
                vreinterpretq_s8_u8(u)
            };
            [nib(v[0]), nib(v[1])]
        }
    }

    #[inline(always)]
    unsafe fn scale(&self, s: usize) -> [int32x4_t; 2] {
        // SAFETY: NEON is baseline.
        unsafe { bytes_per_row::<false>(&self.scales[s]) }
    }
}

/// `isum` plus sub-block `S`'s `sc·Σ q·a` in each row's lane.
///
/// # Safety
/// The tier's features.
#[inline(always)]
unsafe fn sub_sum<D: RowDot, const S: usize>(
    q: &impl KWords,
    a: &BlockQ8K,
    isum: [int32x4_t; 2],
) -> [int32x4_t; 2] {
    // SAFETY: forwarded; eight words keep the step bound.
    unsafe {
        let words: [Word; 8] = [
            q.word(8 * S),
            q.word(8 * S + 1),
            q.word(8 * S + 2),
            q.word(8 * S + 3),
            q.word(8 * S + 4),
            q.word(8 * S + 5),
            q.word(8 * S + 6),
            q.word(8 * S + 7),
        ];
        let dot = dot_words::<D, 8>(&words, &a.qs, 8 * S);
        let sc = q.scale(S);
        [
            vmlaq_s32(isum[0], dot[0], sc[0]),
            vmlaq_s32(isum[1], dot[1], sc[1]),
        ]
    }
}

/// Row `k`'s `Σ_s m_s·(bsum_2s + bsum_2s+1)`, the minimums' part, exact.
///
/// # Safety
/// None beyond NEON.
#[inline(always)]
unsafe fn min_sums(mins: &[[u8; 16]; 4], a: &BlockQ8K) -> [int32x4_t; 2] {
    // SAFETY: loads inside `mins` and `a.bsums`; register-only NEON otherwise.
    unsafe {
        let b = vld1q_s16(a.bsums.as_ptr());
        let b2 = vld1q_s16(a.bsums.as_ptr().add(8));
        // Sums of sub-blocks 0..8; as 32-bit lanes, lane p holds the pair (2p, 2p + 1).
        let pairs = vreinterpretq_s32_s16(vpaddq_s16(b, b2));
        let per_pair = [
            vreinterpretq_s16_s32(vdupq_laneq_s32::<0>(pairs)),
            vreinterpretq_s16_s32(vdupq_laneq_s32::<1>(pairs)),
            vreinterpretq_s16_s32(vdupq_laneq_s32::<2>(pairs)),
            vreinterpretq_s16_s32(vdupq_laneq_s32::<3>(pairs)),
        ];
        let mut out = [vdupq_n_s32(0); 2];
        for (p, bp) in per_pair.iter().enumerate() {
            // Row k's two minimums of this pair at bytes 2k, 2k + 1.
            let m = vld1q_u8(mins[p].as_ptr());
            for (h, o) in out.iter_mut().enumerate() {
                let m16 = vreinterpretq_s16_u16(if h == 0 {
                    vmovl_u8(vget_low_u8(m))
                } else {
                    vmovl_high_u8(m)
                });
                let lo = vmull_s16(vget_low_s16(m16), vget_low_s16(*bp));
                let hi = vmull_high_s16(m16, *bp);
                *o = vaddq_s32(*o, vpaddq_s32(lo, hi));
            }
        }
        out
    }
}

/// The eight rows' float terms `(d·ad)·isum - (dmin·ad)·msum`, as the twin's block term.
///
/// # Safety
/// The tier's features.
#[inline(always)]
unsafe fn terms_from<D: RowDot>(
    q: &impl KWords,
    mins: &[[u8; 16]; 4],
    d: [float32x4_t; 2],
    dmin: [float32x4_t; 2],
    a: &BlockQ8K,
) -> Rows8 {
    // SAFETY: forwarded.
    unsafe {
        // Constant sub-block numbers: every word's unpacking is static.
        let mut isum = [vdupq_n_s32(0); 2];
        isum = sub_sum::<D, 0>(q, a, isum);
        isum = sub_sum::<D, 1>(q, a, isum);
        isum = sub_sum::<D, 2>(q, a, isum);
        isum = sub_sum::<D, 3>(q, a, isum);
        isum = sub_sum::<D, 4>(q, a, isum);
        isum = sub_sum::<D, 5>(q, a, isum);
        isum = sub_sum::<D, 6>(q, a, isum);
        isum = sub_sum::<D, 7>(q, a, isum);
        let msum = min_sums(mins, a);
        let t = mul2(mul2_n(d, a.d), to_f32(isum));
        let m = mul2(mul2_n(dmin, a.d), to_f32(msum));
        Rows8([vsubq_f32(t[0], m[0]), vsubq_f32(t[1], m[1])])
    }
}

impl<D: RowDot> X8Pair for Q4Kx8Arm<D> {
    type Lanes = Rows8;
    type Twin = Q4Kx8;
    type Ready = Q4KReady;

    #[inline(always)]
    unsafe fn new_ready() -> Q4KReady {
        // SAFETY: NEON is baseline on aarch64.
        unsafe {
            let z = vdupq_n_f32(0.0);
            Q4KReady {
                words: [[vdupq_n_s8(0); 2]; 64],
                scales: [[vdupq_n_s32(0); 2]; 8],
                mins: [[0; 16]; 4],
                d: [z; 2],
                dmin: [z; 2],
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ4Kx8, r: &mut Q4KReady) {
        // SAFETY: reads inside `w`; NEON is baseline.
        unsafe {
            for (j, word) in r.words.iter_mut().enumerate() {
                *word = w.word(j);
            }
            for (s, sc) in r.scales.iter_mut().enumerate() {
                *sc = w.scale(s);
            }
            r.mins = w.mins;
            r.d = f16x8(&w.d);
            r.dmin = f16x8(&w.dmin);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q4KReady, a: &BlockQ8K, _a_sum: i32) -> Rows8 {
        // SAFETY: forwarded.
        unsafe { terms_from::<D>(r, &r.mins, r.d, r.dmin, a) }
    }

    #[inline(always)]
    unsafe fn terms_direct(w: &BlockQ4Kx8, a: &BlockQ8K, _a_sum: i32) -> Rows8 {
        // SAFETY: forwarded; every read is inside `w`.
        unsafe { terms_from::<D>(w, &w.mins, f16x8(&w.d), f16x8(&w.dmin), a) }
    }
}

super::x8_leaves!(
    Q4Kx8Arm,
    BlockQ4Kx8,
    BlockQ8K,
    "Q4_K x8 × Q8_K",
    gemm_q4_kx8_q8_k_neon,
    gemm_q4_kx8_q8_k_dotprod
);
