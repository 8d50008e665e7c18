//! AVX2 x8 products of Q4_K weights ([`BlockQ4Kx8`]) with Q8_K activations, bit-identical to
//! the scalar twin [`crate::generic::x8::q4_k`] (and so to `vec_dot_q4_k_q8_k`).
//!
//! Integer part, per sub-block of 32: eight `maddubs` of nibble words against four activation
//! quants each, summed in 16 bits (at most `8·2·15·128 = 30720`), then one `madd` with the
//! rows' 6-bit scales; the minimums' part is a `madd` of the rows' minimum pairs with pairs of
//! the activations' 16-value sums.

use core::arch::x86_64::*;

use super::x8_lanes::{byte_per_row_to_pairs, f16x8, load32, word_in_lanes, KWords};
use crate::blocks::BlockQ8K;
use crate::blocks_x8::BlockQ4Kx8;
use crate::generic::x8::q4_k::Q4Kx8;
use crate::x8_walk::{self as walk, X8Pair};

/// Marker for the Q4_K x8 × Q8_K driver.
pub(crate) struct Q4Kx8Avx2;

/// A super-block unpacked for many activation rows: the 64 quant words, the sub-block scales
/// and minimum pairs, the rows' super-block scales.
pub(crate) struct Q4KReady {
    pub(crate) words: [__m256i; 64],
    pub(crate) scales: [__m256i; 8],
    pub(crate) mins: [__m256i; 4],
    pub(crate) d: __m256,
    pub(crate) dmin: __m256,
}

impl KWords for Q4KReady {
    #[inline(always)]
    unsafe fn word(&self, j: usize) -> __m256i {
        self.words[j]
    }

    #[inline(always)]
    unsafe fn scale(&self, s: usize) -> __m256i {
        self.scales[s]
    }
}

/// The quant words straight from the x8 block: word `8s + i` of sub-block `s = 2c + h` is the
/// low (`h = 0`) or high nibbles of `qs` word `8c + i`.
impl KWords for BlockQ4Kx8 {
    #[inline(always)]
    unsafe fn word(&self, j: usize) -> __m256i {
        let (s, i) = (j / 8, j % 8);
        // SAFETY: the load reads 32 bytes of `qs` (word `8c + i < 32`); the caller guarantees
        // AVX2.
        unsafe {
            let v = load32(&self.qs[32 * (8 * (s / 2) + i)..]);
            let v = if s % 2 == 0 {
                v
            } else {
                _mm256_srli_epi16::<4>(v)
            };
            _mm256_and_si256(v, _mm256_set1_epi8(0x0f))
        }
    }

    #[inline(always)]
    unsafe fn scale(&self, s: usize) -> __m256i {
        // SAFETY: the caller guarantees AVX2; eight bytes inside `scales`.
        unsafe { byte_per_row_to_pairs::<false>(&self.scales[s]) }
    }
}

/// Row `k`'s minimums of sub-blocks `2p` and `2p + 1` in the 16-bit halves of lane `k`.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn min_pairs(w: &BlockQ4Kx8, p: usize) -> __m256i {
    // SAFETY: reads the 16 bytes of `mins[p]`; the caller guarantees AVX2.
    unsafe { _mm256_cvtepu8_epi16(_mm_loadu_si128(w.mins[p].as_ptr() as *const __m128i)) }
}

/// `isum` plus sub-block `S`'s `sc·Σ q·a` in each row's lane.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn sub_sum<const S: usize>(q: &impl KWords, a: &BlockQ8K, isum: __m256i) -> __m256i {
    // SAFETY: register-only AVX2 operations and four-byte reads inside `a.qs`.
    unsafe {
        let mut sum16 = _mm256_maddubs_epi16(q.word(8 * S), word_in_lanes(&a.qs, 8 * S));
        for i in 1..8 {
            let p = _mm256_maddubs_epi16(q.word(8 * S + i), word_in_lanes(&a.qs, 8 * S + i));
            sum16 = _mm256_add_epi16(sum16, p);
        }
        _mm256_add_epi32(isum, _mm256_madd_epi16(sum16, q.scale(S)))
    }
}

/// The eight rows' float terms: `(d·ad)·isum - (dmin·ad)·msum` with the exact integer sums, as
/// the twin's block term.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline(always)]
unsafe fn terms_from(
    q: &impl KWords,
    mins: [__m256i; 4],
    d: __m256,
    dmin: __m256,
    a: &BlockQ8K,
) -> __m256 {
    // SAFETY: register-only AVX2 operations and reads inside `a`.
    unsafe {
        // Eight calls with constant sub-block numbers: every word's unpacking is then static.
        let mut isum = _mm256_setzero_si256();
        isum = sub_sum::<0>(q, a, isum);
        isum = sub_sum::<1>(q, a, isum);
        isum = sub_sum::<2>(q, a, isum);
        isum = sub_sum::<3>(q, a, isum);
        isum = sub_sum::<4>(q, a, isum);
        isum = sub_sum::<5>(q, a, isum);
        isum = sub_sum::<6>(q, a, isum);
        isum = sub_sum::<7>(q, a, isum);
        finish(isum, mins, d, dmin, a)
    }
}

/// The eight rows' float terms from their scaled quant sums `isum`: the minimums' part from the
/// activations' 16-value sums, then `(d·ad)·isum - (dmin·ad)·msum`, as the twin's block term.
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[inline(always)]
pub(crate) unsafe fn finish(
    isum: __m256i,
    mins: [__m256i; 4],
    d: __m256,
    dmin: __m256,
    a: &BlockQ8K,
) -> __m256 {
    // SAFETY: register-only AVX2 operations and reads inside `a`.
    unsafe {
        // Sums of sub-blocks 2p and 2p + 1 (two 16-value sums each): dword 0, 1 of the low
        // half (p = 0, 1), 4, 5 of the high half (p = 2, 3).
        let bsums = _mm256_loadu_si256(a.bsums.as_ptr() as *const __m256i);
        let pairs = _mm256_hadd_epi16(bsums, bsums);
        let mut msum = _mm256_setzero_si256();
        for (p, idx) in [0, 1, 4, 5].into_iter().enumerate() {
            let bc = _mm256_permutevar8x32_epi32(pairs, _mm256_set1_epi32(idx));
            msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mins[p], bc));
        }
        let ad = _mm256_set1_ps(a.d);
        let dd = _mm256_mul_ps(d, ad);
        let dm = _mm256_mul_ps(dmin, ad);
        _mm256_sub_ps(
            _mm256_mul_ps(dd, _mm256_cvtepi32_ps(isum)),
            _mm256_mul_ps(dm, _mm256_cvtepi32_ps(msum)),
        )
    }
}

impl X8Pair for Q4Kx8Avx2 {
    type Lanes = __m256;
    type Twin = Q4Kx8;
    type Ready = Q4KReady;

    #[inline(always)]
    unsafe fn new_ready() -> Q4KReady {
        // SAFETY: register-only AVX operations.
        unsafe {
            Q4KReady {
                words: [_mm256_setzero_si256(); 64],
                scales: [_mm256_setzero_si256(); 8],
                mins: [_mm256_setzero_si256(); 4],
                d: _mm256_setzero_ps(),
                dmin: _mm256_setzero_ps(),
            }
        }
    }

    #[inline(always)]
    unsafe fn ready(w: &BlockQ4Kx8, r: &mut Q4KReady) {
        // SAFETY: the caller guarantees AVX2 and F16C; every read is inside `w`.
        unsafe {
            for (j, word) in r.words.iter_mut().enumerate() {
                *word = w.word(j);
            }
            for (s, sc) in r.scales.iter_mut().enumerate() {
                *sc = w.scale(s);
            }
            for (p, mn) in r.mins.iter_mut().enumerate() {
                *mn = min_pairs(w, p);
            }
            r.d = f16x8(&w.d);
            r.dmin = f16x8(&w.dmin);
        }
    }

    #[inline(always)]
    unsafe fn terms(r: &Q4KReady, a: &BlockQ8K, _a_sum: i32) -> __m256 {
        // SAFETY: forwarded.
        unsafe { terms_from(r, r.mins, r.d, r.dmin, a) }
    }

    #[inline(always)]
    unsafe fn terms_direct(w: &BlockQ4Kx8, a: &BlockQ8K, _a_sum: i32) -> __m256 {
        // SAFETY: forwarded; every read is inside `w`.
        unsafe {
            let mins = [
                min_pairs(w, 0),
                min_pairs(w, 1),
                min_pairs(w, 2),
                min_pairs(w, 3),
            ];
            terms_from(w, mins, f16x8(&w.d), f16x8(&w.dmin), a)
        }
    }
}

/// AVX2 twin of [`crate::generic::x8::q4_k::gemm_q4_kx8_q8_k`].
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; the operands meet the [`crate::table::GemmX8Fn`]
/// contract.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q4_kx8_q8_k_avx2(
    w: &[BlockQ4Kx8],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
    ld: usize,
    rows: usize,
) {
    // SAFETY: the caller guarantees the features.
    unsafe { walk::gemm::<Q4Kx8Avx2>(w, act, n_act, out, ld, rows) }
}
