//! Q4_K rows in x8 form ([`BlockQ4Kx8`]) with Q8_K activations.

use super::{gather, interleave_words, row_words, x8_twins, X8Format};
use crate::blocks::{BlockQ4K, BlockQ8K};
use crate::blocks_x8::{BlockQ4Kx8, X8_ROWS};
use crate::generic::q4_k::{
    block_dot_q4_k_q8_k, block_term_k_min, pack_scales_mins_k4, scales_mins_k4,
};

/// Q4_K × Q8_K in x8 form.
pub struct Q4Kx8;

impl X8Format for Q4Kx8 {
    type Row = BlockQ4K;
    type Act = BlockQ8K;
    type Packed = BlockQ4Kx8;

    fn pack(rows: &[BlockQ4K; X8_ROWS]) -> BlockQ4Kx8 {
        let mut p = BlockQ4Kx8 {
            d: gather(rows, |r| r.d),
            dmin: gather(rows, |r| r.dmin),
            scales: [[0; X8_ROWS]; 8],
            mins: [[0; 2 * X8_ROWS]; 4],
            qs: [0; X8_ROWS * 128],
        };
        for (k, r) in rows.iter().enumerate() {
            // The 12 packed bytes hold exactly these 16 six-bit values, so unpacking loses
            // nothing (`row` packs them back bit for bit).
            let (sc, mn) = scales_mins_k4(&r.scales);
            for s in 0..8 {
                p.scales[s][k] = sc[s];
                p.mins[s / 2][2 * k + s % 2] = mn[s];
            }
        }
        interleave_words(gather(rows, |r| &r.qs), &mut p.qs);
        p
    }

    fn row(p: &BlockQ4Kx8, k: usize) -> BlockQ4K {
        let sc: [u8; 8] = core::array::from_fn(|s| p.scales[s][k]);
        let mn: [u8; 8] = core::array::from_fn(|s| p.mins[s / 2][2 * k + s % 2]);
        BlockQ4K {
            d: p.d[k],
            dmin: p.dmin[k],
            scales: pack_scales_mins_k4(&sc, &mn),
            qs: row_words(&p.qs, k),
        }
    }

    #[inline(always)]
    fn term(w: &BlockQ4K, a: &BlockQ8K) -> f32 {
        let (isum, msum) = block_dot_q4_k_q8_k(w, a);
        block_term_k_min(w.d, w.dmin, a, isum, msum)
    }
}

x8_twins!(
    Q4Kx8,
    repack_q4_k_x8,
    unpack_row_q4_k_x8,
    gemm_q4_kx8_q8_k,
    "Q4_K"
);
