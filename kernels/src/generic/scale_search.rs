//! The scale searches behind ggml's reference K-quant quantizers, and its rounding rule.
//!
//! Each search picks, for one sub-block, a scale (and for the "min" formats a minimum) and the
//! integer levels that go with it. They must reproduce ggml's reference quantizers bit for bit, so
//! every floating-point expression is evaluated in the order the reference evaluates it, with no
//! fused multiply-add (Rust never contracts `a * b + c`).

/// ggml's rounding: adds 1.5·2²³ so the float adder rounds to an integer (half to even) and
/// reads the integer back from the mantissa. Exact for `|v| <= 2²²`; for larger, infinite or NaN
/// inputs it returns the same deterministic garbage ggml does, so results stay bit-identical.
#[inline(always)]
pub fn nearest_int(v: f32) -> i32 {
    let biased = v + 12_582_912.0f32;
    (biased.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// The element of largest magnitude, with its sign (the first one on ties), and that magnitude.
#[inline(always)]
fn signed_absmax(x: &[f32]) -> (f32, f32) {
    let mut max = 0.0f32;
    let mut amax = 0.0f32;
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    (max, amax)
}

/// Symmetric levels in `-nmax..nmax` weighted by `x²` (ggml's `make_qx_quants` with
/// `rmse_type = 1` and no importance weights): tries `iscale = -(nmax + 0.1·k) / max` for
/// `k = -9..=9` and keeps the least-squares scale with the best fit. Writes `levels[i] = l + nmax`
/// and returns the scale (0 for a block of (near) zeros, whose levels are all 0).
pub fn make_qx_quants_x2(x: &[f32], nmax: i32, levels: &mut [i8]) -> f32 {
    let (max, amax) = signed_absmax(x);
    if amax < 1e-30 {
        levels.iter_mut().for_each(|l| *l = 0);
        return 0.0;
    }
    let clamp = |l: i32| l.clamp(-nmax, nmax - 1);
    let mut iscale = -(nmax as f32) / max;
    let mut sumlx = 0.0f32;
    let mut suml2 = 0.0f32;
    for (&v, lv) in x.iter().zip(levels.iter_mut()) {
        let l = clamp(nearest_int(iscale * v));
        *lv = (l + nmax) as i8;
        let w = v * v;
        sumlx += w * v * l as f32;
        suml2 += w * l as f32 * l as f32;
    }
    let mut scale = sumlx / suml2;
    let mut best = scale * sumlx;
    for is in -9i32..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmax as f32 + 0.1f32 * is as f32) / max;
        sumlx = 0.0;
        suml2 = 0.0;
        for &v in x {
            let l = clamp(nearest_int(iscale * v));
            let w = v * v;
            sumlx += w * v * l as f32;
            suml2 += w * l as f32 * l as f32;
        }
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (&v, lv) in x.iter().zip(levels.iter_mut()) {
                *lv = (clamp(nearest_int(iscale * v)) + nmax) as i8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// Symmetric levels in `-nmax..nmax` for Q3_K (ggml's `make_q3_quants` with `do_rmse`): starts
/// from `iscale = -nmax / max`, then for up to 5 rounds moves single levels when that improves the
/// `x²`-weighted least-squares fit. Writes `levels[i] = l + nmax` and returns the scale (0 for an
/// all-zero block, whose levels are left at 0, not `nmax`).
pub fn make_q3_quants(x: &[f32], nmax: i32, levels: &mut [i8]) -> f32 {
    let (max, amax) = signed_absmax(x);
    if amax == 0.0 {
        levels.iter_mut().for_each(|l| *l = 0);
        return 0.0;
    }
    let clamp = |l: i32| l.clamp(-nmax, nmax - 1);
    let iscale = -(nmax as f32) / max;
    let mut sumlx = 0.0f32;
    let mut suml2 = 0.0f32;
    for (&v, lv) in x.iter().zip(levels.iter_mut()) {
        let l = clamp(nearest_int(iscale * v));
        *lv = l as i8;
        let w = v * v;
        sumlx += w * v * l as f32;
        suml2 += w * l as f32 * l as f32;
    }
    for _ in 0..5 {
        let mut changed = 0;
        for (&v, lv) in x.iter().zip(levels.iter_mut()) {
            let w = v * v;
            let cur = *lv as f32;
            let mut slx = sumlx - w * v * cur;
            if slx > 0.0 {
                let mut sl2 = suml2 - w * cur * cur;
                let new_l = clamp(nearest_int(v * sl2 / slx));
                if new_l != *lv as i32 {
                    slx += w * v * new_l as f32;
                    sl2 += w * new_l as f32 * new_l as f32;
                    if sl2 > 0.0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        *lv = new_l as i8;
                        sumlx = slx;
                        suml2 = sl2;
                        changed += 1;
                    }
                }
            }
        }
        if changed == 0 {
            break;
        }
    }
    for lv in levels.iter_mut() {
        *lv += nmax as i8;
    }
    sumlx / suml2
}

/// Parameters of the asymmetric search [`make_qkx2_quants`].
#[derive(Clone, Copy, Debug)]
pub struct Qkx2Search {
    /// Highest level (levels are `0..=nmax`).
    pub nmax: i32,
    /// First offset tried on `nmax` when stretching the scale.
    pub rmin: f32,
    /// Step between tries.
    pub rdelta: f32,
    /// Number of steps after the first (tries `nstep + 1` scales).
    pub nstep: i32,
    /// Weigh absolute errors (`true`) or squared errors (`false`).
    pub use_mad: bool,
}

/// Asymmetric levels `0..=nmax` with a minimum (ggml's `make_qkx2_quants`): `x ≈ scale·l - m`.
///
/// Starts from the full range `[min(x, 0), max(x)]`, then tries `nstep + 1` stretched scales,
/// solving the weighted least-squares scale and minimum for each set of levels, and keeps the one
/// with the smallest weighted error. Writes the levels, returns `(scale, m)` with `m >= 0`.
/// `aux` is scratch of the same length as `x`.
pub fn make_qkx2_quants(
    x: &[f32],
    weights: &[f32],
    p: Qkx2Search,
    levels: &mut [u8],
    aux: &mut [u8],
) -> (f32, f32) {
    let n = x.len();
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        levels.iter_mut().for_each(|l| *l = 0);
        return (0.0, -min);
    }
    let nmax = p.nmax;
    let err = |d: f32| if p.use_mad { d.abs() } else { d * d };
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_mad = 0.0f32;
    for i in 0..n {
        let l = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
        levels[i] = l as u8;
        let diff = scale * l as f32 + min - x[i];
        best_mad += weights[i] * err(diff);
    }
    if p.nstep < 1 {
        return (scale, -min);
    }
    for is in 0..=p.nstep {
        iscale = (p.rmin + p.rdelta * is as f32 + nmax as f32) / (max - min);
        let mut sum_l = 0.0f32;
        let mut sum_l2 = 0.0f32;
        let mut sum_xl = 0.0f32;
        for i in 0..n {
            let l = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            aux[i] = l as u8;
            let w = weights[i];
            let lf = l as f32;
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut mad = 0.0f32;
            for i in 0..n {
                let diff = this_scale * aux[i] as f32 + this_min - x[i];
                mad += weights[i] * err(diff);
            }
            if mad < best_mad {
                levels[..n].copy_from_slice(&aux[..n]);
                best_mad = mad;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_rounds_half_to_even() {
        assert_eq!(nearest_int(0.5), 0);
        assert_eq!(nearest_int(1.5), 2);
        assert_eq!(nearest_int(2.5), 2);
        assert_eq!(nearest_int(-2.5), -2);
        assert_eq!(nearest_int(-3.7), -4);
        assert_eq!(nearest_int(126.49), 126);
    }

    #[test]
    fn qkx2_recovers_an_exact_grid() {
        // x = 0.25 * l - 1.0 with l in 0..=15 is representable exactly.
        let x: [f32; 32] = core::array::from_fn(|i| 0.25 * (i % 16) as f32 - 1.0);
        let w = [1.0f32; 32];
        let mut l = [0u8; 32];
        let mut aux = [0u8; 32];
        let p = Qkx2Search {
            nmax: 15,
            rmin: -1.0,
            rdelta: 0.1,
            nstep: 20,
            use_mad: false,
        };
        let (scale, m) = make_qkx2_quants(&x, &w, p, &mut l, &mut aux);
        for i in 0..32 {
            assert!((scale * l[i] as f32 - m - x[i]).abs() < 1e-5);
        }
    }
}
