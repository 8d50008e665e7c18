//! AVX-512 kernels for the float rows (F32, F16, BF16), bit-identical to
//! [`crate::generic::f32_row`], [`crate::generic::f16_row`] and [`crate::generic::bf16_row`]:
//! element `i` in lane `i % 32`, the 32 lanes held in two `__m512` (lanes 0..16 and 16..32), the
//! tail and the reduction through [`FloatAccumulator`].
//!
//! Products: F32 and BF16 multiply, then add, never fused (an f32 product is not exact, and a
//! BF16 product can overflow or fall below the normal range, where fusing would round
//! differently from the twin). A product of two halves is always exact in f32 (at most 22
//! significant bits, exponents well inside the normal range), so F16 fuses.

use core::arch::x86_64::*;

use half::{bf16, f16};

use crate::generic::accumulate::{FloatAccumulator, FLOAT_LANES};
use crate::generic::bf16_row::bf16_to_f32;

/// A float row element as the 32-lane body loads it.
trait Element: Copy {
    /// Whether `acc + x * y` may be one fused multiply-add (the product is exact).
    const FUSED: bool;

    /// Sixteen elements from `p` widened to f32, exactly.
    ///
    /// # Safety
    /// The CPU supports AVX-512 F (and F16C); 16 elements are readable at `p`.
    unsafe fn load16(p: *const Self) -> __m512;

    /// One element widened to f32, exactly.
    fn widen(self) -> f32;
}

impl Element for f32 {
    const FUSED: bool = false;

    #[inline(always)]
    unsafe fn load16(p: *const f32) -> __m512 {
        // SAFETY: the caller guarantees 16 readable floats and AVX-512 F.
        unsafe { _mm512_loadu_ps(p) }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
}

impl Element for f16 {
    const FUSED: bool = true;

    #[inline(always)]
    unsafe fn load16(p: *const f16) -> __m512 {
        // SAFETY: the caller guarantees 16 readable halves (32 bytes) and AVX-512 F.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i)) }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        self.to_f32()
    }
}

impl Element for bf16 {
    const FUSED: bool = false;

    #[inline(always)]
    unsafe fn load16(p: *const bf16) -> __m512 {
        // SAFETY: the caller guarantees 16 readable bf16 values (32 bytes) and AVX-512 F.
        unsafe {
            let bits = _mm512_cvtepu16_epi32(_mm256_loadu_si256(p as *const __m256i));
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(bits))
        }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        bf16_to_f32(self)
    }
}

/// `sum(x[i] * y[i])` in the 32-lane order.
///
/// # Safety
/// The CPU supports AVX-512 F, FMA and F16C.
#[inline(always)]
unsafe fn dot<E: Element>(x: &[E], y: &[E]) -> f32 {
    let n = x.len().min(y.len());
    let whole = n - n % FLOAT_LANES;
    let mut lanes = [0.0f32; FLOAT_LANES];
    // SAFETY: the caller guarantees the features; every load reads 16 elements at `i + 16k`
    // with `i + 16k + 16 <= whole <= n`, within both slices; the stores write `lanes`.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); 2];
        let mut i = 0;
        while i < whole {
            for (k, a) in acc.iter_mut().enumerate() {
                let xv = E::load16(x.as_ptr().add(i + 16 * k));
                let yv = E::load16(y.as_ptr().add(i + 16 * k));
                *a = if E::FUSED {
                    _mm512_fmadd_ps(xv, yv, *a)
                } else {
                    _mm512_add_ps(*a, _mm512_mul_ps(xv, yv))
                };
            }
            i += FLOAT_LANES;
        }
        _mm512_storeu_ps(lanes.as_mut_ptr(), acc[0]);
        _mm512_storeu_ps(lanes.as_mut_ptr().add(16), acc[1]);
    }
    let mut acc = FloatAccumulator::from_lanes(lanes);
    for i in whole..n {
        acc.add(i, x[i].widen() * y[i].widen());
    }
    acc.finish()
}

/// `out[r] = dot(row r, act)`, `w` holding `out.len()` rows of `act.len()` elements.
///
/// # Safety
/// The CPU supports AVX-512 F, FMA and F16C.
#[inline(always)]
unsafe fn gemv<E: Element>(w: &[E], act: &[E], out: &mut [f32]) {
    if act.is_empty() {
        out.fill(0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(w.chunks_exact(act.len())) {
        // SAFETY: forwarded.
        *o = unsafe { dot(row, act) };
    }
}

/// AVX-512 twin of [`crate::generic::vec_dot_f32`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL and VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_f32_avx512(x: &[f32], y: &[f32]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe { dot(x, y) }
}

/// AVX-512 twin of [`crate::generic::gemv_f32`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL and VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemv_f32_avx512(w: &[f32], act: &[f32], out: &mut [f32]) {
    // SAFETY: the caller guarantees the features.
    unsafe { gemv(w, act, out) }
}

/// AVX-512 twin of [`crate::generic::vec_dot_f16`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL and VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_f16_avx512(x: &[f16], y: &[f16]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe { dot(x, y) }
}

/// AVX-512 twin of [`crate::generic::gemv_f16`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL and VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemv_f16_avx512(w: &[f16], act: &[f16], out: &mut [f32]) {
    // SAFETY: the caller guarantees the features.
    unsafe { gemv(w, act, out) }
}

/// AVX-512 twin of [`crate::generic::vec_dot_bf16`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL and VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_bf16_avx512(x: &[bf16], y: &[bf16]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe { dot(x, y) }
}

/// Rows of BF16 by one BF16 activation row; each output is [`vec_dot_bf16_avx512`] (whose twin
/// is [`crate::generic::vec_dot_bf16`]).
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL and VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemv_bf16_avx512(w: &[bf16], act: &[bf16], out: &mut [f32]) {
    // SAFETY: the caller guarantees the features.
    unsafe { gemv(w, act, out) }
}
