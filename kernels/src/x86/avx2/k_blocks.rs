//! Building blocks of the AVX2 K-quant kernels: the integer sub-block dots every K type reduces
//! to, and this instruction set's part (group scales and float terms) of the tile walk behind
//! vec_dot, gemv and gemm.
//!
//! Each K-quant kernel *prepares* a weight block (its quants unpacked to 256 unsigned bytes in
//! value order, 8 vectors of 32, plus its scales) and then takes exact integer dots with Q8_K
//! activation blocks: a main sum and a second sum (the minimum term of Q2_K/Q4_K/Q5_K, the
//! offset term of Q3_K/Q6_K) per block, each as eight i32 lanes.
//!
//! The float side follows the scalar twins exactly, eight blocks at once, in the walk shared with
//! the AVX-512 driver ([`crate::x86::k_tile_walk`]): the integer sums of eight consecutive blocks are
//! reduced into one vector of main sums and one of second sums (block `j` in lane `j`),
//! converted, multiplied by `d·da` / `dmin·da` with the twin's roundings (separate multiplies and
//! subtraction, never fused), and added to lane `j` of the eight block lanes of
//! [`crate::generic::accumulate`]; a short last group keeps the lanes past its length with a
//! blend. So every output is bit-identical to the scalar twin.
//!
//! `maddubs` (u8 × i8 pairs summed to i16, saturating) never saturates here: weight bytes are at
//! most 63, so a pair sum is at most `2·63·128 = 16128`.

use core::arch::x86_64::*;

use crate::blocks::BlockQ8K;
use crate::x86::k_tile_walk::{KGroups, PairSums, GROUP};

/// A K-quant weight type as the AVX2 drivers see it.
pub(crate) trait KWeightAvx2 {
    /// The weight block struct.
    type Block;
    /// A weight block unpacked for integer dots.
    type Prepared;

    /// `None` for the "scale and minimum" types, whose block term is
    /// `(d·da)·main - (dmin·da)·second`; `Some(s)` for the symmetric ones, whose block term is
    /// `(d·da)·(main - (second << s))` (wrapping, as the twins compute it).
    const OFFSET_SHIFT: Option<u32>;

    /// The f16 bits of `d` and `dmin` (zero for the symmetric types).
    fn scale_bits(w: &Self::Block) -> (u16, u16);

    /// Unpacks one weight block.
    ///
    /// # Safety
    /// The CPU supports AVX2 and F16C.
    unsafe fn prepare(w: &Self::Block) -> Self::Prepared;

    /// The integer sums of a prepared block against one activation block, as 8 i32 lanes
    /// summing to the main sum and 8 summing to the second sum.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    unsafe fn partials(p: &Self::Prepared, a: &BlockQ8K) -> (__m256i, __m256i);
}

/// Loads 32 activation quants starting at value `start` (a multiple of 32 below 256).
#[inline(always)]
pub(crate) unsafe fn load_act32(a: &BlockQ8K, start: usize) -> __m256i {
    debug_assert!(start + 32 <= a.qs.len());
    // SAFETY: `start + 32 <= 256`, so the unaligned 32-byte load stays inside `a.qs`.
    unsafe { _mm256_loadu_si256(a.qs.as_ptr().add(start) as *const __m256i) }
}

/// `Σ_k sc[k] · Σ_{e in 32k..32k+32} q[e]·a[e]` for eight sub-blocks of 32 with one scale each
/// (Q4_K, Q5_K), the unsigned byte scales in the low 8 bytes of `sc8`, as eight i32 lanes.
#[inline(always)]
pub(crate) unsafe fn dot_sub32(q: &[__m256i; 8], sc8: __m128i, a: &BlockQ8K) -> __m256i {
    // SAFETY: register operations and in-bounds activation loads; the caller guarantees AVX2.
    unsafe {
        let both = _mm256_broadcastsi128_si256(sc8);
        let mut acc = _mm256_setzero_si256();
        for (k, qk) in q.iter().enumerate() {
            // Every i16 lane takes byte k, zero-extended (index 0x80 writes a zero byte).
            let spread = _mm256_set1_epi16(k as i16 | i16::MIN);
            let sc = _mm256_shuffle_epi8(both, spread);
            let p = _mm256_maddubs_epi16(*qk, load_act32(a, 32 * k));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, sc));
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
/// Q6_K), with the scales from [`scale_pairs16`], as eight i32 lanes.
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

/// `Σ_j coef[j]·bsums[j]` over the 16 per-16 sums of an activation block, as eight i32 lanes.
#[inline(always)]
pub(crate) unsafe fn dot_bsums(coef: __m256i, a: &BlockQ8K) -> __m256i {
    // SAFETY: `bsums` is 16 i16 = 32 bytes, read by one unaligned load; the caller guarantees
    // AVX2.
    unsafe {
        let bs = _mm256_loadu_si256(a.bsums.as_ptr() as *const __m256i);
        _mm256_madd_epi16(bs, coef)
    }
}

/// The AVX2 kernels of K-quant type `K` as the shared walk sees them.
pub(crate) struct Avx2Groups<K>(core::marker::PhantomData<K>);

impl<K: KWeightAvx2> KGroups for Avx2Groups<K> {
    type Block = K::Block;
    type Prepared = K::Prepared;
    /// `d` and `dmin`.
    type WScales = (__m256, __m256);
    type ActScales = __m256;

    #[inline(always)]
    unsafe fn prepare(w: &K::Block) -> K::Prepared {
        // SAFETY: forwarded (AVX2 and F16C).
        unsafe { K::prepare(w) }
    }

    #[inline(always)]
    unsafe fn partials(p: &K::Prepared, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: forwarded.
        unsafe { K::partials(p, a) }
    }

    /// `(d, dmin)` as f32, block `j` in lane `j` (`dmin` zero for the symmetric types). Lanes past
    /// `len` repeat the last block ([`KGroups::add_group_terms`] leaves those lanes unchanged):
    /// built in registers, since eight 2-byte stores reloaded as one vector would stall store
    /// forwarding.
    #[inline(always)]
    unsafe fn group_scales(w: &[K::Block], start: usize, len: usize) -> (__m256, __m256) {
        let bits = |j: usize| K::scale_bits(&w[start + j.min(len - 1)]);
        let (b0, b1, b2, b3) = (bits(0), bits(1), bits(2), bits(3));
        let (b4, b5, b6, b7) = (bits(4), bits(5), bits(6), bits(7));
        // SAFETY: register-only operations; the caller guarantees AVX2 and F16C.
        unsafe {
            let pack = |f: fn((u16, u16)) -> u16| {
                _mm_setr_epi16(
                    f(b0) as i16,
                    f(b1) as i16,
                    f(b2) as i16,
                    f(b3) as i16,
                    f(b4) as i16,
                    f(b5) as i16,
                    f(b6) as i16,
                    f(b7) as i16,
                )
            };
            let d = _mm256_cvtph_ps(pack(|b| b.0));
            let dmin = if K::OFFSET_SHIFT.is_none() {
                _mm256_cvtph_ps(pack(|b| b.1))
            } else {
                _mm256_setzero_ps()
            };
            (d, dmin)
        }
    }

    /// Block `j` in lane `j`; lanes past `len` repeat the last block, as in
    /// [`KGroups::group_scales`].
    #[inline(always)]
    unsafe fn group_act_scales(a: &[BlockQ8K], start: usize, len: usize) -> __m256 {
        let d = |j: usize| a[start + j.min(len - 1)].d;
        // SAFETY: register-only operation; the caller guarantees AVX.
        unsafe { _mm256_setr_ps(d(0), d(1), d(2), d(3), d(4), d(5), d(6), d(7)) }
    }

    /// `d`, `dmin` and `ad` hold block `j` in lane `j`; the sums are taken apart into main and
    /// second sums in the same layout; lanes past `len` keep their value (a blend).
    #[inline(always)]
    unsafe fn add_group_terms(
        acc: __m256,
        sums: &PairSums,
        (d, dmin): (__m256, __m256),
        ad: __m256,
        len: usize,
    ) -> __m256 {
        // SAFETY: register-only operations; the caller guarantees AVX2.
        unsafe {
            // [M0 S0 M1 S1 | M4 S4 M5 S5] and [M2 S2 M3 S3 | M6 S6 M7 S7]...
            let lo = _mm256_castsi256_ps(_mm256_inserti128_si256::<1>(
                _mm256_castsi128_si256(sums[0]),
                sums[2],
            ));
            let hi = _mm256_castsi256_ps(_mm256_inserti128_si256::<1>(
                _mm256_castsi128_si256(sums[1]),
                sums[3],
            ));
            // ...to the main sums [M0 .. M7] and the second sums [S0 .. S7].
            let main = _mm256_castps_si256(_mm256_shuffle_ps::<0b10_00_10_00>(lo, hi));
            let second = _mm256_castps_si256(_mm256_shuffle_ps::<0b11_01_11_01>(lo, hi));
            // d·da and dmin·da, then times the sums: the twin's roundings, never fused.
            let dd = _mm256_mul_ps(d, ad);
            let terms = match K::OFFSET_SHIFT {
                Some(shift) => {
                    // main - (second << shift), wrapping as the twins.
                    let off = _mm256_sllv_epi32(second, _mm256_set1_epi32(shift as i32));
                    _mm256_mul_ps(dd, _mm256_cvtepi32_ps(_mm256_sub_epi32(main, off)))
                }
                None => {
                    let dm = _mm256_mul_ps(dmin, ad);
                    _mm256_sub_ps(
                        _mm256_mul_ps(dd, _mm256_cvtepi32_ps(main)),
                        _mm256_mul_ps(dm, _mm256_cvtepi32_ps(second)),
                    )
                }
            };
            let sum = _mm256_add_ps(acc, terms);
            if len == GROUP {
                sum
            } else {
                // Lane j takes the sum iff j < len.
                let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
                let take = _mm256_cmpgt_epi32(_mm256_set1_epi32(len as i32), lanes);
                _mm256_blendv_ps(acc, sum, _mm256_castsi256_ps(take))
            }
        }
    }
}

/// Weight rows per gemv tile: one. Tiles of two rows (sharing activation loads) spill the prepared
/// blocks of both out of the 16 ymm registers and measured 5–15% slower for Q3_K–Q6_K.
pub(crate) const GEMV_ROWS: usize = 1;
