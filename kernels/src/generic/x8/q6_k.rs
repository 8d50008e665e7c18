//! Q6_K rows in x8 form ([`BlockQ6Kx8`]) with Q8_K activations.

use super::{gather, interleave_words, row_words, x8_twins, X8Format};
use crate::blocks::{BlockQ6K, BlockQ8K};
use crate::blocks_x8::{BlockQ6Kx8, X8_ROWS};
use crate::generic::q3_k::block_term_k_sym;
use crate::generic::q6_k::block_dot_q6_k_q8_k;

/// Q6_K × Q8_K in x8 form.
pub struct Q6Kx8;

impl X8Format for Q6Kx8 {
    type Row = BlockQ6K;
    type Act = BlockQ8K;
    type Packed = BlockQ6Kx8;

    fn pack(rows: &[BlockQ6K; X8_ROWS]) -> BlockQ6Kx8 {
        let mut p = BlockQ6Kx8 {
            d: gather(rows, |r| r.d),
            scales: [[0; X8_ROWS]; 16],
            ql: [0; X8_ROWS * 128],
            qh: [0; X8_ROWS * 64],
        };
        for (k, r) in rows.iter().enumerate() {
            for g in 0..16 {
                p.scales[g][k] = r.scales[g];
            }
        }
        interleave_words(gather(rows, |r| &r.ql), &mut p.ql);
        interleave_words(gather(rows, |r| &r.qh), &mut p.qh);
        p
    }

    fn row(p: &BlockQ6Kx8, k: usize) -> BlockQ6K {
        BlockQ6K {
            ql: row_words(&p.ql, k),
            qh: row_words(&p.qh, k),
            scales: core::array::from_fn(|g| p.scales[g][k]),
            d: p.d[k],
        }
    }

    #[inline(always)]
    fn term(w: &BlockQ6K, a: &BlockQ8K) -> f32 {
        block_term_k_sym(w.d, a, block_dot_q6_k_q8_k(w, a))
    }
}

x8_twins!(
    Q6Kx8,
    repack_q6_k_x8,
    unpack_row_q6_k_x8,
    gemm_q6_kx8_q8_k,
    "Q6_K"
);
