//! The drivers of the K-quant kernels (256-value super-blocks × Q8_K activations).
//!
//! A super-block carries 256 values of integer work and a handful of float operations, so only
//! the integer parts are vectorised: a [`KBlockDot`] type computes a block pair's exact integer
//! sums with NEON (`smull`/`sadalp`, `sdot`, or `smmla` for 2×2 tiles), and the float term is the
//! scalar twin's own `block_term_*` function, accumulated by the twin's own
//! [`BlockAccumulator`]. Same integers, same float code: the bits equal the twin's by
//! construction, in every tier and in gemm as in vec_dot.

use core::arch::aarch64::{
    int32x4_t, int8x16_t, vaddvq_s32, vdupq_n_s32, vld1q_s32, vld1q_s8, vmlaq_s32, vst1q_s32,
};

use super::int_dot::IntDot;
use super::lanes::mmla16;
use crate::blocks::BlockQ8K;
use crate::generic::accumulate::BlockAccumulator;

/// One K-quant weight block type against Q8_K activations.
pub(crate) trait KBlockDot {
    /// Weight block.
    type W;
    /// Activation block (always [`BlockQ8K`]; named so the leaf macro reads like the legacy one).
    type A;

    /// The exact integer parts of one block pair, as the twin's `block_dot_*` returns them
    /// (`msum` is 0 for types without minimums).
    ///
    /// # Safety
    /// The CPU has `D`'s feature.
    unsafe fn ints<D: IntDot>(w: &Self::W, a: &BlockQ8K) -> (i32, i32);

    /// The integer parts of the four pairs `[w0·a0, w0·a1, w1·a0, w1·a1]`.
    ///
    /// # Safety
    /// The CPU has FEAT_I8MM.
    unsafe fn ints_2x2(
        w0: &Self::W,
        w1: &Self::W,
        a0: &BlockQ8K,
        a1: &BlockQ8K,
    ) -> ([i32; 4], [i32; 4]);

    /// The twin's float term of one block pair.
    fn term(w: &Self::W, a: &BlockQ8K, isum: i32, msum: i32) -> f32;
}

/// `acc + v · scale`, lane-wise (exact integer work for the sums K-quants reach).
#[inline(always)]
pub(crate) unsafe fn scaled_add(acc: int32x4_t, v: int32x4_t, scale: int32x4_t) -> int32x4_t {
    // SAFETY: register-only NEON.
    unsafe { vmlaq_s32(acc, v, scale) }
}

/// The sum of four lanes.
#[inline(always)]
pub(crate) unsafe fn total(v: int32x4_t) -> i32 {
    // SAFETY: register-only NEON.
    unsafe { vaddvq_s32(v) }
}

/// The four lanes of `v` as an array.
#[inline(always)]
pub(crate) unsafe fn lanes(v: int32x4_t) -> [i32; 4] {
    let mut o = [0i32; 4];
    // SAFETY: `o` has room for four i32.
    unsafe { vst1q_s32(o.as_mut_ptr(), v) };
    o
}

/// A zero accumulator.
#[inline(always)]
pub(crate) unsafe fn zero() -> int32x4_t {
    // SAFETY: register-only NEON.
    unsafe { vdupq_n_s32(0) }
}

/// The dot product of a weight row with an activation row (as many blocks as both hold).
///
/// # Safety
/// The CPU has `D`'s feature.
#[inline(always)]
pub(crate) unsafe fn vec_dot<K: KBlockDot<A = BlockQ8K>, D: IntDot>(
    x: &[K::W],
    y: &[BlockQ8K],
) -> f32 {
    let mut acc = BlockAccumulator::new();
    for (i, (w, a)) in x.iter().zip(y).enumerate() {
        // SAFETY: `D`'s feature is the caller's promise.
        let (isum, msum) = unsafe { K::ints::<D>(w, a) };
        acc.add(i, K::term(w, a, isum, msum));
    }
    acc.finish()
}

/// Rows kept hot in cache while every activation row passes over them in [`gemm_by_rows`].
const ROW_TILE: usize = 4;

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`, `rows = out.len() / n_act`, in
/// row tiles of [`ROW_TILE`].
///
/// # Safety
/// The CPU has `D`'s feature.
#[inline(always)]
pub(crate) unsafe fn gemm_by_rows<K: KBlockDot<A = BlockQ8K>, D: IntDot>(
    w: &[K::W],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
) {
    if n_act == 0 || out.is_empty() {
        return;
    }
    let rows = out.len() / n_act;
    let nb = act.len() / n_act;
    let mut r0 = 0;
    while r0 < rows {
        let r1 = (r0 + ROW_TILE).min(rows);
        for c in 0..n_act {
            let a = &act[c * nb..(c + 1) * nb];
            for r in r0..r1 {
                // SAFETY: `D`'s feature is the caller's promise.
                out[c * rows + r] = unsafe { vec_dot::<K, D>(&w[r * nb..(r + 1) * nb], a) };
            }
        }
        r0 = r1;
    }
}

/// The i8mm gemm: tiles of two rows by two activation rows through [`KBlockDot::ints_2x2`], a last
/// odd row or activation row through [`vec_dot`]. Every element equals that vec_dot's.
///
/// # Safety
/// The CPU has FEAT_DotProd and FEAT_I8MM (`D` is the dotprod step).
#[inline(always)]
pub(crate) unsafe fn gemm_2x2<K: KBlockDot<A = BlockQ8K>, D: IntDot>(
    w: &[K::W],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
) {
    if n_act == 0 || out.is_empty() {
        return;
    }
    let rows = out.len() / n_act;
    let nb = act.len() / n_act;
    let row = |r: usize| &w[r * nb..(r + 1) * nb];
    let col = |c: usize| &act[c * nb..(c + 1) * nb];
    let mut r = 0;
    while r + 2 <= rows {
        let mut c = 0;
        while c + 2 <= n_act {
            let (x0, x1, y0, y1) = (row(r), row(r + 1), col(c), col(c + 1));
            let mut acc = [BlockAccumulator::new(); 4];
            for i in 0..nb {
                // SAFETY: i8mm is the caller's promise; `i < nb`, each slice's length.
                let (is, ms) = unsafe { K::ints_2x2(&x0[i], &x1[i], &y0[i], &y1[i]) };
                acc[0].add(i, K::term(&x0[i], &y0[i], is[0], ms[0]));
                acc[1].add(i, K::term(&x0[i], &y1[i], is[1], ms[1]));
                acc[2].add(i, K::term(&x1[i], &y0[i], is[2], ms[2]));
                acc[3].add(i, K::term(&x1[i], &y1[i], is[3], ms[3]));
            }
            out[c * rows + r] = acc[0].finish();
            out[(c + 1) * rows + r] = acc[1].finish();
            out[c * rows + r + 1] = acc[2].finish();
            out[(c + 1) * rows + r + 1] = acc[3].finish();
            c += 2;
        }
        if c < n_act {
            for rr in [r, r + 1] {
                // SAFETY: the caller's promise covers `D`'s feature.
                out[c * rows + rr] = unsafe { vec_dot::<K, D>(row(rr), col(c)) };
            }
        }
        r += 2;
    }
    if r < rows {
        for c in 0..n_act {
            // SAFETY: as above.
            out[c * rows + r] = unsafe { vec_dot::<K, D>(row(r), col(c)) };
        }
    }
}

/// `acc + Σ_i scales[i]·(q[i] · a[16(8h + i)..][..16])`, lane-wise: the 8 sub-blocks of 16 in
/// half `h` of a super-block with 16-value sub-blocks (Q2_K, Q3_K).
///
/// # Safety
/// The CPU has `D`'s feature; `h < 2`.
#[inline(always)]
pub(crate) unsafe fn dot_half16<D: IntDot>(
    acc: int32x4_t,
    q: &[int8x16_t; 8],
    scales: &[i32; 16],
    a: &BlockQ8K,
    h: usize,
) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: 16-byte loads at `16s`, `s < 16`, inside the 256-byte `qs`; `D`'s feature is the
    // caller's promise.
    unsafe {
        for (i, &qv) in q.iter().enumerate() {
            let s = 8 * h + i;
            let p = D::dot(zero(), qv, vld1q_s8(a.qs.as_ptr().add(16 * s)));
            acc = scaled_add(acc, p, vdupq_n_s32(scales[s]));
        }
    }
    acc
}

/// As [`dot_half16`] for a 2×2 tile with `smmla`: lanes `[w0·a0, w0·a1, w1·a0, w1·a1]`.
///
/// # Safety
/// The CPU has FEAT_I8MM; `h < 2`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn mmla_half16(
    acc: int32x4_t,
    q0: &[int8x16_t; 8],
    q1: &[int8x16_t; 8],
    s0: &[i32; 16],
    s1: &[i32; 16],
    a0: &BlockQ8K,
    a1: &BlockQ8K,
    h: usize,
) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: loads as in `dot_half16`; i8mm is the caller's promise.
    unsafe {
        for i in 0..8 {
            let s = 8 * h + i;
            let y0 = vld1q_s8(a0.qs.as_ptr().add(16 * s));
            let y1 = vld1q_s8(a1.qs.as_ptr().add(16 * s));
            let m = mmla16(zero(), q0[i], q1[i], y0, y1);
            let k = [s0[s], s0[s], s1[s], s1[s]];
            acc = scaled_add(acc, m, vld1q_s32(k.as_ptr()));
        }
    }
    acc
}
