//! AVX2 attention kernels, bit-identical to [`super::generic`]: the same operations in the same
//! order, eight elements at a time: the exponential multiplies then adds, the weighted sums
//! fuse (`_mm256_fmadd_ps`, as the twin's `mul_add`).

use core::arch::x86_64::*;

use half::f16;

use super::generic::{
    positive_zero, reduce_lanes, EXP_LOW, EXP_P, LN2_C1, LN2_C2, LOG2E, SUM_LANES,
};
use crate::blocks::BlockQ8_0;
use crate::x86::avx2::f16_dot::PREFETCH_AHEAD;
use crate::x86::prefetch::prefetch_lines;

/// Eight [`super::generic::exp`]s.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn exp8(x: __m256) -> __m256 {
    // SAFETY: register arithmetic only; the caller guarantees AVX2.
    unsafe {
        let n = _mm256_round_ps(
            _mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC,
        );
        let r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(LN2_C1)));
        let r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(LN2_C2)));
        let z = _mm256_mul_ps(r, r);
        let mut y = _mm256_set1_ps(EXP_P[0]);
        for &p in &EXP_P[1..] {
            y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(p));
        }
        let y = _mm256_add_ps(_mm256_mul_ps(y, z), r);
        let y = _mm256_add_ps(y, _mm256_set1_ps(1.0));
        let bits = _mm256_slli_epi32(
            _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
            23,
        );
        let e = _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
        // Ordered compare: a NaN argument is not below EXP_LOW and keeps its NaN result.
        let low = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_LOW), _CMP_LT_OQ);
        _mm256_andnot_ps(low, e)
    }
}

/// The largest `s[i]·scale` (NaN scores ignored; `−∞` for an empty block; a zero as `+0`), the
/// twin's value: eight lanes of running maxima, then the lanes and the tail (the maximum of the
/// same set in any order, once the zero's sign is fixed).
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn block_max(s: &[f32], scale: f32) -> f32 {
    let whole = s.len() - s.len() % SUM_LANES;
    let mut m = f32::NEG_INFINITY;
    // SAFETY: every load reads 8 floats at `i`, `i + 8 <= whole <= s.len()`; AVX2 by the
    // caller.
    unsafe {
        let sc = _mm256_set1_ps(scale);
        let mut mv = _mm256_set1_ps(f32::NEG_INFINITY);
        let mut i = 0;
        while i < whole {
            // max(v, m) keeps m when v is NaN, as the twin's `v > m` test does.
            mv = _mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(s.as_ptr().add(i)), sc), mv);
            i += SUM_LANES;
        }
        let mut mm = [0.0f32; SUM_LANES];
        _mm256_storeu_ps(mm.as_mut_ptr(), mv);
        for v in mm {
            if v > m {
                m = v;
            }
        }
    }
    for &v in &s[whole..] {
        let v = v * scale;
        if v > m {
            m = v;
        }
    }
    positive_zero(m)
}

/// AVX2 twin of [`super::generic::softmax_block`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn softmax_block_avx2(s: &mut [f32], scale: f32) -> (f32, f32) {
    let whole = s.len() - s.len() % SUM_LANES;
    // SAFETY: AVX2 by the caller.
    let m = unsafe { block_max(s, scale) };
    let p = s.as_mut_ptr();
    let mut lanes = [0.0f32; SUM_LANES];
    // SAFETY: every load/store touches 8 floats at `i < whole <= s.len()`; AVX2 by the caller.
    unsafe {
        let sc = _mm256_set1_ps(scale);
        let mb = _mm256_set1_ps(m);
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < whole {
            let x = _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(p.add(i)), sc), mb);
            let e = exp8(x);
            _mm256_storeu_ps(p.add(i), e);
            acc = _mm256_add_ps(acc, e);
            i += SUM_LANES;
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

/// Floats of the accumulator kept in registers at once (eight vectors).
const STRIP: usize = 64;

/// `acc[j] += Σ_p w[p]·row_p[j]` over a strip of `acc`, rows given as 8-float loaders.
///
/// # Safety
/// The CPU supports AVX2 and F16C; `load(p, j)` reads 8 valid elements for every row `p <
/// w.len()` and `j + 8 <= acc.len()` with `j` a multiple of 8 below `acc.len() & !7`.
#[inline(always)]
unsafe fn weighted_sum_strips(w: &[f32], acc: &mut [f32], load: impl Fn(usize, usize) -> __m256) {
    let whole = acc.len() - acc.len() % 8;
    let mut j0 = 0;
    while j0 < whole {
        let width = (whole - j0).min(STRIP);
        let nv = width / 8;
        // SAFETY: the strip lies within `acc[..whole]`; the loader's contract is the caller's.
        unsafe {
            let mut regs = [_mm256_setzero_ps(); STRIP / 8];
            for (k, r) in regs.iter_mut().enumerate().take(nv) {
                *r = _mm256_loadu_ps(acc.as_ptr().add(j0 + 8 * k));
            }
            for (p, &wp) in w.iter().enumerate() {
                let wv = _mm256_set1_ps(wp);
                for (k, r) in regs.iter_mut().enumerate().take(nv) {
                    *r = _mm256_fmadd_ps(wv, load(p, j0 + 8 * k), *r);
                }
            }
            for (k, r) in regs.iter().enumerate().take(nv) {
                _mm256_storeu_ps(acc.as_mut_ptr().add(j0 + 8 * k), *r);
            }
        }
        j0 += width;
    }
}

/// AVX2 twin of [`super::generic::weighted_sum_f32`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; `v` holds `w.len()` rows of `acc.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn weighted_sum_f32_avx2(v: &[f32], w: &[f32], acc: &mut [f32]) {
    let d = acc.len();
    debug_assert!(v.len() >= w.len() * d);
    // SAFETY: row p's elements j..j+8 lie in `v` (rows of `d`, j + 8 <= d).
    unsafe {
        weighted_sum_strips(w, acc, |p, j| _mm256_loadu_ps(v.as_ptr().add(p * d + j)));
    }
    let whole = d - d % 8;
    for (&wp, row) in w.iter().zip(v.chunks_exact(d)) {
        for (a, &x) in acc[whole..].iter_mut().zip(&row[whole..]) {
            *a = wp.mul_add(x, *a);
        }
    }
}

/// AVX2 twin of [`super::generic::weighted_sum_f16`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; `v` holds `w.len()` rows of `acc.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn weighted_sum_f16_avx2(v: &[f16], w: &[f32], acc: &mut [f32]) {
    let d = acc.len();
    debug_assert!(v.len() >= w.len() * d);
    // SAFETY: as in the F32 kernel; an f16 is 2 bytes in memory, 8 of them one 128-bit load.
    unsafe {
        weighted_sum_strips(w, acc, |p, j| {
            _mm256_cvtph_ps(_mm_loadu_si128(v.as_ptr().add(p * d + j).cast()))
        });
    }
    let whole = d - d % 8;
    for (&wp, row) in w.iter().zip(v.chunks_exact(d)) {
        for (a, &x) in acc[whole..].iter_mut().zip(&row[whole..]) {
            *a = wp.mul_add(x.to_f32(), *a);
        }
    }
}

/// AVX2 twin of [`super::generic::weighted_sum_q8_0`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; `acc.len()` is a multiple of 32 and `v` holds
/// `w.len()` rows of `acc.len() / 32` blocks.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn weighted_sum_q8_0_avx2(v: &[BlockQ8_0], w: &[f32], acc: &mut [f32]) {
    let nb = acc.len() / 32;
    debug_assert!(v.len() >= w.len() * nb);
    for (b, a) in acc.chunks_exact_mut(32).enumerate() {
        // SAFETY: `a` is 32 floats; block `p * nb + b` exists for every row p; AVX2 by the
        // caller.
        unsafe {
            let mut regs = [
                _mm256_loadu_ps(a.as_ptr()),
                _mm256_loadu_ps(a.as_ptr().add(8)),
                _mm256_loadu_ps(a.as_ptr().add(16)),
                _mm256_loadu_ps(a.as_ptr().add(24)),
            ];
            for (p, &wp) in w.iter().enumerate() {
                let blk = &v[p * nb + b];
                let c = _mm256_set1_ps(wp * blk.d.to_f32());
                let q = blk.qs.as_ptr();
                for (k, r) in regs.iter_mut().enumerate() {
                    let q8 = _mm_loadl_epi64(q.add(8 * k).cast());
                    let qf = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
                    *r = _mm256_fmadd_ps(c, qf, *r);
                }
            }
            for (k, r) in regs.iter().enumerate() {
                _mm256_storeu_ps(a.as_mut_ptr().add(8 * k), *r);
            }
        }
    }
}

/// Queries [`weighted_sums_f16_avx2`] takes at once.
const SUMS_Q: usize = 4;

/// Walks the `acc.len() / d` queries of a multi-query sum in tiles of up to [`SUMS_Q`]:
/// `f(first, count, weights, accumulators)`, with pointers to each query's weights (rows of
/// `w` at `w_stride`) and accumulator (rows of `acc` of `d`); past `count`, the tile's last
/// query repeats.
#[inline(always)]
fn query_tiles(
    w: &[f32],
    w_stride: usize,
    d: usize,
    acc: &mut [f32],
    mut f: impl FnMut(usize, usize, &[*const f32; SUMS_Q], &[*mut f32; SUMS_Q]),
) {
    let n_q = acc.len() / d;
    let base = acc.as_mut_ptr();
    let mut q0 = 0;
    while q0 < n_q {
        let q = (n_q - q0).min(SUMS_Q);
        let ws: [*const f32; SUMS_Q] =
            core::array::from_fn(|k| w[(q0 + k.min(q - 1)) * w_stride..].as_ptr());
        // SAFETY: query `q0 + k < n_q`'s accumulator lies in `acc`.
        let accs: [*mut f32; SUMS_Q] =
            core::array::from_fn(|k| unsafe { base.add((q0 + k.min(q - 1)) * d) });
        f(q0, q, &ws, &accs);
        q0 += q;
    }
}

/// One strip of `8·S` accumulator elements from `j0` for `Q` queries: each value row's strip
/// is widened once and serves every query, which adds `w·v` exactly as
/// [`weighted_sum_strips`] does. With `prefetch`, asks for the rows ahead (the first strip of a
/// pass over rows streaming from memory).
///
/// # Safety
/// The CPU supports AVX2 and F16C; `v` holds `n` rows of `d` halves, `j0 + 8·S <= d`; `ws[q]`
/// points at `n` weights and `accs[q]` at `d` floats.
#[inline(always)]
unsafe fn sums_strip<const Q: usize, const S: usize>(
    v: *const f16,
    n: usize,
    d: usize,
    j0: usize,
    ws: &[*const f32; Q],
    accs: &[*mut f32; Q],
    prefetch: bool,
) {
    // SAFETY: loads of row `p < n` at `j0 + 8s + 8 <= d`, weights `p < n`, accumulator strips
    // within `d`; AVX2 and F16C by the caller.
    unsafe {
        let mut regs: [[__m256; S]; Q] = core::array::from_fn(|q| {
            core::array::from_fn(|s| _mm256_loadu_ps(accs[q].add(j0 + 8 * s)))
        });
        for p in 0..n {
            let row = v.add(p * d + j0);
            if prefetch {
                prefetch_lines(row.cast::<u8>().wrapping_add(4 * PREFETCH_AHEAD), 2 * d);
            }
            let x: [__m256; S] =
                core::array::from_fn(|s| _mm256_cvtph_ps(_mm_loadu_si128(row.add(8 * s).cast())));
            for (r, w) in regs.iter_mut().zip(ws) {
                let wv = _mm256_set1_ps(*w.add(p));
                for (r, x) in r.iter_mut().zip(&x) {
                    *r = _mm256_fmadd_ps(wv, *x, *r);
                }
            }
        }
        for (r, a) in regs.iter().zip(accs) {
            for (s, r) in r.iter().enumerate() {
                _mm256_storeu_ps(a.add(j0 + 8 * s), *r);
            }
        }
    }
}

/// `Q` queries' sums over every strip of the accumulators, then the tails (elements past the
/// last multiple of 8) as the twin adds them.
///
/// # Safety
/// As [`sums_strip`], without the strip bound.
#[inline(always)]
unsafe fn sums_tile<const Q: usize>(
    v: &[f16],
    n: usize,
    d: usize,
    ws: &[*const f32; Q],
    accs: &[*mut f32; Q],
    prefetch: bool,
) {
    let whole = d - d % 8;
    let mut j0 = 0;
    // SAFETY: every strip ends within `whole <= d`; the rest is the caller's contract.
    unsafe {
        while j0 + 16 <= whole {
            sums_strip::<Q, 2>(v.as_ptr(), n, d, j0, ws, accs, prefetch && j0 == 0);
            j0 += 16;
        }
        if j0 < whole {
            sums_strip::<Q, 1>(v.as_ptr(), n, d, j0, ws, accs, prefetch && j0 == 0);
        }
    }
    if whole < d {
        for q in 0..Q {
            for (p, row) in v.chunks_exact(d).take(n).enumerate() {
                // SAFETY: weight `p < n` and accumulator elements `whole..d` of query `q`.
                unsafe {
                    let wp = *ws[q].add(p);
                    for (j, &x) in row.iter().enumerate().skip(whole) {
                        let acc = accs[q].add(j);
                        *acc = wp.mul_add(x.to_f32(), *acc);
                    }
                }
            }
        }
    }
}

/// Several queries' [`weighted_sum_f16_avx2`] in one pass over the rows: query `q` (of
/// `acc.len() / d`) takes weights `w[q·w_stride..][..n]` (`n = v.len() / d`) into
/// `acc[q·d..(q + 1)·d]`; each ends with the bits the one-query kernel gives it.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; `d > 0`, `v` holds whole rows of `d`, `acc.len()` is
/// a multiple of `d`, and `w` holds `(n_q - 1)·w_stride + n` weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn weighted_sums_f16_avx2(
    v: &[f16],
    w: &[f32],
    w_stride: usize,
    d: usize,
    acc: &mut [f32],
) {
    let n = v.len() / d;
    let n_q = acc.len() / d;
    debug_assert!(n_q == 0 || w.len() >= (n_q - 1) * w_stride + n);
    query_tiles(w, w_stride, d, acc, |q0, q, ws, accs| {
        // SAFETY: the caller's contract; only the first `q` pointers are used.
        unsafe {
            match q {
                4 => sums_tile::<4>(v, n, d, ws, accs, q0 == 0),
                3 => sums_tile::<3>(
                    v,
                    n,
                    d,
                    &[ws[0], ws[1], ws[2]],
                    &[accs[0], accs[1], accs[2]],
                    q0 == 0,
                ),
                2 => sums_tile::<2>(v, n, d, &[ws[0], ws[1]], &[accs[0], accs[1]], q0 == 0),
                _ => sums_tile::<1>(v, n, d, &[ws[0]], &[accs[0]], q0 == 0),
            }
        }
    });
}

/// One half block (16 elements, from element `16·h` of block `b` of each row) of `Q` queries'
/// sums over Q8_0 rows: each row's values are widened once and serve every query, which adds
/// `(w·d)·q` as [`weighted_sum_q8_0_avx2`] does. With `prefetch`, asks for the rows ahead.
///
/// # Safety
/// The CPU supports AVX2 and F16C; `v` holds `n` rows of `nb > b` blocks, `h < 2`; `ws[q]`
/// points at `n` weights and `accs[q]` at `32·nb` floats.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn sums_q8_0_half<const Q: usize>(
    v: &[BlockQ8_0],
    n: usize,
    nb: usize,
    b: usize,
    h: usize,
    ws: &[*const f32; Q],
    accs: &[*mut f32; Q],
    prefetch: bool,
) {
    let j0 = 32 * b + 16 * h;
    // SAFETY: blocks `p·nb + b` of rows `p < n` lie in `v`; weights `p < n`; accumulator
    // elements `j0..j0 + 16` within `32·nb`; AVX2 and F16C by the caller.
    unsafe {
        let mut regs: [[__m256; 2]; Q] = core::array::from_fn(|q| {
            core::array::from_fn(|s| _mm256_loadu_ps(accs[q].add(j0 + 8 * s)))
        });
        let row_bytes = nb * core::mem::size_of::<BlockQ8_0>();
        for p in 0..n {
            let blk = v.as_ptr().add(p * nb + b);
            if prefetch {
                prefetch_lines(blk.cast::<u8>().wrapping_add(4 * PREFETCH_AHEAD), row_bytes);
            }
            let qs = (*blk).qs.as_ptr().add(16 * h);
            let x: [__m256; 2] = core::array::from_fn(|s| {
                _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(qs.add(8 * s).cast())))
            });
            let d = (*blk).d.to_f32();
            for (r, w) in regs.iter_mut().zip(ws) {
                let c = _mm256_set1_ps(*w.add(p) * d);
                for (r, x) in r.iter_mut().zip(&x) {
                    *r = _mm256_fmadd_ps(c, *x, *r);
                }
            }
        }
        for (r, a) in regs.iter().zip(accs) {
            for (s, r) in r.iter().enumerate() {
                _mm256_storeu_ps(a.add(j0 + 8 * s), *r);
            }
        }
    }
}

/// Several queries' [`weighted_sum_q8_0_avx2`] in one pass over the rows, as
/// [`weighted_sums_f16_avx2`] for F16 rows.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; `d` is a positive multiple of 32, `v` holds whole rows
/// of `d / 32` blocks, `acc.len()` is a multiple of `d`, and `w` holds `(n_q - 1)·w_stride + n`
/// weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn weighted_sums_q8_0_avx2(
    v: &[BlockQ8_0],
    w: &[f32],
    w_stride: usize,
    d: usize,
    acc: &mut [f32],
) {
    let nb = d / 32;
    let n = v.len() / nb;
    let n_q = acc.len() / d;
    debug_assert!(n_q == 0 || w.len() >= (n_q - 1) * w_stride + n);
    query_tiles(w, w_stride, d, acc, |q0, q, ws, accs| {
        for b in 0..nb {
            for h in 0..2 {
                let pf = q0 == 0 && b == 0 && h == 0;
                // SAFETY: the caller's contract; only the first `q` pointers are used.
                unsafe {
                    match q {
                        4 => sums_q8_0_half::<4>(v, n, nb, b, h, ws, accs, pf),
                        3 => sums_q8_0_half::<3>(
                            v,
                            n,
                            nb,
                            b,
                            h,
                            &[ws[0], ws[1], ws[2]],
                            &[accs[0], accs[1], accs[2]],
                            pf,
                        ),
                        2 => sums_q8_0_half::<2>(
                            v,
                            n,
                            nb,
                            b,
                            h,
                            &[ws[0], ws[1]],
                            &[accs[0], accs[1]],
                            pf,
                        ),
                        _ => sums_q8_0_half::<1>(v, n, nb, b, h, &[ws[0]], &[accs[0]], pf),
                    }
                }
            }
        }
    });
}
