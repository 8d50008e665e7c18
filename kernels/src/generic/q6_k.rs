//! Q6_K: super-blocks of 256 = 16 sub-blocks of 16, 6-bit quants stored as `q + 32`, one signed
//! 8-bit scale per sub-block and an f16 super-scale: `x = d·sc·(q - 32)`.
//!
//! Quant layout, per half `h` of 128 values (`ql[64h..]`, `qh[32h..]`): value `128h + 32g + l`
//! (`g` in 0..4, `l` in 0..32) has its low 4 bits in `ql[64h + 32·(g & 1) + l]` (low nibble for
//! `g < 2`, high nibble otherwise) and its top 2 bits at bit `2g` of `qh[32h + l]`. Value `e`
//! uses scale `e / 16`.
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as both slices hold.

use half::f16;

use super::accumulate::BlockAccumulator;
use crate::blocks::{BlockQ6K, BlockQ8K};
use crate::generic::q3_k::block_term_k_sym;
use crate::generic::q8_k::dot_quants;
use crate::generic::scale_search::{make_qx_quants_x2, nearest_int};
use crate::ggml_type::QK_K;

/// The 256 unsigned quants (`q + 32`, 0..64) of a Q6_K block, in value order.
#[inline(always)]
pub fn unpack_q6_k(blk: &BlockQ6K) -> [u8; QK_K] {
    let mut q = [0u8; QK_K];
    for h in 0..2 {
        let ql = &blk.ql[64 * h..64 * h + 64];
        let qh = &blk.qh[32 * h..32 * h + 32];
        for l in 0..32 {
            let base = 128 * h + l;
            q[base] = (ql[l] & 0x0f) | ((qh[l] & 3) << 4);
            q[base + 32] = (ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4);
            q[base + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            q[base + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
    q
}

/// Dequantizes Q6_K blocks into `y` (256 values per block), bit-exact with ggml:
/// `y = (d·sc)·(q - 32)`.
pub fn dequantize_row_q6_k(x: &[BlockQ6K], y: &mut [f32]) {
    debug_assert_eq!(y.len(), x.len() * QK_K);
    for (blk, out) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = blk.d.to_f32();
        let q = unpack_q6_k(blk);
        for (e, o) in out.iter_mut().enumerate() {
            *o = d * blk.scales[e / 16] as f32 * (q[e] as i32 - 32) as f32;
        }
    }
}

/// The exact integer sum of one block pair, `Σ_sub sc·Σ (q - 32)·a`, computed as
/// `Σ_sub sc·Σ q_u·a - 32·Σ_sub sc·bsum` with the stored quants `q_u = q + 32`.
///
/// This trusts `bsums` to be the per-16 sums of the activation quants, as every Q8_K row made by
/// [`super::q8_k::quantize_row_q8_k`] is (ggml's ARM kernels trust them the same way); the SIMD
/// twins use the same formula, so they agree bit for bit even when the sums are off.
#[inline(always)]
pub fn block_dot_q6_k_q8_k(w: &BlockQ6K, a: &BlockQ8K) -> i32 {
    let q = unpack_q6_k(w);
    let mut isum = 0i32;
    let mut offset = 0i32;
    for (sub, (qs, act)) in q.chunks_exact(16).zip(a.qs.chunks_exact(16)).enumerate() {
        isum += w.scales[sub] as i32 * dot_quants(qs, act);
        offset += w.scales[sub] as i32 * a.bsums[sub] as i32;
    }
    // Wrapping: only `bsums` that no Q8_K quantizer can produce reach the i32 limit here, and
    // such input must not panic (the SIMD twins wrap the same way).
    isum.wrapping_sub(offset.wrapping_mul(32))
}

/// Dot product of Q6_K weights with Q8_K activations: exact integer sums per block, block terms
/// ([`block_term_k_sym`]) summed in the 8-lane order of [`super::accumulate`].
pub fn vec_dot_q6_k_q8_k(x: &[BlockQ6K], y: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(x.len(), y.len());
    let mut acc = BlockAccumulator::new();
    for (i, (w, a)) in x.iter().zip(y).enumerate() {
        acc.add(i, block_term_k_sym(w.d, a, block_dot_q6_k_q8_k(w, a)));
    }
    acc.finish()
}

/// Quantizes `x` (256 values per block) into Q6_K exactly as ggml's reference quantizer
/// (`quantize_row_q6_K_ref`): an `x²`-weighted symmetric scale search per sub-block of 16, 8-bit
/// scales relative to the one of largest magnitude (`iscale = -128 / max_scale`), then the levels
/// recomputed against the rounded scales.
pub fn quantize_row_q6_k(x: &[f32], y: &mut [BlockQ6K]) {
    debug_assert_eq!(x.len(), y.len() * QK_K);
    for (src, blk) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let mut levels = [0i8; QK_K];
        let mut scales = [0.0f32; 16];
        let mut max_scale = 0.0f32;
        let mut max_abs_scale = 0.0f32;
        for ib in 0..16 {
            let s = make_qx_quants_x2(
                &src[16 * ib..16 * ib + 16],
                32,
                &mut levels[16 * ib..16 * ib + 16],
            );
            scales[ib] = s;
            if s.abs() > max_abs_scale {
                max_abs_scale = s.abs();
                max_scale = s;
            }
        }
        if max_abs_scale == 0.0 {
            *blk = bytemuck::Zeroable::zeroed();
            continue;
        }
        let iscale = -128.0f32 / max_scale;
        blk.d = f16::from_f32(1.0 / iscale);
        for (sc, &s) in blk.scales.iter_mut().zip(&scales) {
            // C stores the int into an int8_t: keep the truncation.
            *sc = nearest_int(iscale * s).min(127) as i8;
        }
        let d_all = blk.d.to_f32();
        for j in 0..16 {
            let d = d_all * blk.scales[j] as f32;
            if d == 0.0 {
                continue;
            }
            for i in 16 * j..16 * j + 16 {
                levels[i] = (nearest_int(src[i] / d).clamp(-32, 31) + 32) as i8;
            }
        }
        for h in 0..2 {
            let lv = &levels[128 * h..128 * h + 128];
            for l in 0..32 {
                let q = |g: usize| lv[32 * g + l] as u8;
                blk.ql[64 * h + l] = (q(0) & 0x0f) | ((q(2) & 0x0f) << 4);
                blk.ql[64 * h + 32 + l] = (q(1) & 0x0f) | ((q(3) & 0x0f) << 4);
                blk.qh[32 * h + l] =
                    (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_then_dequantize_is_close() {
        let x: [f32; QK_K] = core::array::from_fn(|i| ((i * 53 % 97) as f32 - 48.0) * 0.021);
        let mut b = [bytemuck::Zeroable::zeroed()];
        quantize_row_q6_k(&x, &mut b);
        let mut back = [0.0f32; QK_K];
        dequantize_row_q6_k(&b, &mut back);
        let err: f32 = x
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.03, "max error {err}");
    }
}
