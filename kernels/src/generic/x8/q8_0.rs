//! Q8_0 rows in x8 form ([`BlockQ8_0x8`]) with Q8_0 activations.

use super::{gather, interleave_words, row_words, x8_twins, X8Format};
use crate::blocks::BlockQ8_0;
use crate::blocks_x8::{BlockQ8_0x8, X8_ROWS};
use crate::generic::q8_0::{block_dot_q8_0_q8_0, block_term_q8_0_q8_0};

/// Q8_0 × Q8_0 in x8 form.
pub struct Q8_0x8;

impl X8Format for Q8_0x8 {
    type Row = BlockQ8_0;
    type Act = BlockQ8_0;
    type Packed = BlockQ8_0x8;

    fn pack(rows: &[BlockQ8_0; X8_ROWS]) -> BlockQ8_0x8 {
        let mut p = BlockQ8_0x8 {
            d: gather(rows, |r| r.d),
            qs: [0; X8_ROWS * 32],
        };
        let qs: [[u8; 32]; X8_ROWS] = gather(rows, |r| bytemuck::cast(r.qs));
        interleave_words(gather(&qs, |q| q), bytemuck::cast_slice_mut(&mut p.qs));
        p
    }

    fn row(p: &BlockQ8_0x8, k: usize) -> BlockQ8_0 {
        let qs: [u8; 32] = row_words(bytemuck::cast_slice(&p.qs), k);
        BlockQ8_0 {
            d: p.d[k],
            qs: bytemuck::cast(qs),
        }
    }

    #[inline(always)]
    fn term(w: &BlockQ8_0, a: &BlockQ8_0) -> f32 {
        block_term_q8_0_q8_0(w, a, block_dot_q8_0_q8_0(w, a))
    }
}

x8_twins!(
    Q8_0x8,
    repack_q8_0_x8,
    unpack_row_q8_0_x8,
    gemm_q8_0x8_q8_0,
    "Q8_0"
);
