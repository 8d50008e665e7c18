//! AVX2 kernels for F16 weights × F16 activations, bit-identical to [`crate::generic::f16_row`]:
//! element `i` in lane `i % 32` (four `__m256` accumulators), widened with F16C. A product of
//! two halves is exact in f32, so the fused multiply-add rounds exactly as the twin's separate
//! multiply and add.
//!
//! The gemm (attention scores: a block of cached key rows against a group of queries) widens
//! each activation row to f32 once, not once per weight row; widens each weight row once for
//! three activation rows (the widening, `vcvtph2ps`, was the old kernel's costliest step); and finishes the sums of eight weight rows at once ([`reduce32x8`]), in the twin's
//! order ([`reduce32`](crate::generic::accumulate::reduce32)) but across registers instead of within each.

use core::arch::x86_64::*;

use half::f16;

use crate::generic::accumulate::{FloatAccumulator, FLOAT_LANES};
use crate::x86::prefetch::prefetch_lines;

/// How far ahead of the weight row being multiplied [`gemm_f16_avx2`] prefetches, in bytes (the
/// key rows of attention stream from memory; the next block's follow this one's).
pub(crate) const PREFETCH_AHEAD: usize = 2048;

/// Longest activation row [`gemm_f16_avx2`] widens (on the stack); longer rows, and rows that
/// are not whole multiples of [`FLOAT_LANES`], take the row-by-row products.
const GEMM_MAX_N: usize = 512;

/// Queries a tile of [`gemm_f16_avx2`] takes at once: each weight row is widened once for all
/// of them (the 4 accumulators of each of 3 products, and the widened row, fit in 13 of the 16
/// vector registers).
const TILE_Q: usize = 3;
/// Weight rows whose sums [`reduce32x8`] finishes together.
const TILE_R: usize = 8;

/// The lane-wise first step of [`reduce32`](crate::generic::accumulate::reduce32) for the products of one weight row `x` with up to
/// [`TILE_Q`] widened activation rows `ys` (`n` elements each, a multiple of 32): for each
/// activation row, `(acc0 + acc1) + (acc2 + acc3)`.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; `x` points at `n` halves and every `ys[q]` at `n`
/// floats.
#[inline(always)]
unsafe fn row_tile<const Q: usize>(x: *const f16, ys: &[*const f32; Q], n: usize) -> [__m256; Q] {
    // SAFETY: every load reads 8 elements at `i + 8k` with `i + 8k + 8 <= n`; the caller
    // guarantees the features.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); 4]; Q];
        let mut i = 0;
        while i < n {
            for k in 0..4 {
                let w = _mm256_cvtph_ps(_mm_loadu_si128(x.add(i + 8 * k) as *const __m128i));
                for (a, y) in acc.iter_mut().zip(ys) {
                    a[k] = _mm256_fmadd_ps(w, _mm256_loadu_ps(y.add(i + 8 * k)), a[k]);
                }
            }
            i += FLOAT_LANES;
        }
        core::array::from_fn(|q| {
            let a = &acc[q];
            _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]))
        })
    }
}

/// The rest of [`reduce32`](crate::generic::accumulate::reduce32) for eight vectors at once: element `i` of the result is
/// `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))` of `v[i]`, the same additions in the
/// same order, done across vectors instead of within one.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn reduce32x8(v: &[__m256; TILE_R]) -> __m256 {
    // SAFETY: register-only AVX/AVX2 operations.
    unsafe {
        // [l0 + l4, l1 + l5, l2 + l6, l3 + l7] of v[a] in the low half, of v[b] in the high.
        let halves = |a: __m256, b: __m256| {
            _mm256_add_ps(
                _mm256_permute2f128_ps::<0x20>(a, b),
                _mm256_permute2f128_ps::<0x31>(a, b),
            )
        };
        let s01 = halves(v[0], v[1]);
        let s23 = halves(v[2], v[3]);
        let s45 = halves(v[4], v[5]);
        let s67 = halves(v[6], v[7]);
        // [s0 + s2, s1 + s3] of v0, v2 (low half) and v1, v3 (high half).
        let pairs = |a: __m256, b: __m256| {
            _mm256_add_ps(
                _mm256_shuffle_ps::<0b01_00_01_00>(a, b),
                _mm256_shuffle_ps::<0b11_10_11_10>(a, b),
            )
        };
        let t0123 = pairs(s01, s23);
        let t4567 = pairs(s45, s67);
        // t0 + t1: [r0, r2, r4, r6 | r1, r3, r5, r7].
        let r = _mm256_add_ps(
            _mm256_shuffle_ps::<0b10_00_10_00>(t0123, t4567),
            _mm256_shuffle_ps::<0b11_01_11_01>(t0123, t4567),
        );
        _mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
    }
}

/// The products of every weight row of `w` (`rows` rows of `n` halves) with `Q` widened
/// activation rows `ys`, written to `outs[q · rows + r]`.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; `n` is a multiple of 32; `w` holds `rows · n` halves,
/// every `ys[q]` points at `n` floats and `outs` holds `Q · rows` floats.
#[inline(always)]
unsafe fn gemm_tile<const Q: usize>(
    w: &[f16],
    n: usize,
    rows: usize,
    ys: &[*const f32; Q],
    outs: &mut [f32],
) {
    let mut r0 = 0;
    while r0 < rows {
        let nr = (rows - r0).min(TILE_R);
        // SAFETY: a register operation; AVX2 by the caller.
        let mut sums = [[unsafe { _mm256_setzero_ps() }; TILE_R]; Q];
        for r in 0..nr {
            // SAFETY: row `r0 + r < rows` lies in `w`; the caller's contract covers the rest;
            // prefetched addresses are a hint only.
            let v = unsafe {
                let row = w.as_ptr().add((r0 + r) * n);
                prefetch_lines(row.cast::<u8>().wrapping_add(PREFETCH_AHEAD), 2 * n);
                row_tile::<Q>(row, ys, n)
            };
            for (s, v) in sums.iter_mut().zip(v) {
                s[r] = v;
            }
        }
        for (q, s) in sums.iter().enumerate() {
            let at = q * rows + r0;
            // SAFETY: register operations; stores of 8 floats at `at..at + 8`, within `outs`
            // when `nr` is 8 (`r0 + 8 <= rows`), or to a local array; AVX2 by the caller.
            unsafe {
                if nr == TILE_R {
                    _mm256_storeu_ps(outs[at..at + TILE_R].as_mut_ptr(), reduce32x8(s));
                } else {
                    let mut lanes = [0.0f32; TILE_R];
                    _mm256_storeu_ps(lanes.as_mut_ptr(), reduce32x8(s));
                    for (o, l) in outs[at..at + nr].iter_mut().zip(lanes) {
                        *o = l;
                    }
                }
            }
        }
        r0 += nr;
    }
}

/// The body of [`vec_dot_f16_avx2`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline(always)]
unsafe fn dot(x: &[f16], y: &[f16]) -> f32 {
    let n = x.len().min(y.len());
    let whole = n - n % FLOAT_LANES;
    let mut lanes = [0.0f32; FLOAT_LANES];
    // SAFETY: the caller guarantees the features; every load reads 8 halves at `i + 8k` with
    // `i + 8k + 8 <= whole <= n`, within both slices.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i < whole {
            for (k, a) in acc.iter_mut().enumerate() {
                let xv =
                    _mm256_cvtph_ps(_mm_loadu_si128(x.as_ptr().add(i + 8 * k) as *const __m128i));
                let yv =
                    _mm256_cvtph_ps(_mm_loadu_si128(y.as_ptr().add(i + 8 * k) as *const __m128i));
                *a = _mm256_fmadd_ps(xv, yv, *a);
            }
            i += FLOAT_LANES;
        }
        for (k, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(lanes.as_mut_ptr().add(8 * k), *a);
        }
    }
    let mut acc = FloatAccumulator::from_lanes(lanes);
    for i in whole..n {
        acc.add(i, x[i].to_f32() * y[i].to_f32());
    }
    acc.finish()
}

/// AVX2 twin of [`crate::generic::vec_dot_f16`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_f16_avx2(x: &[f16], y: &[f16]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe { dot(x, y) }
}

/// AVX2 twin of [`crate::generic::gemv_f16`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_f16_avx2(w: &[f16], act: &[f16], out: &mut [f32]) {
    if act.is_empty() {
        out.fill(0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(w.chunks_exact(act.len())) {
        // SAFETY: the caller guarantees the features.
        *o = unsafe { dot(row, act) };
    }
}

/// AVX2 F16 gemm: `out[c·rows + r] = vec_dot(row r, activation row c)`, `rows = out.len() /
/// n_act`, each element bit-identical to [`vec_dot_f16_avx2`] (so to the twin).
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; `act` holds `n_act` rows of `n` halves and `w` `rows`
/// rows of as many (the [`crate::table::GemmFn`] contract).
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_f16_avx2(w: &[f16], act: &[f16], n_act: usize, out: &mut [f32]) {
    if n_act == 0 || out.is_empty() {
        return;
    }
    let n = act.len() / n_act;
    let rows = out.len() / n_act;
    if n == 0 {
        out.fill(0.0);
        return;
    }
    if !n.is_multiple_of(FLOAT_LANES) || n > GEMM_MAX_N || w.len() < rows * n {
        for (c, col) in out.chunks_exact_mut(rows).enumerate() {
            // SAFETY: the caller guarantees the features.
            unsafe { gemv_f16_avx2(w, &act[c * n..(c + 1) * n], col) };
        }
        return;
    }
    let w = &w[..rows * n];
    // Written before read: only the first `q · n` floats, each widened before the tile runs
    // (not zeroed: the scores of one attention block are a few thousand multiply-adds).
    let mut widened = [core::mem::MaybeUninit::<f32>::uninit(); TILE_Q * GEMM_MAX_N];
    let mut c0 = 0;
    while c0 < n_act {
        let q = (n_act - c0).min(TILE_Q);
        for (j, y) in widened.chunks_exact_mut(n).take(q).enumerate() {
            for (yi, a) in y.iter_mut().zip(&act[(c0 + j) * n..(c0 + j + 1) * n]) {
                yi.write(a.to_f32());
            }
        }
        let ys: [*const f32; TILE_Q] =
            core::array::from_fn(|j| widened[j * n..].as_ptr().cast::<f32>());
        let outs = &mut out[c0 * rows..(c0 + q) * rows];
        // SAFETY: the caller guarantees the features; `n` is a multiple of 32, `w` holds `rows`
        // rows of `n`, the first `q` widened rows hold `n` floats each, `outs` `q` columns.
        unsafe {
            match q {
                3 => gemm_tile::<3>(w, n, rows, &ys, outs),
                2 => gemm_tile::<2>(w, n, rows, &[ys[0], ys[1]], outs),
                _ => gemm_tile::<1>(w, n, rows, &[ys[0]], outs),
            }
        }
        c0 += q;
    }
}
