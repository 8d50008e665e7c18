//! AVX2 kernels for F16 weights × F16 activations, bit-identical to [`crate::generic::f16_row`]:
//! element `i` in lane `i % 32` (four `__m256` accumulators), widened with F16C. A product of
//! two halves is exact in f32, so the fused multiply-add rounds exactly as the twin's separate
//! multiply and add.
//!
//! The gemm (attention scores: a block of cached key rows against a group of queries) widens
//! each activation row to f32 once, not once per weight row, takes weight rows two at a time
//! (each activation load serves both), and sums each output's 32 lanes in registers in the
//! twin's order ([`reduce32`]) instead of through memory.

use core::arch::x86_64::*;

use half::f16;

use crate::generic::accumulate::{FloatAccumulator, FLOAT_LANES};

/// Longest activation row [`gemm_f16_avx2`] widens (on the stack); longer rows, and rows that
/// are not whole multiples of [`FLOAT_LANES`], take the row-by-row products.
const GEMM_MAX_N: usize = 512;

/// The 32 lanes of four accumulators (element `i` of a product in lane `i % 32`: `acc[k]` holds
/// lanes `8k..8k + 8`) summed in the twin's order, [`crate::generic::accumulate::reduce32`]:
/// `(acc0 + acc1) + (acc2 + acc3)` lane by lane, then `((l0 + l4) + (l2 + l6)) + ((l1 + l5) +
/// (l3 + l7))`.
///
/// # Safety
/// The CPU supports AVX.
#[inline(always)]
unsafe fn reduce32(acc: &[__m256; 4]) -> f32 {
    // SAFETY: register-only AVX/SSE operations.
    unsafe {
        let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        // [l0 + l4, l1 + l5, l2 + l6, l3 + l7]
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        // [(l0 + l4) + (l2 + l6), (l1 + l5) + (l3 + l7), ..]
        let t = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps::<0b01>(t, t)))
    }
}

/// Two weight rows' products with one widened activation row `y` (`y.len()` a multiple of 32,
/// both rows at least as long), each bit-identical to [`dot`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; `x0` and `x1` hold at least `y.len()` halves.
#[inline(always)]
unsafe fn dot2_widened(x0: &[f16], x1: &[f16], y: &[f32]) -> (f32, f32) {
    debug_assert!(
        y.len().is_multiple_of(FLOAT_LANES) && x0.len() >= y.len() && x1.len() >= y.len()
    );
    // SAFETY: the caller guarantees the features; every load reads 8 elements at `i + 8k` with
    // `i + 8k + 8 <= y.len()`, within all three slices.
    unsafe {
        let mut acc0 = [_mm256_setzero_ps(); 4];
        let mut acc1 = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i < y.len() {
            for k in 0..4 {
                let yv = _mm256_loadu_ps(y.as_ptr().add(i + 8 * k));
                let w0 =
                    _mm256_cvtph_ps(_mm_loadu_si128(x0.as_ptr().add(i + 8 * k) as *const __m128i));
                let w1 =
                    _mm256_cvtph_ps(_mm_loadu_si128(x1.as_ptr().add(i + 8 * k) as *const __m128i));
                acc0[k] = _mm256_fmadd_ps(w0, yv, acc0[k]);
                acc1[k] = _mm256_fmadd_ps(w1, yv, acc1[k]);
            }
            i += FLOAT_LANES;
        }
        (reduce32(&acc0), reduce32(&acc1))
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
    let mut widened = [0.0f32; GEMM_MAX_N];
    let y = &mut widened[..n];
    for (c, col) in out.chunks_exact_mut(rows).enumerate() {
        for (yi, a) in y.iter_mut().zip(&act[c * n..(c + 1) * n]) {
            *yi = a.to_f32();
        }
        let mut pairs = w.chunks_exact(2 * n);
        let mut outs = col.chunks_exact_mut(2);
        for (two, o) in (&mut pairs).zip(&mut outs) {
            let (x0, x1) = two.split_at(n);
            // SAFETY: the caller guarantees the features; both rows and `y` hold `n` elements,
            // a multiple of 32.
            (o[0], o[1]) = unsafe { dot2_widened(x0, x1, y) };
        }
        if let [o] = outs.into_remainder() {
            // An odd last row: the plain product, the same bits.
            // SAFETY: the caller guarantees the features.
            *o = unsafe { dot(pairs.remainder(), &act[c * n..(c + 1) * n]) };
        }
    }
}
