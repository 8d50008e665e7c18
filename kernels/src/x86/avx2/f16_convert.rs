//! AVX2 (F16C) narrowing of f32 rows to IEEE half, bit-identical to
//! [`crate::generic::quantize_row_f16`]: `vcvtps2ph` with round-to-nearest-even in its
//! immediate (not the MXCSR mode), which rounds, saturates to infinity, keeps subnormals and
//! quiets NaN exactly as the twin's software conversion does. Queries and cached keys and values
//! of an F16 KV cache go through it on every attention call.

use core::arch::x86_64::*;

use half::f16;

use crate::generic::quantize_row_f16;

/// AVX2 twin of [`crate::generic::quantize_row_f16`] (eight values a step; the tail by the twin).
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_row_f16_avx2(x: &[f32], y: &mut [f16]) {
    let n = x.len().min(y.len());
    let whole = n - n % 8;
    let mut i = 0;
    while i < whole {
        // SAFETY: reads floats `i..i + 8` of `x` and writes halves `i..i + 8` of `y`
        // (`i + 8 <= whole <= n`); F16C is the caller's promise.
        unsafe {
            let v = _mm256_loadu_ps(x.as_ptr().add(i));
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
            _mm_storeu_si128(y.as_mut_ptr().add(i).cast(), h);
        }
        i += 8;
    }
    quantize_row_f16(&x[whole..n], &mut y[whole..n]);
}
