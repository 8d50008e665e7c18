//! NEON attention kernels, bit-identical to [`super::generic`]: the same operations in the same
//! order, four elements at a time (two vectors make the eight sum lanes): the exponential
//! multiplies then adds, the weighted sums fuse (`vfmaq_f32`, as the twin's `mul_add`).

use core::arch::aarch64::*;

use half::f16;

use super::generic::{
    positive_zero, reduce_lanes, EXP_LOW, EXP_P, LN2_C1, LN2_C2, LOG2E, SUM_LANES,
};
use crate::aarch64::instructions::f16x4_to_f32;
use crate::blocks::BlockQ8_0;

/// Four [`super::generic::exp`]s.
///
/// # Safety
/// NEON (every aarch64 CPU).
#[inline(always)]
pub(crate) unsafe fn exp4(x: float32x4_t) -> float32x4_t {
    // SAFETY: register arithmetic only.
    unsafe {
        let n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(LOG2E)));
        let r = vsubq_f32(x, vmulq_f32(n, vdupq_n_f32(LN2_C1)));
        let r = vsubq_f32(r, vmulq_f32(n, vdupq_n_f32(LN2_C2)));
        let z = vmulq_f32(r, r);
        let mut y = vdupq_n_f32(EXP_P[0]);
        for &p in &EXP_P[1..] {
            y = vaddq_f32(vmulq_f32(y, r), vdupq_n_f32(p));
        }
        let y = vaddq_f32(vmulq_f32(y, z), r);
        let y = vaddq_f32(y, vdupq_n_f32(1.0));
        let bits = vshlq_n_s32::<23>(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)));
        let e = vmulq_f32(y, vreinterpretq_f32_s32(bits));
        // A NaN argument compares false and keeps its NaN result.
        let low = vcltq_f32(x, vdupq_n_f32(EXP_LOW));
        vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(e), low))
    }
}

/// NEON twin of [`super::generic::softmax_block`].
///
/// # Safety
/// NEON (every aarch64 CPU).
#[target_feature(enable = "neon")]
pub unsafe fn softmax_block_neon(s: &mut [f32], scale: f32) -> (f32, f32) {
    let whole = s.len() - s.len() % SUM_LANES;
    let p = s.as_mut_ptr();
    let mut m = f32::NEG_INFINITY;
    let mut lanes = [0.0f32; SUM_LANES];
    // SAFETY: every access touches 4 floats at `i + 4k < whole <= s.len()`.
    unsafe {
        let sc = vdupq_n_f32(scale);
        let mut mv = [vdupq_n_f32(f32::NEG_INFINITY); 2];
        let mut i = 0;
        while i < whole {
            for (k, mk) in mv.iter_mut().enumerate() {
                let v = vmulq_f32(vld1q_f32(p.add(i + 4 * k)), sc);
                // Keep m where v is not greater (NaN included), as the twin does.
                *mk = vbslq_f32(vcgtq_f32(v, *mk), v, *mk);
            }
            i += SUM_LANES;
        }
        let mut mm = [0.0f32; SUM_LANES];
        vst1q_f32(mm.as_mut_ptr(), mv[0]);
        vst1q_f32(mm.as_mut_ptr().add(4), mv[1]);
        for v in mm {
            if v > m {
                m = v;
            }
        }
        for &v in &s[whole..] {
            let v = v * scale;
            if v > m {
                m = v;
            }
        }
        m = positive_zero(m);
        let mb = vdupq_n_f32(m);
        let mut acc = [vdupq_n_f32(0.0); 2];
        let mut i = 0;
        while i < whole {
            for (k, a) in acc.iter_mut().enumerate() {
                let x = vsubq_f32(vmulq_f32(vld1q_f32(p.add(i + 4 * k)), sc), mb);
                let e = exp4(x);
                vst1q_f32(p.add(i + 4 * k), e);
                *a = vaddq_f32(*a, e);
            }
            i += SUM_LANES;
        }
        vst1q_f32(lanes.as_mut_ptr(), acc[0]);
        vst1q_f32(lanes.as_mut_ptr().add(4), acc[1]);
    }
    for (k, v) in s[whole..].iter_mut().enumerate() {
        let e = super::generic::exp(*v * scale - m);
        *v = e;
        lanes[k] += e;
    }
    (m, reduce_lanes(&lanes))
}

/// Floats of the accumulator kept in registers at once (sixteen vectors).
const STRIP: usize = 64;

/// `acc[j] += Σ_p w[p]·row_p[j]` over strips of `acc`, rows given as 4-float loaders.
///
/// # Safety
/// `load(p, j)` reads 4 valid elements for every row `p < w.len()` and multiple of 4 `j` with
/// `j + 4 <= acc.len()`.
#[inline(always)]
unsafe fn weighted_sum_strips(
    w: &[f32],
    acc: &mut [f32],
    load: impl Fn(usize, usize) -> float32x4_t,
) {
    let whole = acc.len() - acc.len() % 4;
    let mut j0 = 0;
    while j0 < whole {
        let width = (whole - j0).min(STRIP);
        let nv = width / 4;
        // SAFETY: the strip lies within `acc[..whole]`; the loader's contract is the caller's.
        unsafe {
            let mut regs = [vdupq_n_f32(0.0); STRIP / 4];
            for (k, r) in regs.iter_mut().enumerate().take(nv) {
                *r = vld1q_f32(acc.as_ptr().add(j0 + 4 * k));
            }
            for (p, &wp) in w.iter().enumerate() {
                let wv = vdupq_n_f32(wp);
                for (k, r) in regs.iter_mut().enumerate().take(nv) {
                    *r = vfmaq_f32(*r, wv, load(p, j0 + 4 * k));
                }
            }
            for (k, r) in regs.iter().enumerate().take(nv) {
                vst1q_f32(acc.as_mut_ptr().add(j0 + 4 * k), *r);
            }
        }
        j0 += width;
    }
}

/// NEON twin of [`super::generic::weighted_sum_f32`].
///
/// # Safety
/// `v` holds `w.len()` rows of `acc.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn weighted_sum_f32_neon(v: &[f32], w: &[f32], acc: &mut [f32]) {
    let d = acc.len();
    debug_assert!(v.len() >= w.len() * d);
    // SAFETY: row p's elements j..j+4 lie in `v`.
    unsafe {
        weighted_sum_strips(w, acc, |p, j| vld1q_f32(v.as_ptr().add(p * d + j)));
    }
    let whole = d - d % 4;
    for (&wp, row) in w.iter().zip(v.chunks_exact(d)) {
        for (a, &x) in acc[whole..].iter_mut().zip(&row[whole..]) {
            *a = wp.mul_add(x, *a);
        }
    }
}

/// NEON twin of [`super::generic::weighted_sum_f16`].
///
/// # Safety
/// `v` holds `w.len()` rows of `acc.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn weighted_sum_f16_neon(v: &[f16], w: &[f32], acc: &mut [f32]) {
    let d = acc.len();
    debug_assert!(v.len() >= w.len() * d);
    // SAFETY: as in the F32 kernel; four halves are one 64-bit load.
    unsafe {
        weighted_sum_strips(w, acc, |p, j| {
            f16x4_to_f32(vld1_u16(v.as_ptr().add(p * d + j).cast()))
        });
    }
    let whole = d - d % 4;
    for (&wp, row) in w.iter().zip(v.chunks_exact(d)) {
        for (a, &x) in acc[whole..].iter_mut().zip(&row[whole..]) {
            *a = wp.mul_add(x.to_f32(), *a);
        }
    }
}

/// NEON twin of [`super::generic::weighted_sum_q8_0`].
///
/// # Safety
/// `acc.len()` is a multiple of 32 and `v` holds `w.len()` rows of `acc.len() / 32` blocks.
#[target_feature(enable = "neon")]
pub unsafe fn weighted_sum_q8_0_neon(v: &[BlockQ8_0], w: &[f32], acc: &mut [f32]) {
    let nb = acc.len() / 32;
    debug_assert!(v.len() >= w.len() * nb);
    for (b, a) in acc.chunks_exact_mut(32).enumerate() {
        // SAFETY: `a` is 32 floats; block `p * nb + b` exists for every row p.
        unsafe {
            let mut regs = [vdupq_n_f32(0.0); 8];
            for (k, r) in regs.iter_mut().enumerate() {
                *r = vld1q_f32(a.as_ptr().add(4 * k));
            }
            for (p, &wp) in w.iter().enumerate() {
                let blk = &v[p * nb + b];
                let c = vdupq_n_f32(wp * blk.d.to_f32());
                let q = blk.qs.as_ptr();
                for half in 0..2 {
                    let q16 = vld1q_s8(q.add(16 * half));
                    let lo = vmovl_s8(vget_low_s8(q16));
                    let hi = vmovl_s8(vget_high_s8(q16));
                    let parts = [
                        vmovl_s16(vget_low_s16(lo)),
                        vmovl_s16(vget_high_s16(lo)),
                        vmovl_s16(vget_low_s16(hi)),
                        vmovl_s16(vget_high_s16(hi)),
                    ];
                    for (k, part) in parts.into_iter().enumerate() {
                        let r = &mut regs[4 * half + k];
                        *r = vfmaq_f32(*r, c, vcvtq_f32_s32(part));
                    }
                }
            }
            for (k, r) in regs.iter().enumerate() {
                vst1q_f32(a.as_mut_ptr().add(4 * k), *r);
            }
        }
    }
}
