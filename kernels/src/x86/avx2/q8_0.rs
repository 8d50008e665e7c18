//! AVX2 kernels for Q8_0 weights × Q8_0 activations, bit-identical to the scalar twins in
//! [`crate::generic::q8_0`].
//!
//! Integer part, two ways, the same exact sums:
//! - [`Q8_0SignAvx2`] when no activation quant is -128 (never, for activations our quantizer
//!   makes: it rounds into [-127, 127]): `maddubs(|w|, sign(a, w))`, the products `|w| * ±a`
//!   summed in pairs. `|w|` is at most 128 (as an unsigned byte) and `|a|` at most 127, so a pair
//!   is at most 32512 and `maddubs` never saturates; `sign` negates `a` where `w < 0`, exact for
//!   `a != -128`. Fewer shuffles than widening (Q8_0 vec_dot 5–8% faster).
//! - [`Q8_0Avx2`] otherwise: both sides sign-extended to i16 and `madd`-ed, exact for every byte
//!   pair (including -128 × -128, where negating -128 wraps).
//!
//! vec_dot tries the first and checks its activations on the way (one `min` per block); gemv and
//! gemm look at their activations once and pick. Either way the sums, and so the results, are
//! the same bits.

use core::arch::x86_64::*;

use super::legacy_lanes::{self as lanes, gather_f16_packed};
use super::legacy_tiles::{self as tiles, LegacyPairAvx2};
use crate::blocks::BlockQ8_0;

/// Marker for the Q8_0 × Q8_0 driver.
pub(crate) struct Q8_0Avx2;

impl LegacyPairAvx2 for Q8_0Avx2 {
    type W = BlockQ8_0;
    type A = BlockQ8_0;
    /// Quants 0..16 and 16..32 widened to i16.
    type WUnpacked = (__m256i, __m256i);
    /// Quants 0..16 and 16..32 widened to i16.
    type Prepared = (__m256i, __m256i);
    /// Weight scales.
    type WScales = __m256;
    /// Activation scales.
    type ActScales = __m256;

    #[inline(always)]
    unsafe fn unpack(w: &BlockQ8_0) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2; the loads read the block's own quant arrays.
        unsafe { lanes::widen_i8x32(&w.qs) }
    }

    #[inline(always)]
    unsafe fn prepare(a: &BlockQ8_0) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2; the load reads the block's 32 quants.
        unsafe { lanes::widen_i8x32(&a.qs) }
    }

    #[inline(always)]
    unsafe fn partials(w: &(__m256i, __m256i), a: &(__m256i, __m256i)) -> __m256i {
        // SAFETY: register-only AVX2 operations; the caller guarantees AVX2.
        unsafe { _mm256_add_epi32(_mm256_madd_epi16(w.0, a.0), _mm256_madd_epi16(w.1, a.1)) }
    }

    #[inline(always)]
    unsafe fn w_scales(w: &[BlockQ8_0]) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { gather_f16_packed(w, |b| b.d.to_bits()) }
    }

    #[inline(always)]
    unsafe fn act_scales(a: &[BlockQ8_0]) -> __m256 {
        // SAFETY: the caller guarantees AVX2 and F16C.
        unsafe { gather_f16_packed(a, |b| b.d.to_bits()) }
    }

    #[inline(always)]
    unsafe fn terms(w: &__m256, a: &__m256, isums: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX2. (dx * dy) * isum, as the twin.
        unsafe { _mm256_mul_ps(_mm256_mul_ps(*w, *a), isums) }
    }
}

/// Marker for the Q8_0 × Q8_0 driver with the `maddubs` sign trick, exact only where no
/// activation quant is -128 (see the module documentation).
pub(crate) struct Q8_0SignAvx2;

impl LegacyPairAvx2 for Q8_0SignAvx2 {
    type W = BlockQ8_0;
    type A = BlockQ8_0;
    /// The quants, and their absolute values as unsigned bytes.
    type WUnpacked = (__m256i, __m256i);
    /// The quants.
    type Prepared = __m256i;
    /// Weight scales.
    type WScales = __m256;
    /// Activation scales.
    type ActScales = __m256;

    #[inline(always)]
    unsafe fn unpack(w: &BlockQ8_0) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX2; the load reads the block's own quants.
        unsafe {
            let q = lanes::load_i8x32(&w.qs);
            (q, _mm256_abs_epi8(q))
        }
    }

    #[inline(always)]
    unsafe fn prepare(a: &BlockQ8_0) -> __m256i {
        // SAFETY: the caller guarantees AVX2; the load reads the block's 32 quants.
        unsafe { lanes::load_i8x32(&a.qs) }
    }

    #[inline(always)]
    unsafe fn partials(w: &(__m256i, __m256i), a: &__m256i) -> __m256i {
        // SAFETY: register-only AVX2 operations; the caller guarantees AVX2.
        unsafe { lanes::widen_pairs(_mm256_maddubs_epi16(w.1, _mm256_sign_epi8(*a, w.0))) }
    }

    #[inline(always)]
    unsafe fn w_scales(w: &[BlockQ8_0]) -> __m256 {
        // SAFETY: forwarded.
        unsafe { Q8_0Avx2::w_scales(w) }
    }

    #[inline(always)]
    unsafe fn act_scales(a: &[BlockQ8_0]) -> __m256 {
        // SAFETY: forwarded.
        unsafe { Q8_0Avx2::act_scales(a) }
    }

    #[inline(always)]
    unsafe fn terms(w: &__m256, a: &__m256, isums: __m256) -> __m256 {
        // SAFETY: forwarded.
        unsafe { Q8_0Avx2::terms(w, a, isums) }
    }

    /// The smallest activation quant of each byte lane so far.
    #[inline(always)]
    unsafe fn see(seen: __m256i, a: &__m256i) -> __m256i {
        // SAFETY: register-only AVX2 operation; the caller guarantees AVX2.
        unsafe { _mm256_min_epi8(seen, *a) }
    }

    #[inline(always)]
    unsafe fn exact(seen: __m256i) -> bool {
        // SAFETY: register-only AVX2 operations; the caller guarantees AVX2.
        unsafe { _mm256_movemask_epi8(_mm256_cmpeq_epi8(seen, _mm256_set1_epi8(i8::MIN))) == 0 }
    }
}

/// Whether [`Q8_0SignAvx2`] is exact for activations `a` (no quant is -128).
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn sign_trick_is_exact(a: &[BlockQ8_0]) -> bool {
    // SAFETY: register-only AVX2 operations on loads of the blocks' own quants.
    unsafe {
        // Four running minimums, so the loop is not one long chain of dependent `min`s.
        let mut low = [_mm256_setzero_si256(); 4];
        let mut quads = a.chunks_exact(4);
        for q in &mut quads {
            for (l, b) in low.iter_mut().zip(q) {
                *l = Q8_0SignAvx2::see(*l, &lanes::load_i8x32(&b.qs));
            }
        }
        for (l, b) in low.iter_mut().zip(quads.remainder()) {
            *l = Q8_0SignAvx2::see(*l, &lanes::load_i8x32(&b.qs));
        }
        let low = _mm256_min_epi8(
            _mm256_min_epi8(low[0], low[1]),
            _mm256_min_epi8(low[2], low[3]),
        );
        Q8_0SignAvx2::exact(low)
    }
}

/// AVX2 twin of [`crate::generic::vec_dot_q8_0_q8_0`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q8_0_q8_0_avx2(x: &[BlockQ8_0], y: &[BlockQ8_0]) -> f32 {
    // SAFETY: the caller guarantees the features.
    unsafe {
        match tiles::vec_dot_if_exact::<Q8_0SignAvx2>(x, y) {
            Some(dot) => dot,
            None => tiles::vec_dot::<Q8_0Avx2>(x, y),
        }
    }
}

/// AVX2 twin of [`crate::generic::gemv_q8_0_q8_0`], four rows at a time.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemv_q8_0_q8_0_avx2(w: &[BlockQ8_0], act: &[BlockQ8_0], out: &mut [f32]) {
    // SAFETY: the caller guarantees the features.
    unsafe {
        if sign_trick_is_exact(act) {
            tiles::gemv::<Q8_0SignAvx2>(w, act, out)
        } else {
            tiles::gemv::<Q8_0Avx2>(w, act, out)
        }
    }
}

/// AVX2 twin of [`crate::generic::gemm_q8_0_q8_0`], in tiles of four rows × four activation rows.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q8_0_q8_0_avx2(
    w: &[BlockQ8_0],
    act: &[BlockQ8_0],
    n_act: usize,
    out: &mut [f32],
) {
    // SAFETY: the caller guarantees the features.
    unsafe {
        if sign_trick_is_exact(act) {
            tiles::gemm::<Q8_0SignAvx2>(w, act, n_act, out)
        } else {
            tiles::gemm::<Q8_0Avx2>(w, act, n_act, out)
        }
    }
}
