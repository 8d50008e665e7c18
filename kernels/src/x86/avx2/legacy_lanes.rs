//! AVX2 building blocks of the legacy-format kernels (Q4_0 … Q8_0 with Q8_0/Q8_1 activations):
//! quant unpacking, the exact sums of eight blocks' integer partials, f16 scale gathers.
//!
//! Every function here is `#[inline(always)]` and `unsafe` only because it executes AVX2, FMA
//! and F16C instructions: callers are `#[target_feature]` leaves whose callers checked the CPU.

use core::arch::x86_64::*;

/// `[sum(p[0]), …, sum(p[7])]`: the totals of eight vectors of eight i32 lanes, exact, by
/// pairwise `hadd`s (six of them). [`sum8_epi32_folded`] is the other way; which is faster
/// depends on what else a kernel keeps the shuffle pipes busy with (measured per pair).
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn sum8_epi32(p: &[__m256i; 8]) -> __m256i {
    // SAFETY: register-only AVX2 operations; the caller guarantees AVX2.
    unsafe {
        // Per 128-bit half: pairwise sums, then sums of four, for four vectors at a time.
        let h01 = _mm256_hadd_epi32(p[0], p[1]);
        let h23 = _mm256_hadd_epi32(p[2], p[3]);
        let h45 = _mm256_hadd_epi32(p[4], p[5]);
        let h67 = _mm256_hadd_epi32(p[6], p[7]);
        let h0123 = _mm256_hadd_epi32(h01, h23); // [lo(p0..p3) | hi(p0..p3)]
        let h4567 = _mm256_hadd_epi32(h45, h67); // [lo(p4..p7) | hi(p4..p7)]
        let lo = _mm256_permute2x128_si256::<0x20>(h0123, h4567);
        let hi = _mm256_permute2x128_si256::<0x31>(h0123, h4567);
        _mm256_add_epi32(lo, hi)
    }
}

/// [`sum8_epi32`] another way: blocks `k` and `k + 4` first share a vector (the halves of `p[k]`
/// summed in the low 128 bits, those of `p[k + 4]` in the high; one cross-half shuffle and one
/// blend each), then two rounds of `hadd` (three in all).
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn sum8_epi32_folded(p: &[__m256i; 8]) -> __m256i {
    // SAFETY: register-only AVX2 operations; the caller guarantees AVX2.
    unsafe {
        // A closure called four times: the same sums written as a loop over an array came out
        // 3-7% slower (kernels_fastest), from how the compiler scheduled it.
        let fold = |k: usize| {
            let swapped = _mm256_permute2x128_si256::<0x21>(p[k], p[k + 4]);
            _mm256_add_epi32(_mm256_blend_epi32::<0xf0>(p[k], p[k + 4]), swapped)
        };
        let (t0, t1, t2, t3) = (fold(0), fold(1), fold(2), fold(3));
        _mm256_hadd_epi32(_mm256_hadd_epi32(t0, t1), _mm256_hadd_epi32(t2, t3))
    }
}

/// Eight f16 values (bit patterns) widened to f32, exactly.
///
/// # Safety
/// The CPU supports F16C.
#[inline(always)]
pub(crate) unsafe fn cvt_f16x8(bits: [u16; 8]) -> __m256 {
    // SAFETY: the load reads the 16 bytes of `bits`; the caller guarantees F16C.
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(bits.as_ptr() as *const __m128i)) }
}

/// 32 quants from 16 nibble bytes: low nibbles in bytes 0..16, high nibbles in bytes 16..32.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn nibbles32(qs: &[u8; 16]) -> __m256i {
    // SAFETY: the load reads exactly the 16 bytes of `qs`; the caller guarantees AVX2.
    unsafe {
        // The 16 bytes in both halves (a broadcast load, no shuffle), the high half shifted
        // right by four.
        let both = _mm256_broadcastsi128_si256(_mm_loadu_si128(qs.as_ptr() as *const __m128i));
        let shifted = _mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4));
        _mm256_and_si256(shifted, _mm256_set1_epi8(0x0f))
    }
}

/// Byte `j` is `0x10` where bit `j` of `qh` is set, else 0: the fifth bits of Q5 quants.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn fifth_bits32(qh: u32) -> __m256i {
    // SAFETY: register-only AVX2 operations; the caller guarantees AVX2.
    unsafe {
        let v = _mm256_set1_epi32(qh as i32);
        // Byte j takes byte j / 8 of qh (each 128-bit half sees all four bytes).
        let spread = _mm256_shuffle_epi8(
            v,
            _mm256_setr_epi64x(
                0x0000_0000_0000_0000,
                0x0101_0101_0101_0101,
                0x0202_0202_0202_0202,
                0x0303_0303_0303_0303,
            ),
        );
        let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
        let set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
        _mm256_and_si256(set, _mm256_set1_epi8(0x10))
    }
}

/// Loads 32 signed bytes.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn load_i8x32(qs: &[i8; 32]) -> __m256i {
    // SAFETY: the load reads exactly the 32 bytes of `qs`; the caller guarantees AVX2.
    unsafe { _mm256_loadu_si256(qs.as_ptr() as *const __m256i) }
}

/// 32 signed bytes sign-extended to i16: bytes 0..16 and 16..32.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn widen_i8x32(qs: &[i8; 32]) -> (__m256i, __m256i) {
    // SAFETY: the load reads exactly the 32 bytes of `qs`; the caller guarantees AVX2.
    unsafe {
        let v = load_i8x32(qs);
        (
            _mm256_cvtepi8_epi16(_mm256_castsi256_si128(v)),
            _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(v)),
        )
    }
}

/// Sums of pairs of i16 lanes widened to i32 (`madd` with ones).
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn widen_pairs(p16: __m256i) -> __m256i {
    // SAFETY: register-only AVX2 operation; the caller guarantees AVX2.
    unsafe { _mm256_madd_epi16(p16, _mm256_set1_epi16(1)) }
}

/// Two adjacent f16 fields (`lo` at the lower address) of up to eight blocks, widened to f32
/// (zero past the end): one 32-bit load per block instead of two 16-bit ones.
///
/// # Safety
/// The CPU supports AVX2 and F16C.
#[inline(always)]
pub(crate) unsafe fn gather_f16_pair<B>(
    blocks: &[B],
    field: impl Fn(&B) -> (u16, u16),
) -> (__m256, __m256) {
    let pair = |b: &B| {
        let (lo, hi) = field(b);
        (lo as u32 | (hi as u32) << 16) as i32
    };
    // SAFETY: register-only work; the caller guarantees AVX2 and F16C.
    unsafe {
        // Built in registers; a stack array reloaded whole would stall on store forwarding.
        let get = |k: usize| blocks.get(k).map_or(0, pair);
        let v = _mm256_setr_epi32(
            get(0),
            get(1),
            get(2),
            get(3),
            get(4),
            get(5),
            get(6),
            get(7),
        );
        let lo = _mm256_and_si256(v, _mm256_set1_epi32(0xffff));
        let hi = _mm256_srli_epi32::<16>(v);
        // Per 128-bit half: [lo0..lo3, hi0..hi3]; then the quarters reordered to lo | hi.
        let packed = _mm256_packus_epi32(lo, hi);
        let ordered = _mm256_permute4x64_epi64::<0b11_01_10_00>(packed);
        (
            _mm256_cvtph_ps(_mm256_castsi256_si128(ordered)),
            _mm256_cvtph_ps(_mm256_extracti128_si256::<1>(ordered)),
        )
    }
}

/// An f16 field of up to eight blocks, widened to f32 (zero past the end), built in general
/// registers: four values to a 64-bit register (integer ALUs), then two moves into the vector
/// unit. For kernels whose shuffle pipes are busy (Q8_0's sign extensions): Q8_0 vec_dot is 3–4%
/// slower with [`gather_f16_inserted`].
///
/// # Safety
/// The CPU supports AVX2 and F16C.
#[inline(always)]
pub(crate) unsafe fn gather_f16_packed<B>(blocks: &[B], field: impl Fn(&B) -> u16) -> __m256 {
    let get = |k: usize| blocks.get(k).map_or(0, |b| field(b) as u64);
    let lo = get(0) | get(1) << 16 | get(2) << 32 | get(3) << 48;
    let hi = get(4) | get(5) << 16 | get(6) << 32 | get(7) << 48;
    // SAFETY: register-only work; the caller guarantees AVX2 and F16C.
    unsafe { _mm256_cvtph_ps(_mm_set_epi64x(hi as i64, lo as i64)) }
}

/// An f16 field of up to eight blocks, widened to f32 (zero past the end), inserted lane by lane
/// straight from memory: a third of the instructions of [`gather_f16_packed`], on the shuffle
/// pipes. For kernels with shuffle pipes to spare: Q4_0 vec_dot is 3–4% faster this way, Q5_0
/// 1–2%.
///
/// # Safety
/// The CPU supports AVX2 and F16C.
#[inline(always)]
pub(crate) unsafe fn gather_f16_inserted<B>(blocks: &[B], field: impl Fn(&B) -> u16) -> __m256 {
    let get = |k: usize| blocks.get(k).map_or(0, |b| field(b) as i32);
    // SAFETY: register-only work; the caller guarantees AVX2 and F16C.
    unsafe {
        let mut v = _mm_cvtsi32_si128(get(0));
        v = _mm_insert_epi16::<1>(v, get(1));
        v = _mm_insert_epi16::<2>(v, get(2));
        v = _mm_insert_epi16::<3>(v, get(3));
        v = _mm_insert_epi16::<4>(v, get(4));
        v = _mm_insert_epi16::<5>(v, get(5));
        v = _mm_insert_epi16::<6>(v, get(6));
        v = _mm_insert_epi16::<7>(v, get(7));
        _mm256_cvtph_ps(v)
    }
}
