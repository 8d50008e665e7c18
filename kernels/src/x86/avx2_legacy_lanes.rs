//! AVX2 building blocks of the legacy-format kernels (Q4_0 … Q8_0 with Q8_0/Q8_1 activations):
//! integer block dots summed eight blocks at a time, f16 scale gathers, and the driver that
//! keeps the float accumulation in the generic twins' order
//! ([`accumulate`](crate::generic::accumulate): block `b` in lane `b % 8`).
//!
//! Every function here is `#[inline(always)]` and `unsafe` only because it executes AVX2, FMA
//! and F16C instructions: callers are `#[target_feature]` leaves whose callers checked the CPU.

use core::arch::x86_64::*;

use crate::generic::accumulate::{reduce8, BLOCK_LANES};

/// One weight format paired with its activation format, as the driver needs it.
///
/// The driver works on groups of up to eight consecutive blocks, block `base + k` in lane `k`
/// (= lane `(base + k) % 8` of the twin's accumulator). A short last group leaves the lanes
/// past its end with a term of exactly `+0.0`, which leaves an accumulator lane unchanged
/// bit for bit: lanes start at `+0.0` and a sum is `-0.0` only when both addends are.
pub(crate) trait LegacyPairAvx2 {
    /// Weight block.
    type W;
    /// Activation block.
    type A;
    /// Per activation block work shared by every weight row (loaded quants, sums).
    type Prepared: Copy;
    /// Per group of activation blocks: their scales, shared by every weight row.
    type ActScales: Copy;

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

    /// The scales of up to eight activation blocks, lane `k` for `a[k]`, zero past the end.
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::prepare`].
    unsafe fn act_scales(a: &[Self::A]) -> Self::ActScales;

    /// The float terms of up to eight blocks (lane `k` for `w[k]`), each computed with the
    /// operations of the generic twin's block term, in its order; lanes past `w.len()` are
    /// `+0.0` (their `isums` are 0 and their activation scales 0).
    ///
    /// # Safety
    /// As [`LegacyPairAvx2::prepare`].
    unsafe fn terms(w: &[Self::W], a: &Self::ActScales, isums: __m256) -> __m256;
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

/// `R` rows against one activation row, in groups of eight blocks (the last one possibly short).
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C.
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
    // SAFETY: AVX2/FMA/F16C guaranteed by the caller; every slice index below is within
    // `nb` blocks, which every row and `a` hold (checked above).
    unsafe {
        let mut acc = [_mm256_setzero_ps(); R];
        let full = nb - nb % BLOCK_LANES;
        for (g, ag) in a[..full].chunks_exact(BLOCK_LANES).enumerate() {
            let base = g * BLOCK_LANES;
            let Ok(ag) = <&[P::A; BLOCK_LANES]>::try_from(ag) else {
                continue; // unreachable: chunks_exact
            };
            let prep: [P::Prepared; BLOCK_LANES] = [
                P::prepare(&ag[0]),
                P::prepare(&ag[1]),
                P::prepare(&ag[2]),
                P::prepare(&ag[3]),
                P::prepare(&ag[4]),
                P::prepare(&ag[5]),
                P::prepare(&ag[6]),
                P::prepare(&ag[7]),
            ];
            let scales = P::act_scales(ag);
            for r in 0..R {
                let Ok(wg) = <&[P::W; BLOCK_LANES]>::try_from(&w[r][base..base + BLOCK_LANES])
                else {
                    continue; // unreachable: every row holds `nb` blocks
                };
                let p = [
                    P::partials(&wg[0], &prep[0]),
                    P::partials(&wg[1], &prep[1]),
                    P::partials(&wg[2], &prep[2]),
                    P::partials(&wg[3], &prep[3]),
                    P::partials(&wg[4], &prep[4]),
                    P::partials(&wg[5], &prep[5]),
                    P::partials(&wg[6], &prep[6]),
                    P::partials(&wg[7], &prep[7]),
                ];
                let isums = _mm256_cvtepi32_ps(sum8_epi32(&p));
                acc[r] = _mm256_add_ps(acc[r], P::terms(wg, &scales, isums));
            }
        }
        if full < nb {
            // The short last group: absent lanes get `+0.0` terms.
            let ag = &a[full..nb];
            let scales = P::act_scales(ag);
            for r in 0..R {
                let wg = &w[r][full..nb];
                let mut p = [_mm256_setzero_si256(); BLOCK_LANES];
                for (pk, (wk, ak)) in p.iter_mut().zip(wg.iter().zip(ag)) {
                    *pk = P::partials(wk, &P::prepare(ak));
                }
                let isums = _mm256_cvtepi32_ps(sum8_epi32(&p));
                acc[r] = _mm256_add_ps(acc[r], P::terms(wg, &scales, isums));
            }
        }
        for r in 0..R {
            let mut lanes = [0.0f32; BLOCK_LANES];
            _mm256_storeu_ps(lanes.as_mut_ptr(), acc[r]);
            out[r] = reduce8(&lanes);
        }
    }
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
    // SAFETY: register and stack work only; the caller guarantees AVX2 and F16C.
    unsafe {
        let v = if let [b0, b1, b2, b3, b4, b5, b6, b7] = blocks {
            _mm256_setr_epi32(
                pair(b0),
                pair(b1),
                pair(b2),
                pair(b3),
                pair(b4),
                pair(b5),
                pair(b6),
                pair(b7),
            )
        } else {
            let mut words = [0i32; 8];
            for (w, blk) in words.iter_mut().zip(blocks) {
                *w = pair(blk);
            }
            _mm256_loadu_si256(words.as_ptr() as *const __m256i)
        };
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

/// An f16 field of up to eight blocks, widened to f32 (zero past the end).
///
/// # Safety
/// The CPU supports AVX2 and F16C.
#[inline(always)]
pub(crate) unsafe fn gather_f16<B>(blocks: &[B], field: impl Fn(&B) -> u16) -> __m256 {
    // SAFETY: register and stack work only; the caller guarantees AVX2 and F16C.
    unsafe {
        if let [b0, b1, b2, b3, b4, b5, b6, b7] = blocks {
            let v = _mm_setr_epi16(
                field(b0) as i16,
                field(b1) as i16,
                field(b2) as i16,
                field(b3) as i16,
                field(b4) as i16,
                field(b5) as i16,
                field(b6) as i16,
                field(b7) as i16,
            );
            _mm256_cvtph_ps(v)
        } else {
            let mut bits = [0u16; 8];
            for (b, blk) in bits.iter_mut().zip(blocks) {
                *b = field(blk);
            }
            cvt_f16x8(bits)
        }
    }
}
