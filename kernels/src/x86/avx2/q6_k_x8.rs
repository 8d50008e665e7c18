//! AVX2 x8 products of Q6_K weights ([`BlockQ6Kx8`]) with Q8_K activations, bit-identical to
//! the scalar twin [`crate::generic::x8::q6_k`] (and so to `vec_dot_q6_k_q8_k`).
//!
//! Integer part, per sub-block of 16: the unsigned 6-bit quants (`q + 32`, at most 63) against
//! the activations, `maddubs` summed two at a time in 16 bits (at most `2·2·63·128 = 32256`),
//! each pair of sums `madd`-ed with the rows' scales; then, as the twin, `- 32·Σ sc·bsum` from
//! the activations' 16-value sums.

use core::arch::x86_64::*;

use super::x8_lanes::{byte_per_row_to_pairs, f16x8, load32, word_in_lanes, KWords};
use crate::blocks::BlockQ8K;
use crate::blocks_x8::BlockQ6Kx8;
use crate::generic::x8::q6_k::Q6Kx8;
use crate::x8_walk::{self as walk, X8Pair};

/// Marker for the Q6_K x8 × Q8_K driver.
pub(crate) struct Q6Kx8Avx2;

/// A super-block unpacked for many activation rows: the 64 quant words, the sub-block scales
/// (both as one scale per lane and as pairs of neighbouring sub-blocks), the rows' scales.
pub(crate) struct Q6KReady {
    pub(crate) words: [__m256i; 64],
    pub(crate) scales: [__m256i; 16],
    pub(crate) scale_pairs: [__m256i; 8],
    pub(crate) d: __m256,
}

impl KWords for Q6KReady {
    #[inline(always)]
    unsafe fn word(&self, j: usize) -> __m256i {
        self.words[j]
    }

    #[inline(always)]
    unsafe fn scale(&self, g: usize) -> __m256i {
        self.scales[g]
    }
}

/// The quant words straight from the x8 block. Word `j = 32h + 8q + i` (values
/// `128h + 32q + 4i..+4`) has its low bits in `ql` word `16h + 8(q & 1) + i` (low nibbles for
/// `q < 2`) and its top two bits at bits `2q..2q+2` of `qh` word `8h + i`.
impl KWords for BlockQ6Kx8 {
    #[inline(always)]
    unsafe fn word(&self, j: usize) -> __m256i {
        let (h, q, i) = (j / 32, (j / 8) % 4, j % 8);
        // SAFETY: the loads read 32 bytes of `ql` (word `< 32`) and of `qh` (word `< 16`); the
        // caller guarantees AVX2. The 16-bit shifts bring no bit across a byte boundary into
        // the masked bits.
        unsafe {
            let low = load32(&self.ql[32 * (16 * h + 8 * (q & 1) + i)..]);
            let low = if q < 2 {
                low
            } else {
                _mm256_srli_epi16::<4>(low)
            };
            let low = _mm256_and_si256(low, _mm256_set1_epi8(0x0f));
            let high = load32(&self.qh[32 * (8 * h + i)..]);
            let high = match q {
                0 => _mm256_slli_epi16::<4>(high),
                1 => _mm256_slli_epi16::<2>(high),
                2 => high,
                _ => _mm256_srli_epi16::<2>(high),
            };
            _mm256_or_si256(low, _mm256_and_si256(high, _mm256_set1_epi8(0x30)))
        }
    }

    #[inline(always)]
    unsafe fn scale(&self, g: usize) -> __m256i {
        // SAFETY: the caller guarantees AVX2.
        unsafe { byte_per_row_to_pairs::<true>(bytemuck::cast_ref(&self.scales[g])) }
    }
}

/// Row `k`'s scales of sub-blocks `2p` and `2p + 1`, sign-extended, in the 16-bit halves of lane
/// `k`.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn scale_pairs(w: &BlockQ6Kx8, p: usize) -> __m256i {
    // SAFETY: reads the 16 bytes of `scales[2p]` and `scales[2p + 1]` (adjacent); the caller
    // guarantees AVX2.
    unsafe {
        let both = _mm_loadu_si128(w.scales[2 * p].as_ptr() as *const __m128i);
        _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(both, _mm_srli_si128::<8>(both)))
    }
}

/// `isum` plus sub-block `G`'s `sc·Σ q·a` in each row's lane.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn group_sum<const G: usize>(q: &impl KWords, a: &BlockQ8K, isum: __m256i) -> __m256i {
    // SAFETY: register-only AVX2 operations and four-byte reads inside `a.qs`.
    unsafe {
        let sc = q.scale(G);
        let isum = _mm256_add_epi32(isum, _mm256_madd_epi16(two_words(q, a, 4 * G), sc));
        _mm256_add_epi32(isum, _mm256_madd_epi16(two_words(q, a, 4 * G + 2), sc))
    }
}

/// Words `j` and `j + 1` against their activation quants, summed in 16 bits.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn two_words(q: &impl KWords, a: &BlockQ8K, j: usize) -> __m256i {
    // SAFETY: register-only AVX2 operations and four-byte reads inside `a.qs`.
    unsafe {
        _mm256_add_epi16(
            _mm256_maddubs_epi16(q.word(j), word_in_lanes(&a.qs, j)),
            _mm256_maddubs_epi16(q.word(j + 1), word_in_lanes(&a.qs, j + 1)),
        )
    }
}

/// The eight rows' float terms `(d·ad)·isum`, with the exact integer sum of the twin.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline(always)]
unsafe fn terms_from(q: &impl KWords, pairs: &[__m256i; 8], d: __m256, a: &BlockQ8K) -> __m256 {
    // SAFETY: register-only AVX2 operations and reads inside `a`.
    unsafe {
        // Sixteen calls with constant group numbers: every word's unpacking is then static.
        let mut isum = _mm256_setzero_si256();
        isum = group_sum::<0>(q, a, isum);
        isum = group_sum::<1>(q, a, isum);
        isum = group_sum::<2>(q, a, isum);
        isum = group_sum::<3>(q, a, isum);
        isum = group_sum::<4>(q, a, isum);
        isum = group_sum::<5>(q, a, isum);
        isum = group_sum::<6>(q, a, isum);
        isum = group_sum::<7>(q, a, isum);
        isum = group_sum::<8>(q, a, isum);
        isum = group_sum::<9>(q, a, isum);
        isum = group_sum::<10>(q, a, isum);
        isum = group_sum::<11>(q, a, isum);
        isum = group_sum::<12>(q, a, isum);
        isum = group_sum::<13>(q, a, isum);
        isum = group_sum::<14>(q, a, isum);
        isum = group_sum::<15>(q, a, isum);
        finish(isum, pairs, d, a)
    }
}

/// The eight rows' float terms from their scaled quant sums `isum` (quants as stored, `q + 32`):
/// `- 32·Σ sc·bsum` from the activations' 16-value sums, as the twin, then `(d·ad)·isum`.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn finish(
    isum: __m256i,
    pairs: &[__m256i; 8],
    d: __m256,
    a: &BlockQ8K,
) -> __m256 {
    // SAFETY: register-only AVX2 operations and four-byte reads inside `a.bsums`.
    unsafe {
        let mut offset = _mm256_setzero_si256();
        for (p, sc2) in pairs.iter().enumerate() {
            let bs = core::ptr::read_unaligned(a.bsums.as_ptr().add(2 * p) as *const i32);
            offset = _mm256_add_epi32(offset, _mm256_madd_epi16(*sc2, _mm256_set1_epi32(bs)));
        }
        let isum = _mm256_sub_epi32(isum, _mm256_slli_epi32::<5>(offset));
        _mm256_mul_ps(
            _mm256_mul_ps(d, _mm256_set1_ps(a.d)),
            _mm256_cvtepi32_ps(isum),
        )
    }
}

impl X8Pair for Q6Kx8Avx2 {
    type Lanes = __m256;
    type Twin = Q6Kx8;
    type Ready = Q6KReady;

    #[inline(always)]
    unsafe fn new_ready() -> Q6KReady {
        // SAFETY: register-only AVX operations.
        unsafe {
            Q6KReady {
                words: [_mm256_setzero_si256(); 64],
                scales: [_mm256_setzero_si256(); 16],
                scale_pairs: [_mm256_setzero_si256(); 8],
                d: _mm256_setzero_ps(),
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ6Kx8, r: &mut Q6KReady) {
        // SAFETY: the caller guarantees AVX2 and F16C; every read is inside `w`.
        unsafe {
            for (j, word) in r.words.iter_mut().enumerate() {
                *word = w.word(j);
            }
            for (g, sc) in r.scales.iter_mut().enumerate() {
                *sc = w.scale(g);
            }
            for (p, sc2) in r.scale_pairs.iter_mut().enumerate() {
                *sc2 = scale_pairs(w, p);
            }
            r.d = f16x8(&w.d);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q6KReady, a: &BlockQ8K, _a_sum: i32) -> __m256 {
        // SAFETY: forwarded.
        unsafe { terms_from(r, &r.scale_pairs, r.d, a) }
    }

    #[inline(always)]
    unsafe fn terms_direct(w: &BlockQ6Kx8, a: &BlockQ8K, _a_sum: i32) -> __m256 {
        // SAFETY: forwarded; every read is inside `w`.
        unsafe {
            let pairs = [
                scale_pairs(w, 0),
                scale_pairs(w, 1),
                scale_pairs(w, 2),
                scale_pairs(w, 3),
                scale_pairs(w, 4),
                scale_pairs(w, 5),
                scale_pairs(w, 6),
                scale_pairs(w, 7),
            ];
            terms_from(w, &pairs, f16x8(&w.d), a)
        }
    }
}

/// AVX2 twin of [`crate::generic::x8::q6_k::gemm_q6_kx8_q8_k`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; the operands meet the [`crate::table::GemmX8Fn`]
/// contract.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q6_kx8_q8_k_avx2(
    w: &[BlockQ6Kx8],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    // SAFETY: the caller guarantees the features.
    unsafe { walk::gemm::<Q6Kx8Avx2>(w, act, n_act, out, ld, rows) }
}
