//! Q4_1 rows in x8 form ([`BlockQ4_1x8`]) with Q8_1 activations.

use super::{gather, interleave_words, row_words, x8_twins, X8Format};
use crate::blocks::{BlockQ4_1, BlockQ8_1};
use crate::blocks_x8::{BlockQ4_1x8, X8_ROWS};
use crate::generic::q4_1::{block_dot_q4_1_q8_1, block_term_q4_1_q8_1};

/// Q4_1 × Q8_1 in x8 form.
pub struct Q4_1x8;

impl X8Format for Q4_1x8 {
    type Row = BlockQ4_1;
    type Act = BlockQ8_1;
    type Packed = BlockQ4_1x8;

    fn pack(rows: &[BlockQ4_1; X8_ROWS]) -> BlockQ4_1x8 {
        let mut p = BlockQ4_1x8 {
            d: gather(rows, |r| r.d),
            m: gather(rows, |r| r.m),
            qs: [0; X8_ROWS * 16],
        };
        interleave_words(gather(rows, |r| &r.qs), &mut p.qs);
        p
    }

    fn row(p: &BlockQ4_1x8, k: usize) -> BlockQ4_1 {
        BlockQ4_1 {
            d: p.d[k],
            m: p.m[k],
            qs: row_words(&p.qs, k),
        }
    }

    #[inline(always)]
    fn term(w: &BlockQ4_1, a: &BlockQ8_1) -> f32 {
        block_term_q4_1_q8_1(w, a, block_dot_q4_1_q8_1(w, a))
    }
}

x8_twins!(
    Q4_1x8,
    repack_q4_1_x8,
    unpack_row_q4_1_x8,
    gemm_q4_1x8_q8_1,
    "Q4_1"
);
