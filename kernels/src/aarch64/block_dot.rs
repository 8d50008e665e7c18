//! The drivers every aarch64 block-quantized kernel runs through, and the float order they keep.
//!
//! A weight/activation block pair type implements [`BlockDot`] (exact integer sum of one block
//! pair, float terms of up to four blocks) and, for the i8mm tier, [`BlockDot2x2`] (the same for
//! two weight rows by two activation rows at once). The drivers here then reproduce the order of
//! [`crate::generic::accumulate`] exactly: block `b`'s term goes into lane `b % 8` of eight f32
//! lanes — held as two `float32x4_t`, lanes 0–3 and 4–7 — and the lanes are reduced as
//! `((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))`.
//!
//! Because integer sums are exact and every float step is the same IEEE operation on the same
//! values, each tier's vec_dot, its gemm, and the scalar twin give the same bits. Missing blocks
//! of a last, partial group of four add a `+0.0` term, which changes no lane: a lane starts at
//! `+0.0` and a round-to-nearest sum is `-0.0` only when both addends are, so no lane is ever
//! `-0.0`.

use core::arch::aarch64::*;

use super::int_dot::IntDot;

/// One weight block type paired with its activation block type, for the NEON and dotprod tiers.
pub(crate) trait BlockDot {
    /// Weight block.
    type W;
    /// Activation block.
    type A;

    /// Four i32 lanes whose total is the block pair's exact integer dot, as the scalar twin's
    /// `block_dot_*` computes it.
    ///
    /// # Safety
    /// The CPU has `D`'s feature.
    unsafe fn isum<D: IntDot>(x: &Self::W, y: &Self::A) -> int32x4_t;

    /// The float terms of `x.len()` (1 to 4) blocks, lane `k` for block `k`, computed as the scalar
    /// twin's `block_term_*` computes them from the exact sums in `isums` (lane `k` for block
    /// `k`; lanes past `x.len()` hold 0). Lanes past `x.len()` must come out `+0.0`.
    ///
    /// # Safety
    /// `x.len() == y.len()`, `1 <= x.len() <= 4`.
    unsafe fn terms4(x: &[Self::W], y: &[Self::A], isums: int32x4_t) -> float32x4_t;
}

/// A [`BlockDot`] that can also form a 2×2 tile (two weight rows by two activation rows) with
/// `smmla`.
pub(crate) trait BlockDot2x2: BlockDot {
    /// `[x0·y0, x0·y1, x1·y0, x1·y1]`, the exact integer dots of the four block pairs.
    ///
    /// # Safety
    /// The CPU has FEAT_I8MM.
    unsafe fn isum_2x2(x0: &Self::W, x1: &Self::W, y0: &Self::A, y1: &Self::A) -> int32x4_t;

    /// The float terms of the four pairs (same lane order), each computed as
    /// [`BlockDot::terms4`] computes that pair's term.
    ///
    /// # Safety
    /// None beyond NEON.
    unsafe fn terms_2x2(
        x0: &Self::W,
        x1: &Self::W,
        y0: &Self::A,
        y1: &Self::A,
        isums: int32x4_t,
    ) -> float32x4_t;
}

/// The lane totals of four lane vectors: `[Σs0, Σs1, Σs2, Σs3]` (exact integer adds).
#[inline(always)]
pub(crate) unsafe fn totals4(
    s0: int32x4_t,
    s1: int32x4_t,
    s2: int32x4_t,
    s3: int32x4_t,
) -> int32x4_t {
    // SAFETY: NEON is baseline; register-only.
    unsafe { vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3)) }
}

/// The generic tier's `reduce8` of lanes `lo` (0–3) and `hi` (4–7).
#[inline(always)]
pub(crate) unsafe fn reduce8(lo: float32x4_t, hi: float32x4_t) -> f32 {
    // SAFETY: NEON is baseline; register-only.
    unsafe {
        let s = vaddq_f32(lo, hi); // [a0+a4, a1+a5, a2+a6, a3+a7]
        let t = vadd_f32(vget_low_f32(s), vget_high_f32(s)); // [s0+s2, s1+s3]
        vget_lane_f32::<0>(t) + vget_lane_f32::<1>(t)
    }
}

/// The float terms of the four blocks starting at `i` (all present).
///
/// # Safety
/// The CPU has `D`'s feature; `i + 4 <= x.len(), y.len()`.
#[inline(always)]
unsafe fn group4<P: BlockDot, D: IntDot>(x: &[P::W], y: &[P::A], i: usize) -> float32x4_t {
    let (xg, yg) = (&x[i..i + 4], &y[i..i + 4]);
    // SAFETY: forwarded; `xg` and `yg` hold four blocks each.
    unsafe {
        let tot = totals4(
            P::isum::<D>(&xg[0], &yg[0]),
            P::isum::<D>(&xg[1], &yg[1]),
            P::isum::<D>(&xg[2], &yg[2]),
            P::isum::<D>(&xg[3], &yg[3]),
        );
        P::terms4(xg, yg, tot)
    }
}

/// The float terms of the 1 to 3 blocks from `i` to the end, `+0.0` in the missing lanes.
///
/// # Safety
/// The CPU has `D`'s feature; `1 <= x.len() - i <= 3` and `y.len() == x.len()`.
#[inline(always)]
unsafe fn partial_group<P: BlockDot, D: IntDot>(x: &[P::W], y: &[P::A], i: usize) -> float32x4_t {
    let (xr, yr) = (&x[i..], &y[i..]);
    // SAFETY: forwarded; `xr` and `yr` hold the same 1 to 3 blocks' count.
    unsafe {
        let mut s = [vdupq_n_s32(0); 4];
        for (k, (xb, yb)) in xr.iter().zip(yr).enumerate() {
            s[k] = P::isum::<D>(xb, yb);
        }
        P::terms4(xr, yr, totals4(s[0], s[1], s[2], s[3]))
    }
}

/// The dot product of a weight row with an activation row (as many blocks as both hold).
///
/// Groups of four blocks alternate between the low (lanes 0–3) and high (lanes 4–7) halves of
/// the eight lanes: blocks `8k..8k + 4` go low, `8k + 4..8k + 8` high.
///
/// # Safety
/// The CPU has `D`'s feature.
#[inline(always)]
pub(crate) unsafe fn vec_dot<P: BlockDot, D: IntDot>(x: &[P::W], y: &[P::A]) -> f32 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    // SAFETY: NEON is baseline; `D`'s feature is the caller's promise; every group helper gets
    // an index with the blocks it reads present in both slices.
    unsafe {
        let mut lo = vdupq_n_f32(0.0);
        let mut hi = vdupq_n_f32(0.0);
        let mut i = 0;
        while i + 8 <= n {
            lo = vaddq_f32(lo, group4::<P, D>(x, y, i));
            hi = vaddq_f32(hi, group4::<P, D>(x, y, i + 4));
            i += 8;
        }
        if i + 4 <= n {
            lo = vaddq_f32(lo, group4::<P, D>(x, y, i));
            i += 4;
            if i < n {
                hi = vaddq_f32(hi, partial_group::<P, D>(x, y, i));
            }
        } else if i < n {
            lo = vaddq_f32(lo, partial_group::<P, D>(x, y, i));
        }
        reduce8(lo, hi)
    }
}

/// Rows kept hot in L1 while every activation row passes over them in [`gemm_by_rows`].
const ROW_TILE: usize = 4;

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`, `rows = out.len() / n_act`, each
/// element computed by [`vec_dot`]; rows are taken in tiles of [`ROW_TILE`] so their weights stay
/// in cache while every activation row passes over them.
///
/// # Safety
/// The CPU has `D`'s feature.
#[inline(always)]
pub(crate) unsafe fn gemm_by_rows<P: BlockDot, D: IntDot>(
    w: &[P::W],
    act: &[P::A],
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
                out[c * rows + r] = unsafe { vec_dot::<P, D>(&w[r * nb..(r + 1) * nb], a) };
            }
        }
        r0 = r1;
    }
}

/// The 2×2-tile gemm of the i8mm tier: `out[c * rows + r]` for every row `r` and activation row
/// `c`, in tiles of two rows by two activation rows through [`BlockDot2x2`]; a last odd row or
/// activation row goes through [`vec_dot`] with `sdot`. Every element equals that vec_dot's.
///
/// # Safety
/// The CPU has FEAT_DotProd and FEAT_I8MM.
#[inline(always)]
pub(crate) unsafe fn gemm_2x2<P: BlockDot2x2, D: IntDot>(
    w: &[P::W],
    act: &[P::A],
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
            // SAFETY: the caller's promise covers i8mm; rows and columns hold `nb` blocks each.
            let v = unsafe { tile_2x2::<P>(row(r), row(r + 1), col(c), col(c + 1)) };
            out[c * rows + r] = v[0];
            out[(c + 1) * rows + r] = v[1];
            out[c * rows + r + 1] = v[2];
            out[(c + 1) * rows + r + 1] = v[3];
            c += 2;
        }
        if c < n_act {
            for rr in [r, r + 1] {
                // SAFETY: the caller's promise covers `D`'s feature.
                out[c * rows + rr] = unsafe { vec_dot::<P, D>(row(rr), col(c)) };
            }
        }
        r += 2;
    }
    if r < rows {
        for c in 0..n_act {
            // SAFETY: as above.
            out[c * rows + r] = unsafe { vec_dot::<P, D>(row(r), col(c)) };
        }
    }
}

/// The four dots `[x0·y0, x0·y1, x1·y0, x1·y1]` in the generic 8-lane order, one lane
/// accumulator vector per `b % 8` holding the four elements.
///
/// # Safety
/// The CPU has FEAT_I8MM; all four slices hold the same number of blocks.
#[inline(always)]
unsafe fn tile_2x2<P: BlockDot2x2>(x0: &[P::W], x1: &[P::W], y0: &[P::A], y1: &[P::A]) -> [f32; 4] {
    let n = x0.len();
    // SAFETY: NEON is baseline, i8mm is the caller's promise; every index is below `n`, the
    // common length of the four slices.
    unsafe {
        let mut acc = [vdupq_n_f32(0.0); 8];
        let mut b = 0;
        while b + 8 <= n {
            for (k, lane) in acc.iter_mut().enumerate() {
                let i = b + k;
                let s = P::isum_2x2(&x0[i], &x1[i], &y0[i], &y1[i]);
                *lane = vaddq_f32(*lane, P::terms_2x2(&x0[i], &x1[i], &y0[i], &y1[i], s));
            }
            b += 8;
        }
        for (k, lane) in acc.iter_mut().enumerate().take(n - b) {
            let i = b + k;
            let s = P::isum_2x2(&x0[i], &x1[i], &y0[i], &y1[i]);
            *lane = vaddq_f32(*lane, P::terms_2x2(&x0[i], &x1[i], &y0[i], &y1[i], s));
        }
        // Per element (vector lane): s_j = a_j + a_{j+4}, then (s0 + s2) + (s1 + s3).
        let s0 = vaddq_f32(acc[0], acc[4]);
        let s1 = vaddq_f32(acc[1], acc[5]);
        let s2 = vaddq_f32(acc[2], acc[6]);
        let s3 = vaddq_f32(acc[3], acc[7]);
        let v = vaddq_f32(vaddq_f32(s0, s2), vaddq_f32(s1, s3));
        let mut o = [0.0f32; 4];
        vst1q_f32(o.as_mut_ptr(), v);
        o
    }
}
