//! AVX-512 attention kernels, bit-identical to [`super::generic`]: the softmax's exponentials
//! sixteen at a time, and the weighted sums over F16 value rows, sixteen elements a register and
//! up to six queries a pass over the rows (the AVX2 kernels hold four queries of sixteen
//! elements). The F32 and Q8_0 sums (not the default cache) are the AVX2 ones.
//!
//! Each element adds `w·v` as the twin does, fused (one rounding). A strip's last
//! register is masked where the head size is not a multiple of sixteen, so there is no scalar
//! tail: masked-off lanes are neither read nor written.

use core::arch::x86_64::*;

use half::f16;

use super::generic::{reduce_lanes, EXP_LOW, EXP_P, LN2_C1, LN2_C2, LOG2E, SUM_LANES};
use crate::x86::avx2::f16_dot::PREFETCH_AHEAD;
use crate::x86::avx512::first_lanes as lanes;
use crate::x86::prefetch::prefetch_lines;

/// Sixteen [`super::generic::exp`]s: [`super::avx2::exp8`]'s operations, lane for lane.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
pub(crate) unsafe fn exp16(x: __m512) -> __m512 {
    // SAFETY: register arithmetic only; the caller guarantees AVX-512 F.
    unsafe {
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_ps(x, _mm512_set1_ps(LOG2E)),
        );
        let r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(LN2_C1)));
        let r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(LN2_C2)));
        let z = _mm512_mul_ps(r, r);
        let mut y = _mm512_set1_ps(EXP_P[0]);
        for &p in &EXP_P[1..] {
            y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(p));
        }
        let y = _mm512_add_ps(_mm512_mul_ps(y, z), r);
        let y = _mm512_add_ps(y, _mm512_set1_ps(1.0));
        let bits = _mm512_slli_epi32::<23>(_mm512_add_epi32(
            _mm512_cvtps_epi32(n),
            _mm512_set1_epi32(127),
        ));
        let e = _mm512_mul_ps(y, _mm512_castsi512_ps(bits));
        // Ordered compare: a NaN argument is not below EXP_LOW and keeps its NaN result.
        let low = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(EXP_LOW));
        _mm512_maskz_mov_ps(!low, e)
    }
}

/// AVX-512 twin of [`super::generic::softmax_block`]: the largest score as the AVX2 kernel finds
/// it ([`super::avx2::block_max`]), then the
/// exponentials sixteen at a time, each register's two halves added to the twin's eight sum
/// lanes in element order.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub unsafe fn softmax_block_avx512(s: &mut [f32], scale: f32) -> (f32, f32) {
    const WIDE: usize = 2 * SUM_LANES;
    let whole = s.len() - s.len() % SUM_LANES;
    let wide = s.len() - s.len() % WIDE;
    // SAFETY: AVX2 by the caller.
    let m = unsafe { super::avx2::block_max(s, scale) };
    let p = s.as_mut_ptr();
    let mut lanes = [0.0f32; SUM_LANES];
    // SAFETY: every load/store touches 8 or 16 floats at `i`, `i + 8 <= whole` or `i + 16 <=
    // wide`, both `<= s.len()`; the features are the caller's.
    unsafe {
        let sc = _mm256_set1_ps(scale);
        let (sc16, mb16) = (_mm512_set1_ps(scale), _mm512_set1_ps(m));
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < wide {
            let x = _mm512_sub_ps(_mm512_mul_ps(_mm512_loadu_ps(p.add(i)), sc16), mb16);
            let e = exp16(x);
            _mm512_storeu_ps(p.add(i), e);
            acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
            // The high half by a 64-bit extract (AVX-512 F; the 32-bit one is AVX-512 DQ).
            let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(e)));
            acc = _mm256_add_ps(acc, hi);
            i += WIDE;
        }
        if wide < whole {
            let x = _mm256_sub_ps(
                _mm256_mul_ps(_mm256_loadu_ps(p.add(wide)), sc),
                _mm256_set1_ps(m),
            );
            let e = super::avx2::exp8(x);
            _mm256_storeu_ps(p.add(wide), e);
            acc = _mm256_add_ps(acc, e);
        }
        _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
    }
    for (k, v) in s[whole..].iter_mut().enumerate() {
        let e = super::generic::exp(*v * scale - m);
        *v = e;
        lanes[k] += e;
    }
    (m, reduce_lanes(&lanes))
}

/// Queries a pass over the value rows serves: their accumulator strips (`SUMS_Q × STRIP_REGS`
/// registers) and one widened row strip fit in the 32 vector registers.
const SUMS_Q: usize = 6;

/// Registers of sixteen floats in one query's accumulator strip.
const STRIP_REGS: usize = 4;

/// One strip of accumulator elements from `j0`, `16·(S − 1) < width <= 16·S` of them, for `Q`
/// queries over `n` value rows: each row's strip is widened once and serves every query. With
/// `prefetch`, asks for the rows ahead (the first strip of a pass over rows from memory).
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL; `v` holds `n` rows of `d` halves, `j0 + width <= d`;
/// `ws[q]` points at `n` weights and `accs[q]` at `d` floats.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn sums_strip<const Q: usize, const S: usize>(
    v: *const f16,
    n: usize,
    d: usize,
    j0: usize,
    width: usize,
    ws: &[*const f32; Q],
    accs: &[*mut f32; Q],
    prefetch: bool,
) {
    let masks: [__mmask16; S] =
        core::array::from_fn(|s| lanes(width.saturating_sub(16 * s).min(16)));
    // SAFETY: every load and store is masked to elements `j0 + 16s + i < j0 + width <= d` of a
    // row of `v` or of an accumulator (masked-off lanes are not accessed); weights `p < n`;
    // prefetched addresses are a hint only; the features are the caller's.
    unsafe {
        let mut regs: [[__m512; S]; Q] = core::array::from_fn(|q| {
            core::array::from_fn(|s| _mm512_maskz_loadu_ps(masks[s], accs[q].add(j0 + 16 * s)))
        });
        for p in 0..n {
            let row = v.add(p * d + j0);
            if prefetch {
                prefetch_lines(row.cast::<u8>().wrapping_add(4 * PREFETCH_AHEAD), 2 * d);
            }
            let x: [__m512; S] = core::array::from_fn(|s| {
                _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(masks[s], row.add(16 * s).cast()))
            });
            for (r, w) in regs.iter_mut().zip(ws) {
                let wv = _mm512_set1_ps(*w.add(p));
                for (r, x) in r.iter_mut().zip(&x) {
                    *r = _mm512_fmadd_ps(wv, *x, *r);
                }
            }
        }
        for (r, a) in regs.iter().zip(accs) {
            for (s, r) in r.iter().enumerate() {
                _mm512_mask_storeu_ps(a.add(j0 + 16 * s), masks[s], *r);
            }
        }
    }
}

/// `Q` queries' sums over every strip of their accumulators.
///
/// # Safety
/// As [`sums_strip`], for the whole row (`d` elements).
#[inline(always)]
unsafe fn sums_tile<const Q: usize>(
    v: *const f16,
    n: usize,
    d: usize,
    ws: &[*const f32; Q],
    accs: &[*mut f32; Q],
    prefetch: bool,
) {
    let mut j0 = 0;
    while j0 < d {
        let width = (d - j0).min(16 * STRIP_REGS);
        let first = prefetch && j0 == 0;
        // SAFETY: the strip ends at `j0 + width <= d`; the rest is the caller's contract.
        unsafe {
            match width.div_ceil(16) {
                4 => sums_strip::<Q, 4>(v, n, d, j0, width, ws, accs, first),
                3 => sums_strip::<Q, 3>(v, n, d, j0, width, ws, accs, first),
                2 => sums_strip::<Q, 2>(v, n, d, j0, width, ws, accs, first),
                _ => sums_strip::<Q, 1>(v, n, d, j0, width, ws, accs, first),
            }
        }
        j0 += width;
    }
}

/// [`sums_tile`] for the first `q` (1 to [`SUMS_Q`]) of the pointers.
///
/// # Safety
/// As [`sums_tile`], for the first `q` weights and accumulators.
#[inline(always)]
unsafe fn sums_tile_of(
    q: usize,
    v: *const f16,
    n: usize,
    d: usize,
    ws: &[*const f32; SUMS_Q],
    accs: &[*mut f32; SUMS_Q],
    prefetch: bool,
) {
    /// The first `Q` pointers of a tile's.
    fn first<T: Copy, const Q: usize>(all: &[T; SUMS_Q]) -> [T; Q] {
        core::array::from_fn(|k| all[k])
    }
    // SAFETY: forwarded; only the first `q` pointers are used.
    unsafe {
        match q {
            6 => sums_tile::<6>(v, n, d, &first(ws), &first(accs), prefetch),
            5 => sums_tile::<5>(v, n, d, &first(ws), &first(accs), prefetch),
            4 => sums_tile::<4>(v, n, d, &first(ws), &first(accs), prefetch),
            3 => sums_tile::<3>(v, n, d, &first(ws), &first(accs), prefetch),
            2 => sums_tile::<2>(v, n, d, &first(ws), &first(accs), prefetch),
            _ => sums_tile::<1>(v, n, d, &first(ws), &first(accs), prefetch),
        }
    }
}

/// AVX-512 twin of [`super::generic::weighted_sum_f16`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, AVX2, FMA and F16C; `v` holds `w.len()` rows of
/// `acc.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub unsafe fn weighted_sum_f16_avx512(v: &[f16], w: &[f32], acc: &mut [f32]) {
    let d = acc.len();
    debug_assert!(v.len() >= w.len() * d);
    if d == 0 {
        return;
    }
    // SAFETY: the caller's contract: `w.len()` rows of `d` halves, `d` accumulators.
    unsafe {
        sums_tile::<1>(
            v.as_ptr(),
            w.len(),
            d,
            &[w.as_ptr()],
            &[acc.as_mut_ptr()],
            true,
        )
    }
}

/// Several queries' [`weighted_sum_f16_avx512`] in one pass over the rows: query `q` (of
/// `acc.len() / d`) takes weights `w[q·w_stride..][..n]` (`n = v.len() / d`) into
/// `acc[q·d..(q + 1)·d]`; each ends with the bits the one-query twin gives it.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, AVX2, FMA and F16C; `d > 0`, `v` holds whole rows of
/// `d`, `acc.len()` is a multiple of `d`, and `w` holds `(n_q - 1)·w_stride + n` weights.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub unsafe fn weighted_sums_f16_avx512(
    v: &[f16],
    w: &[f32],
    w_stride: usize,
    d: usize,
    acc: &mut [f32],
) {
    let n = v.len() / d;
    let n_q = acc.len() / d;
    debug_assert!(n_q == 0 || w.len() >= (n_q - 1) * w_stride + n);
    let base = acc.as_mut_ptr();
    let mut q0 = 0;
    while q0 < n_q {
        let q = (n_q - q0).min(SUMS_Q);
        let ws: [*const f32; SUMS_Q] =
            core::array::from_fn(|k| w[(q0 + k.min(q - 1)) * w_stride..].as_ptr());
        // SAFETY: query `q0 + k < n_q`'s accumulator lies in `acc`.
        let accs: [*mut f32; SUMS_Q] =
            core::array::from_fn(|k| unsafe { base.add((q0 + k.min(q - 1)) * d) });
        // SAFETY: the caller's contract: `n` rows of `d`, each query's `n` weights and `d`
        // accumulators; only the first `q` pointers are used.
        unsafe { sums_tile_of(q, v.as_ptr(), n, d, &ws, &accs, q0 == 0) };
        q0 += q;
    }
}
