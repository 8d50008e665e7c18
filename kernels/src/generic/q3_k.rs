//! Q3_K: super-blocks of 256 = 16 sub-blocks of 16, 3-bit signed quants (`q` in -4..4), 6-bit
//! signed scales (stored `+32`), one f16 super-scale: `x = d·(sc - 32)·q`.
//!
//! Quant layout: the low 2 bits of value `128n + 32j + l` sit at bits `2j..2j+2` of
//! `qs[32n + l]` (as in Q2_K); its high bit is bit `4n + j` of `hmask[l]`, and a *clear* high bit
//! means `q = low - 4`. Scale `j` keeps its low 4 bits in the low (`j < 8`) or high (`j >= 8`)
//! nibble of `scales[j % 8]` and its top 2 bits at bits `2·(j / 4)` of `scales[8 + j % 4]`.
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as both slices hold.

use half::f16;

use super::accumulate::BlockAccumulator;
use crate::blocks::{BlockQ3K, BlockQ8K};
use crate::generic::q8_k::dot_quants;
use crate::generic::scale_search::{make_q3_quants, nearest_int};
use crate::ggml_type::QK_K;

/// The 16 signed scales (`-32..32`) of a Q3_K block.
#[inline(always)]
pub fn scales_q3_k(packed: &[u8; 12]) -> [i8; 16] {
    let mut s = [0i8; 16];
    for (j, out) in s.iter_mut().enumerate() {
        let low = if j < 8 {
            packed[j] & 0x0f
        } else {
            packed[j - 8] >> 4
        };
        let high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        *out = (low | (high << 4)) as i8 - 32;
    }
    s
}

/// The 256 stored quants `q + 4` (0..8) of a Q3_K block, in value order: the low 2 bits plus 4
/// when the high bit is set.
#[inline(always)]
pub fn unpack_q3_k(blk: &BlockQ3K) -> [u8; QK_K] {
    let mut q = [0u8; QK_K];
    for n in 0..2 {
        for j in 0..4 {
            let bit = 4 * n + j;
            for l in 0..32 {
                let low = (blk.qs[32 * n + l] >> (2 * j)) & 3;
                let high = (blk.hmask[l] >> bit) & 1;
                q[128 * n + 32 * j + l] = low | (high << 2);
            }
        }
    }
    q
}

/// Dequantizes Q3_K blocks into `y` (256 values per block), bit-exact with ggml:
/// `y = (d·(sc - 32))·q`.
pub fn dequantize_row_q3_k(x: &[BlockQ3K], y: &mut [f32]) {
    debug_assert_eq!(y.len(), x.len() * QK_K);
    for (blk, out) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d_all = blk.d.to_f32();
        let sc = scales_q3_k(&blk.scales);
        let q = unpack_q3_k(blk);
        for ((o, qs), &s) in out.chunks_exact_mut(16).zip(q.chunks_exact(16)).zip(&sc) {
            let dl = d_all * s as f32;
            for (o, &q) in o.iter_mut().zip(qs) {
                *o = dl * (q as i32 - 4) as f32;
            }
        }
    }
}

/// The exact integer sum of one block pair, `Σ_sub (sc - 32)·Σ q·a`, computed as
/// `Σ_sub sc'·Σ q_u·a - 4·Σ_sub sc'·bsum` with `q_u = q + 4` and `sc' = sc - 32`.
///
/// This trusts `bsums` as [`super::q6_k::block_dot_q6_k_q8_k`] does (and for the same reason).
#[inline(always)]
pub fn block_dot_q3_k_q8_k(w: &BlockQ3K, a: &BlockQ8K) -> i32 {
    let sc = scales_q3_k(&w.scales);
    let q = unpack_q3_k(w);
    let mut isum = 0i32;
    let mut offset = 0i32;
    for (sub, (qs, act)) in q.chunks_exact(16).zip(a.qs.chunks_exact(16)).enumerate() {
        isum += sc[sub] as i32 * dot_quants(qs, act);
        offset += sc[sub] as i32 * a.bsums[sub] as i32;
    }
    isum - 4 * offset
}

/// One block's float term of the symmetric K-quants (Q3_K, Q6_K): `(dw·da)·isum`.
#[inline(always)]
pub fn block_term_k_sym(d: f16, a: &BlockQ8K, isum: i32) -> f32 {
    block_term_k_sym_f32(d.to_f32(), a.d, isum)
}

/// [`block_term_k_sym`] with the weight scale already widened to f32.
#[inline(always)]
pub fn block_term_k_sym_f32(d: f32, ad: f32, isum: i32) -> f32 {
    (d * ad) * isum as f32
}

/// Dot product of Q3_K weights with Q8_K activations: exact integer sums per block, block terms
/// ([`block_term_k_sym`]) summed in the 8-lane order of [`super::accumulate`].
pub fn vec_dot_q3_k_q8_k(x: &[BlockQ3K], y: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(x.len(), y.len());
    let mut acc = BlockAccumulator::new();
    for (i, (w, a)) in x.iter().zip(y).enumerate() {
        acc.add(i, block_term_k_sym(w.d, a, block_dot_q3_k_q8_k(w, a)));
    }
    acc.finish()
}

/// Quantizes `x` (256 values per block) into Q3_K exactly as ggml's reference quantizer
/// (`quantize_row_q3_K_ref`): [`make_q3_quants`] per sub-block of 16, 6-bit signed scales
/// relative to the one of largest magnitude (`iscale = -32 / max_scale`), then the levels
/// recomputed against the rounded scales.
pub fn quantize_row_q3_k(x: &[f32], y: &mut [BlockQ3K]) {
    debug_assert_eq!(x.len(), y.len() * QK_K);
    for (src, blk) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let mut levels = [0i8; QK_K];
        let mut scales = [0.0f32; 16];
        let mut max_scale = 0.0f32;
        let mut amax = 0.0f32;
        for j in 0..16 {
            scales[j] = make_q3_quants(
                &src[16 * j..16 * j + 16],
                4,
                &mut levels[16 * j..16 * j + 16],
            );
            if scales[j].abs() > amax {
                amax = scales[j].abs();
                max_scale = scales[j];
            }
        }
        blk.scales = [0; 12];
        if max_scale != 0.0 {
            let iscale = -32.0f32 / max_scale;
            for (j, &s) in scales.iter().enumerate() {
                // C rounds into an int8_t first, then clamps and offsets in int8 arithmetic.
                let l = ((nearest_int(iscale * s) as i8).clamp(-32, 31) + 32) as u8;
                if j < 8 {
                    blk.scales[j] = l & 0x0f;
                } else {
                    blk.scales[j - 8] |= (l & 0x0f) << 4;
                }
                blk.scales[j % 4 + 8] |= (l >> 4) << (2 * (j / 4));
            }
            blk.d = f16::from_f32(1.0 / iscale);
        } else {
            blk.d = f16::from_f32(0.0);
        }
        let sc = scales_q3_k(&blk.scales);
        let d_all = blk.d.to_f32();
        for (j, &s) in sc.iter().enumerate() {
            let d = d_all * s as f32;
            if d == 0.0 {
                continue;
            }
            for i in 16 * j..16 * j + 16 {
                levels[i] = (nearest_int(src[i] / d).clamp(-4, 3) + 4) as i8;
            }
        }
        blk.hmask = [0; QK_K / 8];
        for (j, lv) in levels.iter_mut().enumerate() {
            if *lv > 3 {
                blk.hmask[j % 32] |= 1 << (j / 32);
                *lv -= 4;
            }
        }
        for n in 0..2 {
            for l in 0..32 {
                let lv = |j: usize| levels[128 * n + 32 * j + l] as u8;
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
        let x: [f32; QK_K] = core::array::from_fn(|i| ((i * 31 % 79) as f32 - 39.0) * 0.019);
        let mut b = [bytemuck::Zeroable::zeroed()];
        quantize_row_q3_k(&x, &mut b);
        let mut back = [0.0f32; QK_K];
        dequantize_row_q3_k(&b, &mut back);
        let err: f32 = x
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.25, "max error {err}");
    }
}
