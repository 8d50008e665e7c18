//! Q5_K: Q4_K with a fifth bit per quant: `x = d·sc·q - dmin·m`, q in 0..32.
//!
//! The low nibbles are laid out as in Q4_K; the fifth bit of value `64c + l` (low half of chunk
//! `c`) is bit `2c` of `qh[l]`, of value `64c + 32 + l` bit `2c + 1`.
//!
//! Scalar twins; lengths are the caller's to check (`ops` validates them): every function walks
//! as many whole blocks as both slices hold.

use super::accumulate::BlockAccumulator;
use crate::blocks::{BlockQ5K, BlockQ8K};
use crate::generic::q4_k::{
    block_term_k_min, quantize_scales_mins_k4, requantize_levels_k4, scales_mins_k4,
    search_k4_sub_blocks,
};
use crate::generic::q8_k::dot_quants;
use crate::generic::scale_search::Qkx2Search;
use crate::ggml_type::QK_K;

/// The 256 quants (0..32) of a Q5_K block, in value order.
#[inline(always)]
pub fn unpack_q5_k(blk: &BlockQ5K) -> [u8; QK_K] {
    let mut q = [0u8; QK_K];
    for c in 0..4 {
        let ql = &blk.qs[32 * c..32 * c + 32];
        for l in 0..32 {
            q[64 * c + l] = (ql[l] & 0x0f) | (((blk.qh[l] >> (2 * c)) & 1) << 4);
            q[64 * c + 32 + l] = (ql[l] >> 4) | (((blk.qh[l] >> (2 * c + 1)) & 1) << 4);
        }
    }
    q
}

/// Dequantizes Q5_K blocks into `y` (256 values per block), bit-exact with ggml.
pub fn dequantize_row_q5_k(x: &[BlockQ5K], y: &mut [f32]) {
    debug_assert_eq!(y.len(), x.len() * QK_K);
    for (blk, out) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = blk.d.to_f32();
        let dmin = blk.dmin.to_f32();
        let (sc, mn) = scales_mins_k4(&blk.scales);
        let q = unpack_q5_k(blk);
        for sub in 0..8 {
            let (dl, ml) = (d * sc[sub] as f32, dmin * mn[sub] as f32);
            for e in 32 * sub..32 * sub + 32 {
                out[e] = dl * q[e] as f32 - ml;
            }
        }
    }
}

/// The exact integer parts of one block pair: `(Σ_sub sc·Σ q·a, Σ_j m(j/2)·bsum_j)`.
#[inline(always)]
pub fn block_dot_q5_k_q8_k(w: &BlockQ5K, a: &BlockQ8K) -> (i32, i32) {
    let (sc, mn) = scales_mins_k4(&w.scales);
    let mut msum = 0i32;
    for (j, &bs) in a.bsums.iter().enumerate() {
        msum += bs as i32 * mn[j / 2] as i32;
    }
    let q = unpack_q5_k(w);
    let mut isum = 0i32;
    for ((qs, act), &s) in q.chunks_exact(32).zip(a.qs.chunks_exact(32)).zip(&sc) {
        isum += s as i32 * dot_quants(qs, act);
    }
    (isum, msum)
}

/// Dot product of Q5_K weights with Q8_K activations: exact integer parts per block, block terms
/// ([`block_term_k_min`]) summed in the 8-lane order of [`super::accumulate`].
pub fn vec_dot_q5_k_q8_k(x: &[BlockQ5K], y: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(x.len(), y.len());
    let mut acc = BlockAccumulator::new();
    for (i, (w, a)) in x.iter().zip(y).enumerate() {
        let (isum, msum) = block_dot_q5_k_q8_k(w, a);
        acc.add(i, block_term_k_min(w.d, w.dmin, a, isum, msum));
    }
    acc.finish()
}

/// Quantizes `x` (256 values per block) into Q5_K exactly as ggml's reference quantizer
/// (`quantize_row_q5_K_ref`): the Q4_K procedure with 31 levels and a shorter search.
pub fn quantize_row_q5_k(x: &[f32], y: &mut [BlockQ5K]) {
    debug_assert_eq!(x.len(), y.len() * QK_K);
    let search = Qkx2Search {
        nmax: 31,
        rmin: -0.5,
        rdelta: 0.1,
        nstep: 15,
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
        blk.qh = [0; QK_K / 8];
        for c in 0..4 {
            for l in 0..32 {
                let mut lo = levels[64 * c + l];
                let mut hi = levels[64 * c + 32 + l];
                if lo > 15 {
                    lo -= 16;
                    blk.qh[l] |= 1 << (2 * c);
                }
                if hi > 15 {
                    hi -= 16;
                    blk.qh[l] |= 2 << (2 * c);
                }
                blk.qs[32 * c + l] = lo | (hi << 4);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_then_dequantize_is_close() {
        let x: [f32; QK_K] = core::array::from_fn(|i| ((i * 29 % 89) as f32 - 30.0) * 0.017);
        let mut b = [bytemuck::Zeroable::zeroed()];
        quantize_row_q5_k(&x, &mut b);
        let mut back = [0.0f32; QK_K];
        dequantize_row_q5_k(&b, &mut back);
        let err: f32 = x
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.03, "max error {err}");
    }
}
