//! Scalar twins of the attention kernels. Every tier follows these exactly: the same operations
//! in the same order, so a SIMD kernel equals its twin bit for bit. The exponential multiplies
//! then adds (never fused); the weighted sums fuse (one rounding per `acc + w·v`), which every
//! SIMD tier has as one instruction (FMA, NEON's `fmla`) and [`f32::mul_add`] gives here.
//!
//! - The exponential is Cephes' `expf`: `x = n·ln 2 + r` with `n` the nearest integer to
//!   `x·log₂e` (ties to even) and `ln 2` split in two so that `n·C1` is exact, then a degree-5
//!   polynomial in `r`, then the scale `2ⁿ` built from its exponent bits. Arguments below
//!   [`EXP_LOW`] give 0 (the result would be subnormal); NaN stays NaN.
//! - The softmax sum goes to [`SUM_LANES`] lanes (element `i` to lane `i % 8`, in index order),
//!   then `(l0+l4 + l2+l6) + (l1+l5 + l3+l7)` as [`reduce_lanes`] writes it.
//! - A weighted sum adds, for each value row in order, `w·v` into every accumulator element
//!   with one fused multiply-add (for Q8_0 rows, `(w·d)·q`: the block's factor `w·d` rounded
//!   first, then fused).

use half::f16;

use crate::blocks::BlockQ8_0;

/// Lanes of the softmax sum.
pub const SUM_LANES: usize = 8;
/// Below this, `exp` gives 0.
pub const EXP_LOW: f32 = -87.0;
/// `log₂ e`.
pub const LOG2E: f32 = core::f32::consts::LOG2_E;
/// `ln 2`, high part (few significant bits, so that `n · C1` is exact).
pub const LN2_C1: f32 = 0.693_359_4; // 355/512, exactly
/// `ln 2 - C1`.
pub const LN2_C2: f32 = -2.121_944_4e-4;
/// The polynomial's coefficients, highest degree first.
pub const EXP_P: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5, // Cephes' 5.0000001201e-1, which rounds to 0.5 in f32
];

/// `eˣ` for `x ≤ 0` (larger arguments are not clamped: keep them at most 88).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let n = (x * LOG2E).round_ties_even();
    let r = x - n * LN2_C1;
    let r = r - n * LN2_C2;
    let z = r * r;
    let mut y = EXP_P[0];
    for &p in &EXP_P[1..] {
        y = y * r + p;
    }
    let y = y * z + r;
    let y = y + 1.0;
    // `n` is integral and in -126..=127 here (an argument below EXP_LOW is masked below).
    let scale = f32::from_bits((((n as i32) + 127) << 23) as u32);
    let e = y * scale;
    if x < EXP_LOW {
        0.0
    } else {
        e
    }
}

/// `x`, with a zero of either sign as `+0`.
#[inline(always)]
pub fn positive_zero(x: f32) -> f32 {
    if x == 0.0 {
        0.0
    } else {
        x
    }
}

/// The fixed reduction of the sum lanes.
#[inline(always)]
pub fn reduce_lanes(l: &[f32; SUM_LANES]) -> f32 {
    let a = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    let b = [a[0] + a[2], a[1] + a[3]];
    b[0] + b[1]
}

/// One block of attention scores, in place: `s[i] ← exp(s[i]·scale − m)` with `m` the largest
/// `s[i]·scale` (NaN scores ignored; a largest zero is `+0`, whichever signs the block holds);
/// returns `(m, Σ exp)`. Empty: `(−∞, 0)`.
pub fn softmax_block(s: &mut [f32], scale: f32) -> (f32, f32) {
    let mut m = f32::NEG_INFINITY;
    for &v in s.iter() {
        let v = v * scale;
        if v > m {
            m = v;
        }
    }
    // Which zero came first would tie `m` to the order of the walk; `+0` frees the tiers to
    // take the maximum in any order (the exponentials are the same for either zero).
    let m = positive_zero(m);
    let mut lanes = [0.0f32; SUM_LANES];
    for (i, v) in s.iter_mut().enumerate() {
        let e = exp(*v * scale - m);
        *v = e;
        lanes[i % SUM_LANES] += e;
    }
    (m, reduce_lanes(&lanes))
}

/// `acc[j] += Σ_p w[p] · v[p][j]` for F32 value rows `v` (`w.len()` rows of `acc.len()`).
pub fn weighted_sum_f32(v: &[f32], w: &[f32], acc: &mut [f32]) {
    let d = acc.len();
    for (&wp, row) in w.iter().zip(v.chunks_exact(d)) {
        for (a, &x) in acc.iter_mut().zip(row) {
            *a = wp.mul_add(x, *a);
        }
    }
}

/// [`weighted_sum_f32`] for F16 value rows.
pub fn weighted_sum_f16(v: &[f16], w: &[f32], acc: &mut [f32]) {
    let d = acc.len();
    for (&wp, row) in w.iter().zip(v.chunks_exact(d)) {
        for (a, &x) in acc.iter_mut().zip(row) {
            *a = wp.mul_add(x.to_f32(), *a);
        }
    }
}

/// [`weighted_sum_f32`] for Q8_0 value rows (`acc.len() / 32` blocks a row): each block adds
/// `(w·d)·q`.
pub fn weighted_sum_q8_0(v: &[BlockQ8_0], w: &[f32], acc: &mut [f32]) {
    let nb = acc.len() / 32;
    for (&wp, row) in w.iter().zip(v.chunks_exact(nb)) {
        for (b, a) in row.iter().zip(acc.chunks_exact_mut(32)) {
            let c = wp * b.d.to_f32();
            for (a, &q) in a.iter_mut().zip(&b.qs) {
                *a = c.mul_add(f32::from(q), *a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_close_to_std_and_exact_at_zero() {
        assert_eq!(exp(0.0), 1.0);
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.0173;
        }
        assert!(worst < 4e-7, "relative error {worst}");
        assert_eq!(exp(-87.5), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn softmax_block_normalises_to_the_largest_score() {
        let mut s = [1.0f32, 3.0, 2.0, f32::NAN, -1.0];
        let (m, sum) = softmax_block(&mut s, 0.5);
        assert_eq!(m, 1.5);
        assert_eq!(s[1], 1.0);
        assert!((s[0] - (-1.0f32).exp()).abs() < 1e-7);
        assert!(s[3].is_nan(), "a NaN score stays NaN");
        assert!(sum.is_nan());
        let mut empty: [f32; 0] = [];
        assert_eq!(softmax_block(&mut empty, 1.0), (f32::NEG_INFINITY, 0.0));
    }
}
