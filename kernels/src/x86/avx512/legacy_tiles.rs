//! The driver of the AVX-512 (F/BW/VL + VNNI) legacy-format kernels: vec_dot, gemv and gemm over
//! tiles of weight rows × activation rows, each output accumulated exactly as the generic twin
//! accumulates it ([`accumulate`](crate::generic::accumulate): block `b`'s term in lane `b % 8`,
//! then `reduce8`).
//!
//! Integer part: eight blocks at a time, four per pair of 512-bit vectors (see
//! [`legacy_lanes`](super::legacy_lanes)), one `vpdpbusd` per 16 quants of four
//! blocks. `vpdpbusd` multiplies unsigned by signed bytes, so a weight type stores its quants as
//! unsigned bytes `q + BIAS` (the true quant is `q`), and every lane starts from
//! `-BIAS * sum(a)` over its four activation bytes: the lane then ends at the exact `sum(q * a)`,
//! for every byte pair including -128. The start value depends on the activation only and is
//! computed once per tile column.
//!
//! Float part: the eight exact block sums are converted and turned into block terms by the
//! type's AVX2 code ([`LegacyPairAvx2::terms`], the twin's operations in the twin's order) and
//! added to the eight-lane accumulator, as the AVX2 driver does. A short last group (fewer than
//! eight blocks) goes through the AVX2 integer code with `+0.0` terms in the absent lanes. A tile
//! only shares loads and unpacking between its outputs, never arithmetic, so every gemv/gemm
//! element has the bits of the corresponding vec_dot.

use core::arch::x86_64::*;

use super::legacy_lanes::{block_totals8, bytes_4x32, dot_quarters, neg_bias_sums};
use crate::generic::accumulate::{reduce8, BLOCK_LANES};
use crate::x86::avx2::legacy_lanes::sum8_epi32;
use crate::x86::avx2::legacy_tiles::LegacyPairAvx2;
use crate::x86::legacy_tile_walk::{self as walk, group, prefetch_ahead, PREFETCH_BLOCKS};

/// A legacy weight format and its activation format, as the AVX-512 driver needs them. The AVX2
/// side ([`LegacyPairAvx2`]) supplies the scales, the float terms and the short last group.
pub(crate) trait LegacyPairAvx512: LegacyPairAvx2 {
    /// What [`LegacyPairAvx512::unpack4`] adds to every quant to make it an unsigned byte.
    const BIAS: u8;

    /// The quants of four weight blocks plus [`LegacyPairAvx512::BIAS`], as unsigned bytes in
    /// quarters (elements 0..16 of block `j` in chunk `j` of the first vector, 16..32 in the
    /// second).
    ///
    /// # Safety
    /// The CPU supports AVX-512 F/BW/VL, VNNI, AVX2, FMA and F16C (so for every method).
    unsafe fn unpack4(w: [&Self::W; 4]) -> (__m512i, __m512i);

    /// The 32 signed quants of an activation block.
    fn act_qs(a: &Self::A) -> &[i8; 32];

    /// [`LegacyPairAvx2::w_scales`] without gathers (see
    /// [`f16_bits8`](super::legacy_lanes::f16_bits8)): up to eight blocks, zero past the
    /// end.
    ///
    /// # Safety
    /// As [`LegacyPairAvx512::unpack4`].
    unsafe fn w_scales8(w: &[Self::W]) -> Self::WScales;

    /// [`LegacyPairAvx2::act_scales`] without gathers, as [`LegacyPairAvx512::w_scales8`].
    ///
    /// # Safety
    /// As [`LegacyPairAvx512::unpack4`].
    unsafe fn act_scales8(a: &[Self::A]) -> Self::ActScales;
}

/// Eight activation blocks loaded for the integer dots of a tile.
#[derive(Clone, Copy)]
struct ActGroup {
    /// Blocks 0..4 and 4..8 in quarters.
    q: [(__m512i, __m512i); 2],
    /// `-BIAS * sum(a)` per lane for the two halves.
    init: [__m512i; 2],
}

/// Loads eight activation blocks.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL and VNNI.
#[inline(always)]
unsafe fn load_act_group<P: LegacyPairAvx512>(a: &[P::A; BLOCK_LANES]) -> ActGroup {
    // SAFETY: the loads read the blocks' own quant arrays; the caller guarantees the features.
    unsafe {
        let q = [
            bytes_4x32([0, 1, 2, 3].map(|k| P::act_qs(&a[k]))),
            bytes_4x32([4, 5, 6, 7].map(|k| P::act_qs(&a[k]))),
        ];
        let init = if P::BIAS == 0 {
            [_mm512_setzero_si512(); 2]
        } else {
            [
                neg_bias_sums(P::BIAS, q[0].0, q[0].1),
                neg_bias_sums(P::BIAS, q[1].0, q[1].1),
            ]
        };
        ActGroup { q, init }
    }
}

/// The dot product of `w` and `a` (as many blocks as both hold), in the generic twin's order.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, VNNI, AVX2, FMA and F16C.
#[inline(always)]
pub(crate) unsafe fn vec_dot<P: LegacyPairAvx512>(w: &[P::W], a: &[P::A]) -> f32 {
    let nb = w.len().min(a.len());
    let mut out = [[0.0f32; 1]; 1];
    // SAFETY: forwarded; one row and one activation row of `nb` blocks.
    unsafe { tile::<P, 1, 1>(&[&w[..nb]], &[&a[..nb]], &mut out) };
    out[0][0]
}

/// `out[r] = vec_dot(row r, a)`, `w` holding `out.len()` rows of `a.len()` blocks.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, VNNI, AVX2, FMA and F16C.
#[inline(always)]
pub(crate) unsafe fn gemv<P: LegacyPairAvx512>(w: &[P::W], a: &[P::A], out: &mut [f32]) {
    // SAFETY: forwarded; gemv is gemm with one activation row.
    unsafe { gemm::<P>(w, a, 1, out) }
}

/// `out[c * rows + r] = vec_dot(row r, activation row c)` with `rows = out.len() / n_act`, `w`
/// holding `rows` rows and `a` holding `n_act` rows of `a.len() / n_act` blocks each.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, VNNI, AVX2, FMA and F16C.
#[inline(always)]
pub(crate) unsafe fn gemm<P: LegacyPairAvx512>(
    w: &[P::W],
    a: &[P::A],
    n_act: usize,
    out: &mut [f32],
) {
    // SAFETY: forwarded; the walk hands `tile` whole rows of `nb` blocks.
    unsafe { walk::gemm::<Avx512Tiles<P>>(w, a, n_act, out) }
}

/// The tiles of pair `P` for the shared walk.
pub(crate) struct Avx512Tiles<P>(core::marker::PhantomData<P>);

impl<P: LegacyPairAvx512> walk::LegacyTiles for Avx512Tiles<P> {
    type W = P::W;
    type A = P::A;

    #[inline(always)]
    unsafe fn tile<const R: usize, const C: usize>(
        w: &[&[P::W]; R],
        a: &[&[P::A]; C],
        out: &mut [[f32; C]; R],
    ) {
        // SAFETY: forwarded from the caller (AVX-512 F/BW/VL, VNNI, AVX2, FMA and F16C).
        unsafe { tile::<P, R, C>(w, a, out) }
    }
}

/// `R` weight rows × `C` activation rows, all of `a[0].len()` blocks: `out[r][c]`.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VL, VNNI, AVX2, FMA and F16C.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn tile<P: LegacyPairAvx512, const R: usize, const C: usize>(
    w: &[&[P::W]; R],
    a: &[&[P::A]; C],
    out: &mut [[f32; C]; R],
) {
    let nb = a[0].len();
    if w.iter().any(|r| r.len() < nb) || a.iter().any(|c| c.len() < nb) {
        // Unreachable through `gemm` (it slices every row to `nb` blocks); keeps this total.
        *out = [[f32::NAN; C]; R];
        return;
    }
    // SAFETY: the features are guaranteed by the caller; every index below is within `nb`
    // blocks, which every row holds (checked above).
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let full = nb - nb % BLOCK_LANES;
        let mut base = 0;
        while base < full {
            let mut act = [load_act_group::<P>(group(a[0], base)); C];
            let mut a_sc = [P::act_scales8(group(a[0], base)); C];
            for c in 1..C {
                act[c] = load_act_group::<P>(group(a[c], base));
                a_sc[c] = P::act_scales8(group(a[c], base));
            }
            for r in 0..R {
                let wg = group(w[r], base);
                prefetch_ahead(w[r], base + PREFETCH_BLOCKS);
                let wq = [
                    P::unpack4([&wg[0], &wg[1], &wg[2], &wg[3]]),
                    P::unpack4([&wg[4], &wg[5], &wg[6], &wg[7]]),
                ];
                let w_sc = P::w_scales8(wg);
                for c in 0..C {
                    let s0 = dot_quarters(act[c].init[0], wq[0], act[c].q[0]);
                    let s1 = dot_quarters(act[c].init[1], wq[1], act[c].q[1]);
                    let isums = _mm256_cvtepi32_ps(block_totals8(s0, s1));
                    acc[r][c] = _mm256_add_ps(acc[r][c], P::terms(&w_sc, &a_sc[c], isums));
                }
            }
            base += BLOCK_LANES;
        }
        if full < nb {
            // The short last group, with the AVX2 integer code: absent lanes get zero sums and
            // scales, so `+0.0` terms.
            for r in 0..R {
                let wg = &w[r][full..nb];
                let w_sc = P::w_scales8(wg);
                for c in 0..C {
                    let ag = &a[c][full..nb];
                    // A constant trip count keeps `p` in registers (as in the AVX2 tile).
                    let mut p = [_mm256_setzero_si256(); BLOCK_LANES];
                    for k in 0..BLOCK_LANES {
                        if k < wg.len() {
                            p[k] = P::partials(&P::unpack(&wg[k]), &P::prepare(&ag[k]));
                        }
                    }
                    let isums = _mm256_cvtepi32_ps(sum8_epi32(&p));
                    let a_sc = P::act_scales8(ag);
                    acc[r][c] = _mm256_add_ps(acc[r][c], P::terms(&w_sc, &a_sc, isums));
                }
            }
        }
        for r in 0..R {
            for c in 0..C {
                let mut lanes = [0.0f32; BLOCK_LANES];
                _mm256_storeu_ps(lanes.as_mut_ptr(), acc[r][c]);
                out[r][c] = reduce8(&lanes);
            }
        }
    }
}

/// Declares the three `#[target_feature]` leaves (vec_dot, gemv, gemm) of one weight format
/// around this driver, each documented as the twin of its scalar kernel.
macro_rules! avx512_legacy_leaves {
    ($pair:ty, $w:ty, $a:ty, $vec_dot:ident, $gemv:ident, $gemm:ident, $twin:literal) => {
        #[doc = concat!("AVX-512 VNNI twin of [`crate::generic::vec_dot_", $twin, "`].")]
        ///
        /// # Safety
        /// The CPU supports AVX-512 F/BW/VL and VNNI, AVX2, FMA and F16C.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        #[inline]
        pub unsafe fn $vec_dot(x: &[$w], y: &[$a]) -> f32 {
            // SAFETY: the caller guarantees the features.
            unsafe { $crate::x86::avx512::legacy_tiles::vec_dot::<$pair>(x, y) }
        }

        #[doc = concat!("AVX-512 VNNI twin of [`crate::generic::gemv_", $twin, "`], four rows at a time.")]
        ///
        /// # Safety
        /// The CPU supports AVX-512 F/BW/VL and VNNI, AVX2, FMA and F16C.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        pub unsafe fn $gemv(w: &[$w], act: &[$a], out: &mut [f32]) {
            // SAFETY: the caller guarantees the features.
            unsafe { $crate::x86::avx512::legacy_tiles::gemv::<$pair>(w, act, out) }
        }

        #[doc = concat!("AVX-512 VNNI twin of [`crate::generic::gemm_", $twin, "`], in tiles of four rows × four activation rows.")]
        ///
        /// # Safety
        /// The CPU supports AVX-512 F/BW/VL and VNNI, AVX2, FMA and F16C.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        pub unsafe fn $gemm(w: &[$w], act: &[$a], n_act: usize, out: &mut [f32]) {
            // SAFETY: the caller guarantees the features.
            unsafe { $crate::x86::avx512::legacy_tiles::gemm::<$pair>(w, act, n_act, out) }
        }
    };
}

pub(crate) use avx512_legacy_leaves;
