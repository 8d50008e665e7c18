//! Q2_K: super-blocks of 256 = 16 sub-blocks of 16, 2-bit quants, a 4-bit scale and a 4-bit
//! minimum per sub-block (low and high nibble of `scales[j]`), two f16 super-scales:
//! `x = d·sc·q - dmin·m`.
//!
//! Quant layout, per half `n` of 128 values: value `128n + 32j + l` (`j` in 0..4, `l` in 0..32)
//! sits at bits `2j..2j+2` of `qs[32n + l]`. Value `e` uses scale `e / 16`.
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as both slices hold.

use half::f16;

use super::accumulate::BlockAccumulator;
use crate::blocks::{BlockQ2K, BlockQ8K};
use crate::generic::q4_k::block_term_k_min;
use crate::generic::q8_k::dot_quants;
use crate::generic::scale_search::{make_qkx2_quants, nearest_int, Qkx2Search};
use crate::ggml_type::QK_K;

/// The 256 quants (0..4) of a Q2_K block, in value order.
#[inline(always)]
pub fn unpack_q2_k(blk: &BlockQ2K) -> [u8; QK_K] {
    let mut q = [0u8; QK_K];
    for n in 0..2 {
        for j in 0..4 {
            for l in 0..32 {
                q[128 * n + 32 * j + l] = (blk.qs[32 * n + l] >> (2 * j)) & 3;
            }
        }
    }
    q
}

/// Dequantizes Q2_K blocks into `y` (256 values per block), bit-exact with ggml.
pub fn dequantize_row_q2_k(x: &[BlockQ2K], y: &mut [f32]) {
    debug_assert_eq!(y.len(), x.len() * QK_K);
    for (blk, out) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = blk.d.to_f32();
        let dmin = blk.dmin.to_f32();
        let q = unpack_q2_k(blk);
        for sub in 0..16 {
            let sc = blk.scales[sub];
            let (dl, ml) = (d * (sc & 0x0f) as f32, dmin * (sc >> 4) as f32);
            for e in 16 * sub..16 * sub + 16 {
                out[e] = dl * q[e] as f32 - ml;
            }
        }
    }
}

/// The exact integer parts of one block pair: `(Σ_sub sc·Σ q·a, Σ_sub m·bsum)`.
#[inline(always)]
pub fn block_dot_q2_k_q8_k(w: &BlockQ2K, a: &BlockQ8K) -> (i32, i32) {
    let mut msum = 0i32;
    for (&bs, &sc) in a.bsums.iter().zip(&w.scales) {
        msum += bs as i32 * (sc >> 4) as i32;
    }
    let q = unpack_q2_k(w);
    let mut isum = 0i32;
    for ((qs, act), &sc) in q.chunks_exact(16).zip(a.qs.chunks_exact(16)).zip(&w.scales) {
        isum += (sc & 0x0f) as i32 * dot_quants(qs, act);
    }
    (isum, msum)
}

/// Dot product of Q2_K weights with Q8_K activations: exact integer parts per block (the
/// minimum term from `bsums`), block terms ([`block_term_k_min`]) summed in the 8-lane order of
/// [`super::accumulate`].
pub fn vec_dot_q2_k_q8_k(x: &[BlockQ2K], y: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(x.len(), y.len());
    let mut acc = BlockAccumulator::new();
    for (i, (w, a)) in x.iter().zip(y).enumerate() {
        let (isum, msum) = block_dot_q2_k_q8_k(w, a);
        acc.add(i, block_term_k_min(w.d, w.dmin, a, isum, msum));
    }
    acc.finish()
}

/// Quantizes `x` (256 values per block) into Q2_K exactly as ggml's reference quantizer
/// (`quantize_row_q2_K_ref`): an `|x|`-weighted absolute-error [`make_qkx2_quants`] search per
/// sub-block of 16, 4-bit scales and minimums relative to the largest of each, then the levels
/// recomputed against the rounded scales.
pub fn quantize_row_q2_k(x: &[f32], y: &mut [BlockQ2K]) {
    debug_assert_eq!(x.len(), y.len() * QK_K);
    let search = Qkx2Search {
        nmax: 3,
        rmin: -0.5,
        rdelta: 0.1,
        nstep: 15,
        use_mad: true,
    };
    for (src, blk) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let mut levels = [0u8; QK_K];
        let mut scales = [0.0f32; 16];
        let mut mins = [0.0f32; 16];
        let mut weights = [0.0f32; 16];
        let mut aux = [0u8; 16];
        let mut max_scale = 0.0f32;
        let mut max_min = 0.0f32;
        for j in 0..16 {
            let xs = &src[16 * j..16 * j + 16];
            for (w, &v) in weights.iter_mut().zip(xs) {
                *w = v.abs();
            }
            (scales[j], mins[j]) = make_qkx2_quants(
                xs,
                &weights,
                search,
                &mut levels[16 * j..16 * j + 16],
                &mut aux,
            );
            if scales[j] > max_scale {
                max_scale = scales[j];
            }
            if mins[j] > max_min {
                max_min = mins[j];
            }
        }
        if max_scale > 0.0 {
            let iscale = 15.0f32 / max_scale;
            for (b, &s) in blk.scales.iter_mut().zip(&scales) {
                *b = nearest_int(iscale * s) as u8;
            }
            blk.d = f16::from_f32(max_scale / 15.0);
        } else {
            blk.scales = [0; 16];
            blk.d = f16::from_f32(0.0);
        }
        if max_min > 0.0 {
            let iscale = 15.0f32 / max_min;
            for (b, &m) in blk.scales.iter_mut().zip(&mins) {
                *b |= (nearest_int(iscale * m) << 4) as u8;
            }
            blk.dmin = f16::from_f32(max_min / 15.0);
        } else {
            blk.dmin = f16::from_f32(0.0);
        }
        for j in 0..16 {
            let d = blk.d.to_f32() * (blk.scales[j] & 0x0f) as f32;
            if d == 0.0 {
                continue;
            }
            let dm = blk.dmin.to_f32() * (blk.scales[j] >> 4) as f32;
            for i in 16 * j..16 * j + 16 {
                levels[i] = nearest_int((src[i] + dm) / d).clamp(0, 3) as u8;
            }
        }
        for n in 0..2 {
            for l in 0..32 {
                let lv = |j: usize| levels[128 * n + 32 * j + l];
                blk.qs[32 * n + l] = lv(0) | (lv(1) << 2) | (lv(2) << 4) | (lv(3) << 6);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_then_dequantize_is_close() {
        let x: [f32; QK_K] = core::array::from_fn(|i| ((i * 41 % 83) as f32 - 20.0) * 0.011);
        let mut b = [bytemuck::Zeroable::zeroed()];
        quantize_row_q2_k(&x, &mut b);
        let mut back = [0.0f32; QK_K];
        dequantize_row_q2_k(&b, &mut back);
        let err: f32 = x
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.25, "max error {err}");
    }
}
