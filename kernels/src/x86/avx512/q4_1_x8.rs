//! AVX-512 VNNI x8 products of Q4_1 weights with Q8_1 activations, bit-identical to the scalar
//! twin [`crate::generic::x8::q4_1`]: the AVX2 pair's unpacking and float steps, `vpdpbusd` for
//! the integer sums (the nibbles are the unsigned bytes).

use core::arch::x86_64::*;

use super::x8_lanes::dot_words;
use super::x8_wide::{self as wide, dot_words16, dot_words16_twice, join_ps, WidePair, WideReady};
use crate::blocks::BlockQ8_1;
use crate::blocks_x8::BlockQ4_1x8;
use crate::generic::x8::q4_1::Q4_1x8;
use crate::x86::avx2::q4_1_x8::{float_terms, Q4_1Ready, Q4_1x8Avx2};
use crate::x8_walk::{self as walk, BlockScalars, X8Pair};

/// Marker for the Q4_1 x8 × Q8_1 driver, AVX-512 tier.
pub(crate) struct Q4_1x8Avx512;

impl X8Pair for Q4_1x8Avx512 {
    type Lanes = __m256;
    type Twin = Q4_1x8;
    type Ready = Q4_1Ready;

    wide::quads_stripes!();

    #[inline(always)]
    unsafe fn new_ready() -> Q4_1Ready {
        // SAFETY: forwarded.
        unsafe { Q4_1x8Avx2::new_ready() }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ4_1x8, r: &mut Q4_1Ready) {
        // SAFETY: forwarded (AVX-512 implies the AVX2 pair's features).
        unsafe { Q4_1x8Avx2::ready(w, r) }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q4_1Ready, a: &BlockQ8_1, _a_sum: i32) -> __m256 {
        // SAFETY: the caller guarantees AVX-512 VNNI/VL, AVX2 and F16C.
        unsafe { float_terms(dot_words(&r.q, &a.qs, 0), r, a) }
    }

    const ACT_SCALARS: bool = true;

    #[inline(always)]
    unsafe fn act_scalars(a: &BlockQ8_1, _a_sum: i32) -> BlockScalars {
        BlockScalars {
            offset: 0,
            d: a.d.to_f32(),
            s: a.s.to_f32(),
        }
    }
}

impl WidePair for Q4_1x8Avx512 {
    type Wide = WideReady;

    #[inline(always)]
    unsafe fn new_wide() -> WideReady {
        // SAFETY: forwarded.
        unsafe { wide::new_wide() }
    }

    #[inline(always)]
    unsafe fn ready_wide(w0: &BlockQ4_1x8, w1: &BlockQ4_1x8, r: &mut WideReady) {
        // SAFETY: forwarded.
        unsafe {
            let (mut lo, mut hi) = (Self::new_ready(), Self::new_ready());
            Self::ready(w0, &mut lo);
            Self::ready(w1, &mut hi);
            wide::join_words(&lo.q, &hi.q, lo.d, hi.d, r);
            r.m = join_ps(lo.m, hi.m);
        }
    }

    #[inline(always)]
    unsafe fn terms_wide(r: &WideReady, a: &BlockQ8_1, _a_sum: i32, k: &BlockScalars) -> __m512 {
        // SAFETY: the caller guarantees the features; `float_terms`' operations, lane by lane
        // (`k` holds `a`'s scales widened exactly).
        unsafe {
            let isum = dot_words16(&r.q, &a.qs);
            let dd = _mm512_mul_ps(r.d, _mm512_set1_ps(k.d));
            let ms = _mm512_mul_ps(r.m, _mm512_set1_ps(k.s));
            _mm512_add_ps(_mm512_mul_ps(dd, _mm512_cvtepi32_ps(isum)), ms)
        }
    }

    #[inline(always)]
    unsafe fn terms_wide2(
        r0: &WideReady,
        r1: &WideReady,
        a: &BlockQ8_1,
        _a_sum: i32,
        k: &BlockScalars,
    ) -> [__m512; 2] {
        // SAFETY: as `terms_wide`, for both blocks, the activation words broadcast once.
        unsafe {
            let zero = _mm512_setzero_si512();
            let isums = dot_words16_twice(zero, &r0.q, &r1.q, &a.qs);
            let (dy, s) = (_mm512_set1_ps(k.d), _mm512_set1_ps(k.s));
            // (No closure here: it would lose the leaf's features.)
            let (dd0, ms0) = (_mm512_mul_ps(r0.d, dy), _mm512_mul_ps(r0.m, s));
            let (dd1, ms1) = (_mm512_mul_ps(r1.d, dy), _mm512_mul_ps(r1.m, s));
            [
                _mm512_add_ps(_mm512_mul_ps(dd0, _mm512_cvtepi32_ps(isums[0])), ms0),
                _mm512_add_ps(_mm512_mul_ps(dd1, _mm512_cvtepi32_ps(isums[1])), ms1),
            ]
        }
    }
}

/// AVX-512 twin of [`crate::generic::x8::q4_1::gemm_q4_1x8_q8_1`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C; the operands meet the
/// [`crate::table::GemmX8Fn`] contract.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemm_q4_1x8_q8_1_avx512(
    w: &[BlockQ4_1x8],
    act: &[BlockQ8_1],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    // SAFETY: the caller guarantees the features.
    unsafe { walk::gemm::<Q4_1x8Avx512>(w, act, n_act, out, ld, rows) }
}
