//! Q4_K: super-blocks of 256 = 8 sub-blocks of 32, 4-bit quants, a 6-bit scale and a 6-bit
//! minimum per sub-block, two f16 super-scales: `x = d·sc·q - dmin·m`.
//!
//! Quant layout: the 256 values form 4 chunks of 64; chunk `c` keeps its first 32 values in the
//! low nibbles of `qs[32c..32c+32]` (sub-block `2c`) and the next 32 in the high nibbles
//! (sub-block `2c+1`).
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as both slices hold.

use half::f16;

use super::accumulate::BlockAccumulator;
use crate::blocks::{BlockQ4K, BlockQ8K};
use crate::generic::scale_search::{make_qkx2_quants, nearest_int, Qkx2Search};
use crate::ggml_type::QK_K;

/// Scale and minimum (6 bits each) of sub-block `j` in `0..8`, from the 12 packed bytes shared by
/// Q4_K and Q5_K: bytes 0–3 hold scales 0–3 (low 6 bits), bytes 4–7 minimums 0–3; sub-blocks 4–7
/// keep their low 4 bits in the nibbles of bytes 8–11 and their top 2 bits in the spare top bits of
/// bytes 0–7.
#[inline(always)]
pub fn scale_min_k4(j: usize, packed: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        (
            (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4),
            (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4),
        )
    }
}

/// All 8 scales and 8 minimums of a Q4_K/Q5_K block (as [`scale_min_k4`] reads them, four at a
/// time in 32-bit words).
#[inline(always)]
pub fn scales_mins_k4(packed: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let word =
        |i: usize| u32::from_le_bytes([packed[i], packed[i + 1], packed[i + 2], packed[i + 3]]);
    let (w0, w1, w2) = (word(0), word(4), word(8));
    const LOW6: u32 = 0x3f3f_3f3f;
    const LOW4: u32 = 0x0f0f_0f0f;
    const LOW2: u32 = 0x0303_0303;
    let sc_lo = w0 & LOW6;
    let mn_lo = w1 & LOW6;
    let sc_hi = (w2 & LOW4) | (((w0 >> 6) & LOW2) << 4);
    let mn_hi = ((w2 >> 4) & LOW4) | (((w1 >> 6) & LOW2) << 4);
    let join = |lo: u32, hi: u32| (lo as u64 | ((hi as u64) << 32)).to_le_bytes();
    (join(sc_lo, sc_hi), join(mn_lo, mn_hi))
}

/// Packs 8 scales and 8 minimums (each `<= 63`) the way [`scale_min_k4`] reads them.
pub fn pack_scales_mins_k4(sc: &[u8; 8], mn: &[u8; 8]) -> [u8; 12] {
    let mut p = [0u8; 12];
    for j in 0..8 {
        if j < 4 {
            p[j] = sc[j];
            p[j + 4] = mn[j];
        } else {
            p[j + 4] = (sc[j] & 0x0f) | ((mn[j] & 0x0f) << 4);
            p[j - 4] |= (sc[j] >> 4) << 6;
            p[j] |= (mn[j] >> 4) << 6;
        }
    }
    p
}

/// Dequantizes Q4_K blocks into `y` (256 values per block), bit-exact with ggml.
pub fn dequantize_row_q4_k(x: &[BlockQ4K], y: &mut [f32]) {
    debug_assert_eq!(y.len(), x.len() * QK_K);
    for (blk, out) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = blk.d.to_f32();
        let dmin = blk.dmin.to_f32();
        let (sc, mn) = scales_mins_k4(&blk.scales);
        for c in 0..4 {
            let q = &blk.qs[32 * c..32 * c + 32];
            let (d1, m1) = (d * sc[2 * c] as f32, dmin * mn[2 * c] as f32);
            let (d2, m2) = (d * sc[2 * c + 1] as f32, dmin * mn[2 * c + 1] as f32);
            let (lo, hi) = out[64 * c..64 * c + 64].split_at_mut(32);
            for l in 0..32 {
                lo[l] = d1 * (q[l] & 0x0f) as f32 - m1;
                hi[l] = d2 * (q[l] >> 4) as f32 - m2;
            }
        }
    }
}

/// The exact integer parts of one block pair: `(Σ_sub sc·Σ q·a, Σ_j m(j/2)·bsum_j)`.
#[inline(always)]
pub fn block_dot_q4_k_q8_k(w: &BlockQ4K, a: &BlockQ8K) -> (i32, i32) {
    let (sc, mn) = scales_mins_k4(&w.scales);
    let mut msum = 0i32;
    for (j, &bs) in a.bsums.iter().enumerate() {
        msum += bs as i32 * mn[j / 2] as i32;
    }
    let mut isum = 0i32;
    for c in 0..4 {
        let q = &w.qs[32 * c..32 * c + 32];
        let a_lo = &a.qs[64 * c..64 * c + 32];
        let a_hi = &a.qs[64 * c + 32..64 * c + 64];
        let mut lo = 0i32;
        let mut hi = 0i32;
        for l in 0..32 {
            lo += (q[l] & 0x0f) as i32 * a_lo[l] as i32;
            hi += (q[l] >> 4) as i32 * a_hi[l] as i32;
        }
        isum += sc[2 * c] as i32 * lo + sc[2 * c + 1] as i32 * hi;
    }
    (isum, msum)
}

/// One block's float term of the "scale and minimum" K-quants (Q2_K, Q4_K, Q5_K):
/// `(dw·da)·isum - (dminw·da)·msum`.
#[inline(always)]
pub fn block_term_k_min(d: f16, dmin: f16, a: &BlockQ8K, isum: i32, msum: i32) -> f32 {
    block_term_k_min_f32(d.to_f32(), dmin.to_f32(), a.d, isum, msum)
}

/// [`block_term_k_min`] with the weight scales already widened to f32 (a SIMD kernel may widen
/// them with its own instructions: the conversion is exact either way).
#[inline(always)]
pub fn block_term_k_min_f32(d: f32, dmin: f32, ad: f32, isum: i32, msum: i32) -> f32 {
    let dd = d * ad;
    let dm = dmin * ad;
    dd * isum as f32 - dm * msum as f32
}

/// Dot product of Q4_K weights with Q8_K activations.
///
/// Per block the quant products are summed exactly in integers ([`block_dot_q4_k_q8_k`]); the
/// block terms ([`block_term_k_min`]) are summed in the 8-lane order of
/// [`super::accumulate`]. SIMD twins produce the same integers and repeat this float sequence,
/// which makes them bit-identical.
pub fn vec_dot_q4_k_q8_k(x: &[BlockQ4K], y: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(x.len(), y.len());
    let mut acc = BlockAccumulator::new();
    for (i, (w, a)) in x.iter().zip(y).enumerate() {
        let (isum, msum) = block_dot_q4_k_q8_k(w, a);
        acc.add(i, block_term_k_min(w.d, w.dmin, a, isum, msum));
    }
    acc.finish()
}

/// Quantizes `x` (256 values per block) into Q4_K exactly as ggml's reference quantizer
/// (`quantize_row_q4_K_ref`): per sub-block a weighted [`make_qkx2_quants`] search (weights
/// `rms(x) + |x|`), 6-bit scales and minimums relative to the largest of each, then the levels
/// recomputed against the rounded scales.
pub fn quantize_row_q4_k(x: &[f32], y: &mut [BlockQ4K]) {
    debug_assert_eq!(x.len(), y.len() * QK_K);
    let search = Qkx2Search {
        nmax: 15,
        rmin: -1.0,
        rdelta: 0.1,
        nstep: 20,
        use_mad: false,
    };
    for (src, blk) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let mut levels = [0u8; QK_K];
        let (scales, mins) = search_k4_sub_blocks(src, search, &mut levels);
        let (packed, d, dmin) = quantize_scales_mins_k4(&scales, &mins);
        blk.scales = packed;
        blk.d = d;
        blk.dmin = dmin;
        requantize_levels_k4(src, &packed, d, dmin, search.nmax, &mut levels);
        for c in 0..4 {
            for l in 0..32 {
                blk.qs[32 * c + l] = levels[64 * c + l] | (levels[64 * c + 32 + l] << 4);
            }
        }
    }
}

/// Runs the per-sub-block search shared by Q4_K and Q5_K over one super-block, writing levels and
/// returning the 8 float scales and minimums.
pub(crate) fn search_k4_sub_blocks(
    src: &[f32],
    search: Qkx2Search,
    levels: &mut [u8; QK_K],
) -> ([f32; 8], [f32; 8]) {
    let mut scales = [0.0f32; 8];
    let mut mins = [0.0f32; 8];
    let mut weights = [0.0f32; 32];
    let mut aux = [0u8; 32];
    for j in 0..8 {
        let xs = &src[32 * j..32 * j + 32];
        let mut sum_x2 = 0.0f32;
        for &v in xs {
            sum_x2 += v * v;
        }
        let av_x = sqrt_f32(sum_x2 / 32.0);
        for (w, &v) in weights.iter_mut().zip(xs) {
            *w = av_x + v.abs();
        }
        (scales[j], mins[j]) = make_qkx2_quants(
            xs,
            &weights,
            search,
            &mut levels[32 * j..32 * j + 32],
            &mut aux,
        );
    }
    (scales, mins)
}

/// Rounds 8 float scales and minimums to 6 bits against their largest values; returns the packed
/// bytes and the two f16 super-scales.
pub(crate) fn quantize_scales_mins_k4(scales: &[f32; 8], mins: &[f32; 8]) -> ([u8; 12], f16, f16) {
    let mut max_scale = 0.0f32;
    let mut max_min = 0.0f32;
    for j in 0..8 {
        if scales[j] > max_scale {
            max_scale = scales[j];
        }
        if mins[j] > max_min {
            max_min = mins[j];
        }
    }
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    for j in 0..8 {
        // ggml stores the rounded value in a u8 before clamping to 63; keep that truncation.
        sc[j] = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        mn[j] = (nearest_int(inv_min * mins[j]) as u8).min(63);
    }
    (
        pack_scales_mins_k4(&sc, &mn),
        f16::from_f32(max_scale / 63.0),
        f16::from_f32(max_min / 63.0),
    )
}

/// Recomputes the levels of every sub-block whose rounded scale is non-zero:
/// `l = clamp(nearest_int((x + dmin·m) / (d·sc)), 0, nmax)`. Sub-blocks with a zero scale keep
/// the levels of the search, as in ggml.
pub(crate) fn requantize_levels_k4(
    src: &[f32],
    packed: &[u8; 12],
    d: f16,
    dmin: f16,
    nmax: i32,
    levels: &mut [u8; QK_K],
) {
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, packed);
        let dj = d.to_f32() * sc as f32;
        if dj == 0.0 {
            continue;
        }
        let dm = dmin.to_f32() * m as f32;
        for i in 32 * j..32 * j + 32 {
            levels[i] = nearest_int((src[i] + dm) / dj).clamp(0, nmax) as u8;
        }
    }
}

/// Single-precision square root, correctly rounded as C's `sqrtf` (with `std`).
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) fn sqrt_f32(v: f32) -> f32 {
    v.sqrt()
}

/// Single-precision square root without `std` (`f32::sqrt` needs it): Newton iterations in f64,
/// then rounded to f32. Matches `sqrtf` except, possibly, in rare halfway cases; the bit-exact
/// oracle tests run with `std`.
#[cfg(not(feature = "std"))]
pub(crate) fn sqrt_f32(v: f32) -> f32 {
    if v.is_nan() || v < 0.0 {
        return f32::NAN;
    }
    if v == 0.0 || v == f32::INFINITY {
        return v;
    }
    let v = v as f64;
    let mut r = f64::from_bits((v.to_bits() >> 1) + (1023u64 << 51));
    for _ in 0..8 {
        r = 0.5 * (r + v / r);
    }
    r as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips() {
        let sc = [0, 63, 17, 32, 45, 1, 62, 33];
        let mn = [63, 0, 5, 60, 2, 48, 31, 16];
        let p = pack_scales_mins_k4(&sc, &mn);
        assert_eq!(scales_mins_k4(&p), (sc, mn));
    }

    #[test]
    fn quantize_then_dequantize_is_close() {
        let x: [f32; QK_K] = core::array::from_fn(|i| ((i * 37 % 101) as f32 - 40.0) * 0.013);
        let mut b = [bytemuck::Zeroable::zeroed()];
        quantize_row_q4_k(&x, &mut b);
        let mut back = [0.0f32; QK_K];
        dequantize_row_q4_k(&b, &mut back);
        let err: f32 = x
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.06, "max error {err}");
    }
}
