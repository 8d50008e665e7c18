//! AVX-512 building blocks of the legacy-format kernels (Q4_0 … Q8_0 with Q8_0/Q8_1 activations):
//! quants of four blocks per pair of 512-bit vectors, and the exact per-block totals of VNNI
//! partial sums.
//!
//! Layout ("quarters"): four blocks `j = 0..4` go into two vectors, the first holding elements
//! `0..16` of block `j` in its 128-bit chunk `j`, the second elements `16..32`. `vpdpbusd` sums
//! four adjacent byte products into one i32 lane, so each chunk's four lanes belong to one block.
//!
//! Every function here is `#[inline(always)]` and `unsafe` only because it executes AVX-512
//! instructions: callers are `#[target_feature]` leaves whose callers checked the CPU.

use core::arch::x86_64::*;

use half::f16;

use crate::x86::avx2::legacy_lanes::cvt_f16x8;

/// Four 16-byte chunks, chunk `j` from `p[j]`.
///
/// # Safety
/// The CPU supports AVX-512 F; each `p[j]` points at 16 readable bytes.
#[inline(always)]
unsafe fn load_4x16(p: [*const u8; 4]) -> __m512i {
    // SAFETY: the caller guarantees 16 readable bytes at every pointer and AVX-512 F.
    unsafe {
        let v = _mm512_castsi128_si512(_mm_loadu_si128(p[0] as *const __m128i));
        let v = _mm512_inserti32x4::<1>(v, _mm_loadu_si128(p[1] as *const __m128i));
        let v = _mm512_inserti32x4::<2>(v, _mm_loadu_si128(p[2] as *const __m128i));
        _mm512_inserti32x4::<3>(v, _mm_loadu_si128(p[3] as *const __m128i))
    }
}

/// The 32 bytes of four blocks in quarters: `(elements 0..16, elements 16..32)`.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
pub(crate) unsafe fn bytes_4x32(qs: [&[i8; 32]; 4]) -> (__m512i, __m512i) {
    let lo = qs.map(|q| q.as_ptr() as *const u8);
    // SAFETY: each array holds 32 bytes, so 16 are readable at its start and at offset 16;
    // the caller guarantees AVX-512 F.
    unsafe {
        let hi = lo.map(|p| p.add(16));
        (load_4x16(lo), load_4x16(hi))
    }
}

/// The nibbles of four blocks in quarters: low nibbles (elements 0..16) and high nibbles
/// (elements 16..32), as bytes `0..=15`.
///
/// # Safety
/// The CPU supports AVX-512 F and BW.
#[inline(always)]
pub(crate) unsafe fn nibbles_4x32(qs: [&[u8; 16]; 4]) -> (__m512i, __m512i) {
    // SAFETY: each array holds the 16 bytes loaded; the caller guarantees the features.
    unsafe {
        let v = load_4x16(qs.map(|q| q.as_ptr()));
        let m = _mm512_set1_epi8(0x0f);
        (
            _mm512_and_si512(v, m),
            _mm512_and_si512(_mm512_srli_epi16::<4>(v), m),
        )
    }
}

/// Adds `0x10` to the quants of four blocks (in quarters, each below `0x10`) whose fifth bit is
/// set: bit `i` of `qh[j]` belongs to element `i` of block `j`.
///
/// # Safety
/// The CPU supports AVX-512 F and BW.
#[inline(always)]
pub(crate) unsafe fn with_fifth_bits(lo: __m512i, hi: __m512i, qh: [u32; 4]) -> (__m512i, __m512i) {
    let mut k_lo = 0u64;
    let mut k_hi = 0u64;
    for (j, h) in qh.iter().enumerate() {
        k_lo |= ((h & 0xffff) as u64) << (16 * j);
        k_hi |= ((h >> 16) as u64) << (16 * j);
    }
    // SAFETY: register-only operations; the caller guarantees the features.
    unsafe {
        let bit = _mm512_set1_epi8(0x10);
        (
            _mm512_or_si512(lo, _mm512_maskz_mov_epi8(k_lo, bit)),
            _mm512_or_si512(hi, _mm512_maskz_mov_epi8(k_hi, bit)),
        )
    }
}

/// Flips the sign bit of every byte: signed `q` becomes unsigned `q + 128`.
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
pub(crate) unsafe fn bias_128(v: __m512i) -> __m512i {
    // SAFETY: register-only operation; the caller guarantees AVX-512 F.
    unsafe { _mm512_xor_si512(v, _mm512_set1_epi8(0x80u8 as i8)) }
}

/// `-bias * sum(a)` over each group of four bytes of the quarter pair `(lo, hi)` (a block's
/// share of the correction in every i32 lane of its chunk): the initial value that turns
/// `dpbusd` of biased weights into the dot of the true weights.
///
/// # Safety
/// The CPU supports AVX-512 F and VNNI.
#[inline(always)]
pub(crate) unsafe fn neg_bias_sums(bias: u8, lo: __m512i, hi: __m512i) -> __m512i {
    // SAFETY: register-only operations; the caller guarantees the features.
    unsafe {
        let b = _mm512_set1_epi8(bias as i8);
        let s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), b, lo);
        let s = _mm512_dpbusd_epi32(s, b, hi);
        _mm512_sub_epi32(_mm512_setzero_si512(), s)
    }
}

/// `init + sum(w * a)` per i32 lane over a quarter pair: unsigned weight bytes × signed
/// activation bytes, exact (at most `8 * 255 * 128` per lane plus `init`).
///
/// # Safety
/// The CPU supports AVX-512 F and VNNI.
#[inline(always)]
pub(crate) unsafe fn dot_quarters(
    init: __m512i,
    w: (__m512i, __m512i),
    a: (__m512i, __m512i),
) -> __m512i {
    // SAFETY: register-only operations; the caller guarantees the features.
    unsafe { _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init, w.0, a.0), w.1, a.1) }
}

/// The eight block totals of two vectors in quarters (`s0` chunk `j` = block `j`, `s1` chunk `j`
/// = block `4 + j`), lane `k` = block `k`. Exact (integer adds).
///
/// # Safety
/// The CPU supports AVX-512 F.
#[inline(always)]
pub(crate) unsafe fn block_totals8(s0: __m512i, s1: __m512i) -> __m256i {
    // SAFETY: register-only operations; the caller guarantees AVX-512 F.
    unsafe {
        // Per chunk: [a0 + a2, b0 + b2, a1 + a3, b1 + b3] (a from s0, b from s1).
        let t = _mm512_add_epi32(_mm512_unpacklo_epi32(s0, s1), _mm512_unpackhi_epi32(s0, s1));
        // Per chunk: lane 0 = total of s0's chunk, lane 1 = total of s1's chunk.
        let t = _mm512_add_epi32(t, _mm512_shuffle_epi32::<_MM_PERM_BADC>(t));
        let idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
        _mm512_castsi512_si256(_mm512_permutexvar_epi32(idx, t))
    }
}

/// An f16 field of up to eight blocks as bit patterns, zero past the end.
///
/// Each field is a volatile read: LLVM otherwise merges the strided loads of 32-bit field pairs
/// into `vpgatherdd`, which Bochs 2.7 (the only AVX-512 CPU the tests have) raises #UD on, and
/// which is slower than eight plain loads on CPUs with the Gather Data Sampling microcode fix.
#[inline(always)]
pub(crate) fn f16_bits8<B>(blocks: &[B], field: impl Fn(&B) -> &f16) -> [u16; 8] {
    let mut bits = [0u16; 8];
    for (o, b) in bits.iter_mut().zip(blocks) {
        // SAFETY: the pointer comes from a reference, so it is valid and aligned for an f16.
        *o = unsafe { core::ptr::read_volatile(field(b)) }.to_bits();
    }
    bits
}

/// Two f16 fields of up to eight blocks (read as [`f16_bits8`] reads them), widened to f32: lane
/// `k` for `blocks[k]`, zero past the end.
///
/// # Safety
/// The CPU supports F16C.
#[inline(always)]
pub(crate) unsafe fn f16_fields8<B>(
    blocks: &[B],
    first: impl Fn(&B) -> &f16,
    second: impl Fn(&B) -> &f16,
) -> (__m256, __m256) {
    // SAFETY: the caller guarantees F16C.
    unsafe {
        (
            cvt_f16x8(f16_bits8(blocks, first)),
            cvt_f16x8(f16_bits8(blocks, second)),
        )
    }
}
