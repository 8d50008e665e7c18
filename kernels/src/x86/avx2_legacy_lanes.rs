//! AVX2 building blocks of the legacy-format kernels (Q4_0 … Q8_0 with Q8_0/Q8_1 activations):
//! integer block dots summed eight blocks at a time, f16 scale gathers, and the driver that
//! keeps the float accumulation in the generic twins' order
//! ([`accumulate`](crate::generic::accumulate): block `b` in lane `b % 8`).
//!
//! Every function here is `#[inline(always)]` and `unsafe` only because it executes AVX2, FMA
//! and F16C instructions: callers are `#[target_feature]` leaves whose callers checked the CPU.

use core::arch::x86_64::*;

use crate::generic::accumulate::{BlockAccumulator, BLOCK_LANES};

/// One weight format paired with its activation format, as the driver needs it.
pub(crate) trait LegacyPairAvx2 {
    /// Weight block.
    type W;
    /// Activation block.
    type A;
    /// Per activation block work shared by every weight row (loaded quants, sums).
    type Prepared: Copy;

    /// Loads what every weight row needs from an activation block.
    ///
    /// # Safety
    /// The CPU supports AVX2, FMA and F16C.
    unsafe fn prepare(a: &Self::A) -> Self::Prepared;

    /// Eight i32 partial sums whose total is the block pair's exact integer dot.
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::prepare`].
    unsafe fn partials(w: &Self::W, a: &Self::Prepared) -> __m256i;

    /// The block's float term, computed exactly as the generic twin computes it.
    fn term(w: &Self::W, a: &Self::A, isum: i32) -> f32;

    /// The terms of eight consecutive blocks (lane `k` for block `k`), each lane computed with
    /// the same operations, in the same order, as [`LegacyPairAvx2::term`].
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::prepare`]; `w` and `a` hold at least eight blocks.
    unsafe fn terms8(w: &[Self::W], a: &[Self::A], isums: __m256) -> __m256;
}

/// Horizontal sum of eight i32 lanes (exact, so the order does not matter).
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn hsum_epi32(v: __m256i) -> i32 {
    // SAFETY: register-only AVX2/SSE2 operations; the caller guarantees AVX2.
    unsafe {
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }
}

/// `[sum(p[0]), …, sum(p[7])]`: the totals of eight vectors of eight i32 lanes, exact.
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
        let v = _mm_loadu_si128(qs.as_ptr() as *const __m128i);
        let both = _mm256_set_m128i(_mm_srli_epi16::<4>(v), v);
        _mm256_and_si256(both, _mm256_set1_epi8(0x0f))
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

/// Sums of pairs of i16 lanes widened to i32 (`madd` with ones).
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
pub(crate) unsafe fn widen_pairs(p16: __m256i) -> __m256i {
    // SAFETY: register-only AVX2 operation; the caller guarantees AVX2.
    unsafe { _mm256_madd_epi16(p16, _mm256_set1_epi16(1)) }
}

/// Weight rows handled together by [`gemv`].
const ROWS: usize = 4;

/// The dot product of `w` and `a` (as many blocks as both hold), in the generic twin's order.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
#[inline(always)]
pub(crate) unsafe fn vec_dot<P: LegacyPairAvx2>(w: &[P::W], a: &[P::A]) -> f32 {
    let nb = w.len().min(a.len());
    let mut out = [0.0f32];
    // SAFETY: forwarded; one row of `nb` blocks.
    unsafe { rows_dot::<P, 1>(&[&w[..nb]], &a[..nb], &mut out) };
    out[0]
}

/// `out[r] = vec_dot(row r, a)`, `w` holding `out.len()` rows of `a.len()` blocks; each output
/// has exactly the bits [`vec_dot`] gives, since each row runs the same operations in the same
/// order; the rows only share the activation loads.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; `w.len() >= out.len() * a.len()`.
#[inline(always)]
pub(crate) unsafe fn gemv<P: LegacyPairAvx2>(w: &[P::W], a: &[P::A], out: &mut [f32]) {
    let nb = a.len();
    if nb == 0 {
        out.fill(0.0);
        return;
    }
    let mut rows = w.chunks_exact(nb);
    let mut outs = out.chunks_exact_mut(ROWS);
    for o in outs.by_ref() {
        let r: [&[P::W]; ROWS] = [
            rows.next().unwrap_or(&[]),
            rows.next().unwrap_or(&[]),
            rows.next().unwrap_or(&[]),
            rows.next().unwrap_or(&[]),
        ];
        let mut res = [0.0f32; ROWS];
        // SAFETY: forwarded; four rows of `nb` blocks (the caller sized `w`).
        unsafe { rows_dot::<P, ROWS>(&r, a, &mut res) };
        o.copy_from_slice(&res);
    }
    for o in outs.into_remainder() {
        let r = rows.next().unwrap_or(&[]);
        let mut res = [0.0f32; 1];
        // SAFETY: forwarded; one row.
        unsafe { rows_dot::<P, 1>(&[r], a, &mut res) };
        *o = res[0];
    }
}

/// `R` rows against one activation row: block groups of eight go through SIMD lanes, the tail
/// blocks through the scalar accumulator, as the generic twin does them.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C; every row holds at least `a.len()` blocks.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn rows_dot<P: LegacyPairAvx2, const R: usize>(
    w: &[&[P::W]; R],
    a: &[P::A],
    out: &mut [f32; R],
) {
    let nb = a.len();
    if w.iter().any(|r| r.len() < nb) {
        // Unreachable through the table (ops sizes every row); keeps this function total.
        out.fill(f32::NAN);
        return;
    }
    let groups = nb / BLOCK_LANES;
    // SAFETY: AVX2/FMA/F16C guaranteed by the caller; every slice index below is within
    // `nb` blocks, which every row and `a` hold (checked above).
    unsafe {
        let mut acc = [_mm256_setzero_ps(); R];
        for g in 0..groups {
            let base = g * BLOCK_LANES;
            let ag = &a[base..base + BLOCK_LANES];
            let mut prep = [P::prepare(&ag[0]); BLOCK_LANES];
            for k in 1..BLOCK_LANES {
                prep[k] = P::prepare(&ag[k]);
            }
            for r in 0..R {
                let wg = &w[r][base..base + BLOCK_LANES];
                let mut p = [_mm256_setzero_si256(); BLOCK_LANES];
                for k in 0..BLOCK_LANES {
                    p[k] = P::partials(&wg[k], &prep[k]);
                }
                let isums = _mm256_cvtepi32_ps(sum8_epi32(&p));
                acc[r] = _mm256_add_ps(acc[r], P::terms8(wg, ag, isums));
            }
        }
        for r in 0..R {
            let mut lanes = [0.0f32; BLOCK_LANES];
            _mm256_storeu_ps(lanes.as_mut_ptr(), acc[r]);
            let mut tail = BlockAccumulator::from_lanes(lanes);
            for b in groups * BLOCK_LANES..nb {
                let isum = hsum_epi32(P::partials(&w[r][b], &P::prepare(&a[b])));
                tail.add(b, P::term(&w[r][b], &a[b], isum));
            }
            out[r] = tail.finish();
        }
    }
}
