//! Q5_0 rows in x8 form ([`BlockQ5_0x8`]) with Q8_0 activations.

use super::{gather, interleave_words, row_words, x8_twins, X8Format};
use crate::blocks::{BlockQ5_0, BlockQ8_0};
use crate::blocks_x8::{BlockQ5_0x8, X8_ROWS};
use crate::generic::q5_0::{block_dot_q5_0_q8_0, block_term_q5_0_q8_0};

/// Nibble `n` spread over four bytes: bit `j` of `n` at bit 0 of byte `j`.
const SPREAD: [u32; 16] = {
    let mut t = [0u32; 16];
    let mut n = 0;
    while n < 16 {
        let mut j = 0;
        while j < 4 {
            t[n] |= ((n as u32 >> j) & 1) << (8 * j);
            j += 1;
        }
        n += 1;
    }
    t
};

/// Q5_0 × Q8_0 in x8 form.
pub struct Q5_0x8;

impl X8Format for Q5_0x8 {
    type Row = BlockQ5_0;
    type Act = BlockQ8_0;
    type Packed = BlockQ5_0x8;

    fn pack(rows: &[BlockQ5_0; X8_ROWS]) -> BlockQ5_0x8 {
        let mut p = BlockQ5_0x8 {
            d: gather(rows, |r| r.d),
            qh: [0; X8_ROWS * 4],
            qs: [0; X8_ROWS * 16],
        };
        interleave_words(gather(rows, |r| &r.qs), &mut p.qs);
        for (k, r) in rows.iter().enumerate() {
            // Value 4g + j's fifth bit (bit j of the row's nibble g) goes to bit g of byte
            // 4k + j: an 8×4 bit transpose, one spread nibble per g.
            let qh = u32::from_le_bytes(r.qh);
            let mut word = 0u32;
            for g in 0..8 {
                word |= SPREAD[((qh >> (4 * g)) & 0xf) as usize] << g;
            }
            p.qh[4 * k..4 * k + 4].copy_from_slice(&word.to_le_bytes());
        }
        p
    }

    fn row(p: &BlockQ5_0x8, k: usize) -> BlockQ5_0 {
        let mut qh = 0u32;
        for v in 0..32 {
            let (g, j) = (v / 4, v % 4);
            qh |= (((p.qh[4 * k + j] >> g) & 1) as u32) << v;
        }
        BlockQ5_0 {
            d: p.d[k],
            qh: qh.to_le_bytes(),
            qs: row_words(&p.qs, k),
        }
    }

    #[inline(always)]
    fn term(w: &BlockQ5_0, a: &BlockQ8_0) -> f32 {
        block_term_q5_0_q8_0(w, a, block_dot_q5_0_q8_0(w, a))
    }
}

x8_twins!(
    Q5_0x8,
    repack_q5_0_x8,
    unpack_row_q5_0_x8,
    gemm_q5_0x8_q8_0,
    "Q5_0"
);
