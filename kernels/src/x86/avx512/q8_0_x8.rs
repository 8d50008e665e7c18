//! AVX-512 VNNI x8 products of Q8_0 weights with Q8_0 activations, bit-identical to the scalar
//! twin [`crate::generic::x8::q8_0`]: `vpdpbusd` on the weights biased to unsigned bytes
//! (`w + 128`), then `- 128·Σ a` with the activation block's exact sum. Exact for every byte on
//! both sides (-128 included), so no activation needs the scalar fallback the AVX2 pair has.

use core::arch::x86_64::*;

use super::x8_lanes::dot_words;
use super::x8_wide::{self as wide, WidePair, WideReady};
use crate::blocks::BlockQ8_0;
use crate::blocks_x8::BlockQ8_0x8;
use crate::generic::x8::q8_0::Q8_0x8;
use crate::x86::avx2::q5_0_x8::{quant_sum, scaled_terms};
use crate::x86::avx2::x8_lanes::{f16x8, load32};
use crate::x8_walk::{self as walk, BlockScalars, X8Pair};

/// Marker for the Q8_0 x8 × Q8_0 driver, AVX-512 tier.
pub(crate) struct Q8_0x8Avx512;

/// An x8 block unpacked: the quant words biased to unsigned bytes, the rows' scales.
pub(crate) struct Q8_0BiasedReady {
    q: [__m256i; 8],
    d: __m256,
}

impl X8Pair for Q8_0x8Avx512 {
    type Lanes = __m256;
    type Twin = Q8_0x8;
    type Ready = Q8_0BiasedReady;
    const ACT_SUMS: bool = true;

    wide::quads_stripes!();

    #[inline(always)]
    unsafe fn new_ready() -> Q8_0BiasedReady {
        // SAFETY: register-only AVX operations.
        unsafe {
            Q8_0BiasedReady {
                q: [_mm256_setzero_si256(); 8],
                d: _mm256_setzero_ps(),
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ8_0x8, r: &mut Q8_0BiasedReady) {
        // SAFETY: the caller guarantees the features; the loads read the block's own arrays.
        unsafe {
            let bias = _mm256_set1_epi8(i8::MIN);
            for g in 0..8 {
                // w + 128 as an unsigned byte is w with its top bit flipped.
                r.q[g] = _mm256_xor_si256(load32(&w.qs[32 * g..]), bias);
            }
            r.d = f16x8(&w.d);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q8_0BiasedReady, a: &BlockQ8_0, a_sum: i32) -> __m256 {
        // SAFETY: the caller guarantees AVX-512 VNNI/VL, AVX2 and F16C.
        unsafe {
            let dot = dot_words(&r.q, &a.qs, 0);
            let isum = _mm256_sub_epi32(dot, _mm256_set1_epi32(a_sum.wrapping_mul(128)));
            scaled_terms(isum, r.d, a)
        }
    }

    #[inline(always)]
    unsafe fn act_sum(a: &BlockQ8_0) -> i32 {
        // SAFETY: forwarded.
        unsafe { quant_sum(a) }
    }

    const ACT_SCALARS: bool = true;

    #[inline(always)]
    unsafe fn act_scalars(a: &BlockQ8_0, a_sum: i32) -> BlockScalars {
        wide::offset_scalars(a, a_sum, 128)
    }
}

impl WidePair for Q8_0x8Avx512 {
    type Wide = WideReady;

    #[inline(always)]
    unsafe fn new_wide() -> WideReady {
        // SAFETY: forwarded.
        unsafe { wide::new_wide() }
    }

    #[inline(always)]
    unsafe fn ready_wide(w0: &BlockQ8_0x8, w1: &BlockQ8_0x8, r: &mut WideReady) {
        // SAFETY: forwarded.
        unsafe {
            let (mut lo, mut hi) = (Self::new_ready(), Self::new_ready());
            Self::ready(w0, &mut lo);
            Self::ready(w1, &mut hi);
            wide::join_words(&lo.q, &hi.q, lo.d, hi.d, r);
        }
    }

    #[inline(always)]
    unsafe fn terms_wide(r: &WideReady, a: &BlockQ8_0, _a_sum: i32, k: &BlockScalars) -> __m512 {
        // SAFETY: forwarded; the operations of `terms`, lane by lane.
        unsafe { wide::offset_terms(r, a, k) }
    }

    #[inline(always)]
    unsafe fn terms_wide2(
        r0: &WideReady,
        r1: &WideReady,
        a: &BlockQ8_0,
        _a_sum: i32,
        k: &BlockScalars,
    ) -> [__m512; 2] {
        // SAFETY: forwarded; the operations of `terms`, lane by lane.
        unsafe { wide::offset_terms2(r0, r1, a, k) }
    }
}

/// AVX-512 twin of [`crate::generic::x8::q8_0::gemm_q8_0x8_q8_0`].
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C; the operands meet the
/// [`crate::table::GemmX8Fn`] contract.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemm_q8_0x8_q8_0_avx512(
    w: &[BlockQ8_0x8],
    act: &[BlockQ8_0],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    // SAFETY: the caller guarantees the features.
    unsafe { walk::gemm::<Q8_0x8Avx512>(w, act, n_act, out, ld, rows) }
}
