//! Building blocks of the AVX-512 (F/BW/VL + VNNI) K-quant kernels: the integer block dots every
//! K type reduces to, and this instruction set's part (group scales and float terms) of the tile
//! walk behind vec_dot, gemv and gemm.
//!
//! Each K-quant kernel *prepares* a weight block (its 256 quants unpacked to unsigned bytes in
//! value order, four 64-byte vectors, plus its scales spread to one i16 per quant pair) and then
//! takes exact integer dots with Q8_K activation blocks: `vpmaddubsw` sums quant pairs to i16 (a
//! weight byte is at most 63, so a pair sum is at most `2·63·128 = 16128`: never saturates, -128
//! activations included), and VNNI `vpdpwssd` multiplies those pairs by their sub-block scales and
//! adds them to i32 lanes in one instruction. The second integer sum of a block (the minimum term
//! of Q2_K/Q4_K/Q5_K, the offset term of Q3_K/Q6_K) is one `vpmaddwd` over the activation's
//! `bsums`.
//!
//! The float side follows the scalar twins exactly, eight blocks at once: the integer sums of
//! eight consecutive blocks are reduced into one vector (main and second sum interleaved, block
//! `j` in lanes `2j`, `2j + 1`), converted, multiplied by `d·da` / `dmin·da` with the twin's
//! roundings (separate multiplies and subtraction, never fused), and added to lane `j` of the
//! eight block lanes of [`crate::generic::accumulate`]. Block `8g + j` is the only term lane `j`
//! receives in group `g`, so the lanes see the twin's additions in the twin's order; a short last
//! group adds under a mask. Integer sums are exact in any order, so every output is bit-identical
//! to the scalar twin, and gemv/gemm (tiles of several rows or activation rows) are bit-identical
//! to vec_dot.

use core::arch::x86_64::*;

use crate::blocks::BlockQ8K;
use crate::x86::k_tile_walk::{KGroups, PairSums, GROUP};

/// A K-quant weight type as the AVX-512 drivers see it.
pub(crate) trait KWeightAvx512 {
    /// The weight block struct.
    type Block;
    /// A weight block unpacked for integer dots.
    type Prepared;

    /// `None` for the "scale and minimum" types, whose block term is
    /// `(d·da)·main - (dmin·da)·second`; `Some(s)` for the symmetric ones, whose block term is
    /// `(d·da)·(main - (second << s))` (wrapping, as the twins compute it).
    const OFFSET_SHIFT: Option<u32>;

    /// The f16 bits of `d` (low half) and `dmin` (high half; zero for symmetric types).
    fn scale_bits(w: &Self::Block) -> u32;

    /// Unpacks one weight block.
    ///
    /// # Safety
    /// The CPU supports AVX-512 F/BW/VL and VNNI.
    unsafe fn prepare(w: &Self::Block) -> Self::Prepared;

    /// The integer sums of a prepared block against one activation block, as 8 i32 lanes
    /// summing to the main sum and 8 summing to the second sum.
    ///
    /// # Safety
    /// The CPU supports AVX-512 F/BW/VL and VNNI.
    unsafe fn partials(p: &Self::Prepared, a: &BlockQ8K) -> (__m256i, __m256i);
}

/// Loads the 64 activation quants starting at value `64k` (`k` in 0..4).
#[inline(always)]
pub(crate) unsafe fn load_act64(a: &BlockQ8K, k: usize) -> __m512i {
    debug_assert!(k < 4);
    // SAFETY: `64k + 64 <= 256`, so the unaligned 64-byte load stays inside `a.qs`.
    unsafe { _mm512_loadu_si512(a.qs.as_ptr().add(64 * k) as *const _) }
}

/// Broadcasts 32 bytes at `p` to both halves of a vector.
#[inline(always)]
pub(crate) unsafe fn broadcast32(p: *const u8) -> __m512i {
    // SAFETY: the caller guarantees 32 readable bytes at `p` and AVX-512 F.
    unsafe { _mm512_broadcast_i64x4(_mm256_loadu_si256(p as *const __m256i)) }
}

/// A vector with `lo` in every byte of its low half and `hi` in every byte of its high half.
#[inline(always)]
pub(crate) unsafe fn bytes_lo_hi(lo: u8, hi: u8) -> __m512i {
    // SAFETY: register-only operations; the caller guarantees AVX-512 F.
    unsafe { _mm512_inserti64x4::<1>(_mm512_set1_epi8(lo as i8), _mm256_set1_epi8(hi as i8)) }
}

/// A vector with `lo` in every i16 of its low half and `hi` in every i16 of its high half.
#[inline(always)]
pub(crate) unsafe fn words_lo_hi(lo: i16, hi: i16) -> __m512i {
    // SAFETY: register-only operations; the caller guarantees AVX-512 F.
    unsafe { _mm512_inserti64x4::<1>(_mm512_set1_epi16(lo), _mm256_set1_epi16(hi)) }
}

/// Spreads 8 sub-block scales (i16 lanes of `s8`, sub-blocks of 32) over the i16 pairs of the
/// four 64-value vectors: entry `k` holds scale `2k` in its low half and `2k + 1` in its high
/// half.
#[inline(always)]
pub(crate) unsafe fn spread_scales32(s8: __m128i) -> [__m512i; 4] {
    // SAFETY: register-only operations; the caller guarantees AVX-512 F/BW.
    unsafe {
        let s = _mm512_zextsi128_si512(s8);
        let mut out = [_mm512_setzero_si512(); 4];
        for (k, o) in (0i16..).zip(out.iter_mut()) {
            *o = _mm512_permutexvar_epi16(words_lo_hi(2 * k, 2 * k + 1), s);
        }
        out
    }
}

/// Spreads 16 sub-block scales (i16 lanes of `s16`, sub-blocks of 16) over the i16 pairs of
/// the four 64-value vectors: in entry `k`, 128-bit lane `l` holds scale `4k + l`.
#[inline(always)]
pub(crate) unsafe fn spread_scales16(s16: __m256i) -> [__m512i; 4] {
    // SAFETY: register-only operations; the caller guarantees AVX-512 F/BW.
    unsafe {
        let s = _mm512_zextsi256_si512(s16);
        // i16 lane e lies in 128-bit lane e / 8.
        let lane = _mm512_set_epi64(
            0x0003_0003_0003_0003,
            0x0003_0003_0003_0003,
            0x0002_0002_0002_0002,
            0x0002_0002_0002_0002,
            0x0001_0001_0001_0001,
            0x0001_0001_0001_0001,
            0,
            0,
        );
        let mut out = [_mm512_setzero_si512(); 4];
        for (k, o) in (0i16..).zip(out.iter_mut()) {
            *o = _mm512_permutexvar_epi16(_mm512_add_epi16(lane, _mm512_set1_epi16(4 * k)), s);
        }
        out
    }
}

/// The 8 scales (i16 lanes) and the 8 minimums spread over the 16 per-16 activation sums
/// (`mn[j / 2]` at i16 lane `j`) of a Q4_K/Q5_K block, from its first 16 bytes (`d`, `dmin`,
/// then the 12 packed bytes that [`crate::generic::q4_k::scales_mins_k4`] reads).
///
/// Bytes 0–3 of the packed 12 hold the low 6 bits of scales 0–3, bytes 4–7 those of minimums
/// 0–3; scales and minimums 4–7 keep their low 4 bits in the low and high nibbles of bytes 8–11
/// and their top 2 bits in the top bits of bytes 0–3 (scales) and 4–7 (minimums).
#[inline(always)]
pub(crate) unsafe fn scales_mins_k4(head: &[u8; 16]) -> (__m128i, __m256i) {
    // SAFETY: one 16-byte load from a 16-byte array; register operations; the caller guarantees
    // AVX-512 BW/VL.
    unsafe {
        let v = _mm_loadu_si128(head.as_ptr() as *const __m128i);
        // Packed byte k is byte 4 + k of `head`. Lanes 0–7: scales, lanes 8–15: minimums.
        let low = _mm_shuffle_epi8(
            v,
            _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15),
        );
        let top = _mm_shuffle_epi8(
            v,
            _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11),
        );
        // Minimums 4–7 take the high nibbles: shift those two 16-bit words right by 4 (bits
        // dragged in from the neighbouring byte land above bit 3, which the mask drops).
        let low = _mm_srlv_epi16(low, _mm_setr_epi16(0, 0, 0, 0, 0, 0, 4, 4));
        let low = _mm_and_si128(
            low,
            _mm_setr_epi8(
                63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15,
            ),
        );
        // Top 2 bits (bits 6, 7) to bits 4, 5 of lanes 4–7 and 12–15.
        let top = _mm_and_si128(
            _mm_srli_epi16::<2>(top),
            _mm_setr_epi8(0, 0, 0, 0, 48, 48, 48, 48, 0, 0, 0, 0, 48, 48, 48, 48),
        );
        let all = _mm_or_si128(low, top);
        (
            _mm_cvtepu8_epi16(all),
            _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(all, all)),
        )
    }
}

/// `Σ_e sc(e)·q[e]·a[e]` over a block's 256 values, with the scales spread by
/// [`spread_scales32`] or [`spread_scales16`], as 8 i32 lanes.
#[inline(always)]
pub(crate) unsafe fn dot_scaled(q: &[__m512i; 4], sc: &[__m512i; 4], a: &BlockQ8K) -> __m256i {
    // SAFETY: register operations and in-bounds activation loads; the caller guarantees
    // AVX-512 F/BW and VNNI.
    unsafe {
        let z = _mm512_setzero_si512();
        let p0 = _mm512_maddubs_epi16(q[0], load_act64(a, 0));
        let p1 = _mm512_maddubs_epi16(q[1], load_act64(a, 1));
        let p2 = _mm512_maddubs_epi16(q[2], load_act64(a, 2));
        let p3 = _mm512_maddubs_epi16(q[3], load_act64(a, 3));
        // Two chains of two VNNI steps: shorter latency than one chain of four.
        let s01 = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(z, p0, sc[0]), p1, sc[1]);
        let s23 = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(z, p2, sc[2]), p3, sc[3]);
        let s = _mm512_add_epi32(s01, s23);
        _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64::<1>(s))
    }
}

/// The AVX2 bsums dot (the AVX-512 tier has AVX2): one copy for both drivers.
pub(crate) use crate::x86::avx2::k_blocks::dot_bsums;

/// The AVX-512 kernels of K-quant type `K` as the shared walk sees them.
pub(crate) struct Avx512Groups<K>(core::marker::PhantomData<K>);

impl<K: KWeightAvx512> KGroups for Avx512Groups<K> {
    type Block = K::Block;
    type Prepared = K::Prepared;
    /// `(d, dmin)` pairs.
    type WScales = __m512;
    type ActScales = __m512;

    #[inline(always)]
    unsafe fn prepare(w: &K::Block) -> K::Prepared {
        // SAFETY: forwarded (AVX-512 F/BW/VL and VNNI).
        unsafe { K::prepare(w) }
    }

    #[inline(always)]
    unsafe fn partials(p: &K::Prepared, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: forwarded.
        unsafe { K::partials(p, a) }
    }

    /// The `(d, dmin)` pairs as f32, block `j` in lanes `2j`, `2j + 1` (lanes past `len` zero).
    #[allow(clippy::needless_range_loop)] // plain index loops inline into the SIMD leaf
    #[inline(always)]
    unsafe fn group_scales(w: &[K::Block], start: usize, len: usize) -> __m512 {
        let mut bits = [0u32; GROUP];
        for j in 0..len {
            bits[j] = K::scale_bits(&w[start + j]);
        }
        // SAFETY: 32 bytes read from a 32-byte array; the caller guarantees AVX-512 F.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(bits.as_ptr() as *const __m256i)) }
    }

    /// Each block's scale in two lanes (`2j`, `2j + 1`).
    #[allow(clippy::needless_range_loop)] // plain index loops inline into the SIMD leaf
    #[inline(always)]
    unsafe fn group_act_scales(a: &[BlockQ8K], start: usize, len: usize) -> __m512 {
        let mut d = [0.0f32; GROUP];
        for j in 0..len {
            d[j] = a[start + j].d;
        }
        // SAFETY: 32 bytes read from a 32-byte array; register operations; the caller guarantees
        // AVX-512 F.
        unsafe {
            let v = _mm512_castps256_ps512(_mm256_loadu_ps(d.as_ptr()));
            let dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
            _mm512_permutexvar_ps(dup, v)
        }
    }

    /// Main and second sum of block `j` go to lanes `2j`, `2j + 1`, next to its `(d, dmin)` pair
    /// and activation scale; the terms are added under a mask of `len` lanes.
    #[inline(always)]
    unsafe fn add_group_terms(
        acc: __m256,
        sums: &PairSums,
        scales: __m512,
        ad: __m512,
        len: usize,
    ) -> __m256 {
        // SAFETY: register-only operations; the caller guarantees AVX-512 F/VL.
        unsafe {
            let lo = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(sums[0]), sums[1]);
            let hi = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(sums[2]), sums[3]);
            // Lanes 2j, 2j + 1: main and second sum of block j.
            let mut z = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi);
            if let Some(shift) = K::OFFSET_SHIFT {
                // Even lanes: main - (second << shift), wrapping as the twins.
                let second = _mm512_srli_epi64::<32>(z);
                let off = _mm512_sllv_epi32(second, _mm512_set1_epi32(shift as i32));
                z = _mm512_sub_epi32(z, off);
            }
            // Lanes 2j, 2j + 1: d·da and dmin·da, then times the sums (the twin's roundings).
            let dd = _mm512_mul_ps(scales, ad);
            let prod = _mm512_mul_ps(dd, _mm512_cvtepi32_ps(z));
            let terms = if K::OFFSET_SHIFT.is_none() {
                // Even lanes: (d·da)·main - (dmin·da)·second.
                _mm512_sub_ps(prod, _mm512_movehdup_ps(prod))
            } else {
                prod
            };
            let evens = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 14, 12, 10, 8, 6, 4, 2, 0);
            let t = _mm512_castps512_ps256(_mm512_permutexvar_ps(evens, terms));
            let mask = (((1u32 << len) - 1) & 0xff) as __mmask8;
            _mm256_mask_add_ps(acc, mask, acc, t)
        }
    }
}

/// Weight rows per gemv tile (each activation block loaded once for all of them). Not tuned: this
/// tier's speed cannot be measured without an AVX-512 machine.
pub(crate) const GEMV_ROWS: usize = 4;
