//! AVX2 building blocks of the row-interleaved (x8) products, used by the AVX-512 pairs too:
//! activation words broadcast to every row's lane, f16 scales, the unpacking of nibble words
//! and of per-row scale bytes.
//!
//! Every function here is `#[inline(always)]` and `unsafe` only because it executes AVX2 and
//! F16C instructions: callers are `#[target_feature]` leaves whose callers checked the CPU.

use core::arch::x86_64::*;

use crate::blocks_x8::X8_ROWS;
use crate::x8_walk::RowLanes;

/// Eight rows' floats in one register (AVX; every x86 tier with x8 products has it).
impl RowLanes for __m256 {
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_setzero_ps() }
    }

    #[inline(always)]
    unsafe fn add(self, other: __m256) -> __m256 {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_add_ps(self, other) }
    }

    #[inline(always)]
    unsafe fn store(self, out: &mut [f32; X8_ROWS]) {
        // SAFETY: writes the eight floats of `out`; the caller guarantees AVX.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), self) }
    }
}

/// Four activation quants (bytes `4g..4g+4` of `qs`) in every 32-bit lane.
///
/// # Safety
/// The CPU supports AVX2; `qs` holds at least `4g + 4` bytes.
#[inline(always)]
pub(crate) unsafe fn word_in_lanes(qs: &[i8], g: usize) -> __m256i {
    debug_assert!(qs.len() >= 4 * g + 4);
    // SAFETY: reads four bytes inside `qs` (the caller's promise).
    unsafe {
        _mm256_set1_epi32(core::ptr::read_unaligned(
            qs.as_ptr().add(4 * g) as *const i32
        ))
    }
}

/// [`word_in_lanes`] as one `vpbroadcastd` from memory, always: left to itself the compiler may
/// merge a block's eight word loads into one vector load and two shuffles per word.
///
/// # Safety
/// The CPU supports AVX2; `qs` holds at least `4g + 4` bytes.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn word_from_memory(qs: &[i8], g: usize) -> __m256i {
    debug_assert!(qs.len() >= 4 * g + 4);
    let v: __m256i;
    // SAFETY: reads the four bytes at `qs[4g..4g + 4]` (the caller's promise), writes only `v`.
    unsafe {
        core::arch::asm!(
            "vpbroadcastd {v}, dword ptr [{p}]",
            p = in(reg) qs.as_ptr().add(4 * g),
            v = out(ymm_reg) v,
            options(pure, readonly, nostack, preserves_flags),
        );
    }
    v
}

/// An f16 (bit pattern) widened to f32 in every lane, exactly.
///
/// # Safety
/// The CPU supports AVX2 and F16C.
#[inline(always)]
pub(crate) unsafe fn f16_in_lanes(bits: u16) -> __m256 {
    // SAFETY: register-only F16C/AVX2 operations.
    unsafe { _mm256_broadcastss_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32))) }
}

/// Eight f16 values widened to f32, exactly.
///
/// # Safety
/// The CPU supports F16C.
#[inline(always)]
pub(crate) unsafe fn f16x8(v: &[half::f16; 8]) -> __m256 {
    // SAFETY: reads the 16 bytes of `v`; the caller guarantees F16C.
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(v.as_ptr() as *const __m128i)) }
}

/// The 32 bytes at `p` (a word interleave's word `w`: `p = &qs[32w..]`).
///
/// # Safety
/// The CPU supports AVX; `p` holds at least 32 bytes.
#[inline(always)]
pub(crate) unsafe fn load32<T>(p: &[T]) -> __m256i {
    debug_assert!(core::mem::size_of_val(p) >= 32);
    // SAFETY: reads 32 bytes inside `p` (the caller's promise).
    unsafe { _mm256_loadu_si256(p.as_ptr() as *const __m256i) }
}

/// The eight nibble words of a word-interleaved 4-bit block: word `i`'s low nibbles are values
/// `4i..4i+4` (`q[i]`), its high nibbles values `16+4i..` (`q[i + 4]`).
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn nibble_words(qs: &[u8; 128]) -> [__m256i; 8] {
    // SAFETY: each load reads 32 of the 128 bytes; register-only AVX2 otherwise.
    unsafe {
        let low = _mm256_set1_epi8(0x0f);
        let mut q = [_mm256_setzero_si256(); 8];
        for i in 0..4 {
            let v = load32(&qs[32 * i..]);
            q[i] = _mm256_and_si256(v, low);
            q[i + 4] = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
        }
        q
    }
}

/// The exact integer dot products of eight rows' unsigned quant words (`q[g]`: word `g` of
/// every row, row `k` in lane `k`; every byte at most 31) with 32 signed activation bytes:
/// four-byte activation words broadcast from memory to every lane ([`word_from_memory`]),
/// `maddubs` summed four at a time in 16 bits (at most `4·2·31·128 = 31744`), then widened.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn word_dot(q: &[__m256i; 8], a: &[i8; 32]) -> __m256i {
    // SAFETY: register-only AVX2 operations and four-byte reads inside `a`.
    unsafe {
        let ones = _mm256_set1_epi16(1);
        let mut halves = [_mm256_setzero_si256(); 2];
        for (h, half) in halves.iter_mut().enumerate() {
            let mut s = _mm256_maddubs_epi16(q[4 * h], word_from_memory(a, 4 * h));
            for (g, qg) in q.iter().enumerate().take(4 * h + 4).skip(4 * h + 1) {
                s = _mm256_add_epi16(s, _mm256_maddubs_epi16(*qg, word_from_memory(a, g)));
            }
            *half = _mm256_madd_epi16(s, ones);
        }
        _mm256_add_epi32(halves[0], halves[1])
    }
}

/// Where a K-quant x8 product reads a super-block's unpacked quant words (word `j`: values
/// `4j..4j+4` of the eight rows) and its sub-block scales (as 16-bit pairs, one per row lane):
/// a ready copy shared by many activation rows, or the x8 block itself for one.
pub(crate) trait KWords {
    /// Quant word `j`.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    unsafe fn word(&self, j: usize) -> __m256i;

    /// Sub-block `s`'s scale of each row, in both 16-bit halves of the row's lane.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    unsafe fn scale(&self, s: usize) -> __m256i;
}

/// Eight bytes (one per row) into both 16-bit halves of each row's lane, zero-extended, or
/// sign-extended with `SIGNED`.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn byte_per_row_to_pairs<const SIGNED: bool>(b: &[u8; 8]) -> __m256i {
    // SAFETY: reads the eight bytes of `b`; register-only AVX2 otherwise.
    unsafe {
        let v = _mm256_set1_epi64x(core::ptr::read_unaligned(b.as_ptr() as *const i64));
        const Z: i8 = -128;
        if SIGNED {
            // Each byte into the high half of its 16-bit slots, then shifted down with its sign.
            let spread = _mm256_setr_epi8(
                Z, 0, Z, 0, Z, 1, Z, 1, Z, 2, Z, 2, Z, 3, Z, 3, //
                Z, 4, Z, 4, Z, 5, Z, 5, Z, 6, Z, 6, Z, 7, Z, 7,
            );
            _mm256_srai_epi16::<8>(_mm256_shuffle_epi8(v, spread))
        } else {
            let spread = _mm256_setr_epi8(
                0, Z, 0, Z, 1, Z, 1, Z, 2, Z, 2, Z, 3, Z, 3, Z, //
                4, Z, 4, Z, 5, Z, 5, Z, 6, Z, 6, Z, 7, Z, 7, Z,
            );
            _mm256_shuffle_epi8(v, spread)
        }
    }
}
