//! AVX2 kernels for F32 weights × F32 activations, bit-identical to [`crate::generic::f32_row`]:
//! element `i` in lane `i % 32` (four `__m256` accumulators), multiply then add, never fused
//! (an f32 product is not exact, so fusing would round differently from the twin).

use core::arch::x86_64::*;

use crate::generic::accumulate::{FloatAccumulator, FLOAT_LANES};

/// The body of [`vec_dot_f32_avx2`].
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn dot(x: &[f32], y: &[f32]) -> f32 {
    let n = x.len().min(y.len());
    let whole = n - n % FLOAT_LANES;
    let mut lanes = [0.0f32; FLOAT_LANES];
    // SAFETY: the caller guarantees the features; every load reads 8 floats at `i + 8k` with
    // `i + 8k + 8 <= whole <= n`, within both slices.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i < whole {
            for (k, a) in acc.iter_mut().enumerate() {
                let xv = _mm256_loadu_ps(x.as_ptr().add(i + 8 * k));
                let yv = _mm256_loadu_ps(y.as_ptr().add(i + 8 * k));
                *a = _mm256_add_ps(*a, _mm256_mul_ps(xv, yv));
            }
            i += FLOAT_LANES;
        }
        for (k, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(lanes.as_mut_ptr().add(8 * k), *a);
        }
    }
    let mut acc = FloatAccumulator::from_lanes(lanes);
    for i in whole..n {
        acc.add(i, x[i] * y[i]);
    }
    acc.finish()
}

/// AVX2 twin of [`crate::generic::vec_dot_f32`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_f32_avx2(x: &[f32], y: &[f32]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe { dot(x, y) }
}

/// AVX2 twin of [`crate::generic::gemv_f32`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_f32_avx2(w: &[f32], act: &[f32], out: &mut [f32]) {
    if act.is_empty() {
        out.fill(0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(w.chunks_exact(act.len())) {
        // SAFETY: the caller guarantees the features.
        *o = unsafe { dot(row, act) };
    }
}
