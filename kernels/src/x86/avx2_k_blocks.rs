//! Building blocks of the AVX2 K-quant kernels: the integer sub-block dots every K type reduces
//! to, and the vec_dot / gemv / gemm drivers that walk blocks in the order of the scalar twins.
//!
//! Each K-quant kernel *prepares* a weight block (its quants unpacked to 256 unsigned bytes in
//! value order, 8 vectors of 32, plus its scales) and then takes exact integer dots with Q8_K
//! activation blocks; the float block term and the 8-lane accumulation are the scalar twin's own
//! functions. Integer sums are exact, so every kernel here is bit-identical to its scalar twin,
//! and gemv/gemm (which prepare a weight block once for several activation rows) are
//! bit-identical to vec_dot.
//!
//! `maddubs` (u8 × i8 pairs summed to i16, saturating) never saturates here: weight bytes are at
//! most 63, so a pair sum is at most `2·63·128 = 16128`.

use core::arch::x86_64::*;

use crate::blocks::BlockQ8K;
use crate::generic::accumulate::BlockAccumulator;

/// A K-quant weight type as the AVX2 drivers see it.
pub(crate) trait KWeightAvx2 {
    /// The weight block struct.
    type Block;
    /// A weight block unpacked for integer dots.
    type Prepared;

    /// Unpacks one weight block.
    ///
    /// # Safety
    /// The CPU supports AVX2 and F16C.
    unsafe fn prepare(w: &Self::Block) -> Self::Prepared;

    /// The block's float term against one activation block, equal to the scalar twin's.
    ///
    /// # Safety
    /// The CPU supports AVX2 and F16C.
    unsafe fn block_term(p: &Self::Prepared, w: &Self::Block, a: &BlockQ8K) -> f32;
}

/// The sums of the eight i32 lanes of `a` and of `b`, reduced together (exact: the values fit).
#[inline(always)]
pub(crate) unsafe fn hsum_pair(a: __m256i, b: __m256i) -> (i32, i32) {
    // SAFETY: register-only AVX2/SSE2 operations; the caller guarantees AVX2.
    unsafe {
        // [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7]
        let h = _mm256_hadd_epi32(a, b);
        let s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256::<1>(h));
        // [A, A', B, B'] -> [A + A', B + B', ..]
        let s = _mm_hadd_epi32(s, s);
        (_mm_cvtsi128_si32(s), _mm_extract_epi32::<1>(s))
    }
}

/// Widens an f16 with F16C (exact, like `half`'s conversion, without its run-time check).
#[inline(always)]
pub(crate) unsafe fn f16_to_f32(h: half::f16) -> f32 {
    // SAFETY: register-only F16C/SSE2 operations; the caller guarantees F16C.
    unsafe { _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h.to_bits() as i32))) }
}

/// Loads 32 activation quants starting at value `start` (a multiple of 32 below 256).
#[inline(always)]
pub(crate) unsafe fn load_act32(a: &BlockQ8K, start: usize) -> __m256i {
    debug_assert!(start + 32 <= a.qs.len());
    // SAFETY: `start + 32 <= 256`, so the unaligned 32-byte load stays inside `a.qs`.
    unsafe { _mm256_loadu_si256(a.qs.as_ptr().add(start) as *const __m256i) }
}

/// `Σ_k sc[k] · Σ_{e in 32k..32k+32} q[e]·a[e]` for eight sub-blocks of 32 with one scale each
/// (Q4_K, Q5_K), as eight i32 lanes to be summed by [`hsum_pair`].
#[inline(always)]
pub(crate) unsafe fn dot_sub32(q: &[__m256i; 8], sc: &[i16; 8], a: &BlockQ8K) -> __m256i {
    // SAFETY: register operations and in-bounds activation loads; the caller guarantees AVX2.
    unsafe {
        let mut acc = _mm256_setzero_si256();
        for k in 0..8 {
            let p = _mm256_maddubs_epi16(q[k], load_act32(a, 32 * k));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(sc[k])));
        }
        acc
    }
}

/// The 16 i16 scales of a 16-sub-block type (one vector, scale `j` in i16 lane `j`) arranged
/// for [`dot_sub16`]: entry `k` holds scale `2k` in its low 128 bits and scale `2k + 1` in its
/// high 128 bits (the halves of a 32-value group that `maddubs` produces).
#[inline(always)]
pub(crate) unsafe fn scale_pairs16(scales16: __m256i) -> [__m256i; 8] {
    // SAFETY: register-only operations; the caller guarantees AVX2.
    unsafe {
        // Scales 0..8 in both 128-bit halves, and scales 8..16: two lane crossings per block;
        // the rest are in-lane byte shuffles.
        let halves = [
            _mm256_permute2x128_si256::<0x00>(scales16, scales16),
            _mm256_permute2x128_si256::<0x11>(scales16, scales16),
        ];
        let mut out = [_mm256_setzero_si256(); 8];
        for (k, o) in out.iter_mut().enumerate() {
            // Within a half, scale 2k is i16 (2k mod 8) and scale 2k + 1 the next one: repeat
            // the first in the low half, the second in the high half.
            let b = 4 * (k % 4) as i16;
            let spread = _mm256_set_m128i(
                _mm_set1_epi16((b + 2) | (b + 3) << 8),
                _mm_set1_epi16(b | (b + 1) << 8),
            );
            *o = _mm256_shuffle_epi8(halves[k / 4], spread);
        }
        out
    }
}

/// [`scale_pairs16`] for 16 unsigned byte scales (scale `j` in byte `j`), zero-extended by the
/// byte shuffles themselves.
#[inline(always)]
pub(crate) unsafe fn scale_pairs16_u8(scales8: __m128i) -> [__m256i; 8] {
    // SAFETY: register-only operations; the caller guarantees AVX2.
    unsafe {
        let both = _mm256_broadcastsi128_si256(scales8);
        let mut out = [_mm256_setzero_si256(); 8];
        for (k, o) in out.iter_mut().enumerate() {
            // Byte 2k then a zero byte (index with the top bit set) in the low half, byte
            // 2k + 1 likewise in the high half.
            let b = 2 * k as i16;
            let zero_high = i16::MIN; // byte 1 of each word: index 0x80
            let spread = _mm256_set_m128i(
                _mm_set1_epi16((b + 1) | zero_high),
                _mm_set1_epi16(b | zero_high),
            );
            *o = _mm256_shuffle_epi8(both, spread);
        }
        out
    }
}

/// `Σ_k Σ_{e in 32k..32k+32} sc[e / 16]·q[e]·a[e]` for sixteen sub-blocks of 16 (Q2_K, Q3_K,
/// Q6_K), with the scales from [`scale_pairs16`], as eight i32 lanes to be summed by
/// [`hsum_pair`].
#[inline(always)]
pub(crate) unsafe fn dot_sub16(q: &[__m256i; 8], pairs: &[__m256i; 8], a: &BlockQ8K) -> __m256i {
    // SAFETY: register operations and in-bounds activation loads; the caller guarantees AVX2.
    unsafe {
        let mut acc = _mm256_setzero_si256();
        for k in 0..8 {
            let p = _mm256_maddubs_epi16(q[k], load_act32(a, 32 * k));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, pairs[k]));
        }
        acc
    }
}

/// `Σ_j coef[j]·bsums[j]` over the 16 per-16 sums of an activation block, as eight i32 lanes to
/// be summed by [`hsum_pair`].
#[inline(always)]
pub(crate) unsafe fn dot_bsums(coef: __m256i, a: &BlockQ8K) -> __m256i {
    // SAFETY: `bsums` is 16 i16 = 32 bytes, read by one unaligned load; the caller guarantees
    // AVX2.
    unsafe {
        let bs = _mm256_loadu_si256(a.bsums.as_ptr() as *const __m256i);
        _mm256_madd_epi16(bs, coef)
    }
}

/// Dot product of one weight row with one activation row, blocks in order, block terms in the
/// 8-lane order of the scalar twins.
#[inline(always)]
pub(crate) unsafe fn vec_dot<K: KWeightAvx2>(x: &[K::Block], y: &[BlockQ8K]) -> f32 {
    let mut acc = BlockAccumulator::new();
    for (i, (w, a)) in x.iter().zip(y).enumerate() {
        // SAFETY: the caller guarantees AVX2 and F16C.
        let term = unsafe { K::block_term(&K::prepare(w), w, a) };
        acc.add(i, term);
    }
    acc.finish()
}

/// `out[r] = vec_dot(row r of w, act)`; rows are `act.len()` blocks long.
#[inline(always)]
pub(crate) unsafe fn gemv<K: KWeightAvx2>(w: &[K::Block], act: &[BlockQ8K], out: &mut [f32]) {
    let nb = act.len();
    if nb == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    for (row, o) in w.chunks_exact(nb).zip(out.iter_mut()) {
        // SAFETY: the caller guarantees AVX2 and F16C.
        *o = unsafe { vec_dot::<K>(row, act) };
    }
}

/// Activation rows sharing one prepared weight block in [`gemm`].
const GEMM_COLS: usize = 4;

/// Activation rows kept hot while every weight row passes over them in [`gemm`] (64 Q8_K rows of
/// 2048 values are 146 KiB: an L2's worth), so the weights are streamed `n_act / 64` times, not
/// `n_act / 4` times.
const GEMM_COL_TILE: usize = 64;

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`, `rows = out.len() / n_act`.
///
/// Each weight block is prepared once for up to [`GEMM_COLS`] activation rows; every output keeps
/// its own accumulator fed block by block, so it equals [`vec_dot`] bit for bit.
#[inline(always)]
pub(crate) unsafe fn gemm<K: KWeightAvx2>(
    w: &[K::Block],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
) {
    if n_act == 0 {
        return;
    }
    let nb = act.len() / n_act;
    let rows = out.len() / n_act;
    if nb == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    for tile in (0..n_act).step_by(GEMM_COL_TILE) {
        let tile_end = (tile + GEMM_COL_TILE).min(n_act);
        for (r, wrow) in w.chunks_exact(nb).take(rows).enumerate() {
            for c0 in (tile..tile_end).step_by(GEMM_COLS) {
                let cols = GEMM_COLS.min(tile_end - c0);
                let mut accs = [BlockAccumulator::new(); GEMM_COLS];
                for (i, wb) in wrow.iter().enumerate() {
                    // SAFETY: the caller guarantees AVX2 and F16C.
                    let p = unsafe { K::prepare(wb) };
                    for (t, acc) in accs.iter_mut().enumerate().take(cols) {
                        let a = &act[(c0 + t) * nb + i];
                        // SAFETY: the caller guarantees AVX2 and F16C.
                        acc.add(i, unsafe { K::block_term(&p, wb, a) });
                    }
                }
                for (t, acc) in accs.iter().enumerate().take(cols) {
                    out[(c0 + t) * rows + r] = acc.finish();
                }
            }
        }
    }
}
