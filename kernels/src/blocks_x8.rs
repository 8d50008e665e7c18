//! Row-interleaved ("x8") block layouts: the same block of eight consecutive weight rows stored
//! side by side, so that one activation load serves eight rows and the eight rows' sums land in
//! the eight 32-bit lanes of one 256-bit register (four lanes of two NEON registers).
//!
//! Every layout holds exactly the data of its eight source blocks (rows `0..8`, here `k`),
//! rearranged; [`crate::generic::x8`] repacks them and gives every row back unchanged.
//!
//! The common arrangement is a **word interleave**: a source block's quant bytes are read as
//! little 4-byte words, and word `w` of row `k` lands at bytes `32·w + 4k .. 32·w + 4k + 4`. So 32
//! bytes at `32·w` hold word `w` of all eight rows, row `k` in 32-bit lane `k`, and a dot product
//! against four activation bytes broadcast to every lane gives each row's partial sum in its own
//! lane (`maddubs` + `madd`, `vpdpbusd`, `sdot` by lane). For nibble-packed quants, word `w`'s
//! low nibbles hold four consecutive values and its high nibbles four others (which ones is said
//! per type). The f16 scales of the eight rows are stored as eight consecutive values, one load.

use bytemuck::{Pod, Zeroable};
use half::f16;

use crate::blocks::QK;
use crate::ggml_type::QK_K;

/// Rows per interleaved block.
pub const X8_ROWS: usize = 8;

/// Eight Q4_1 blocks (one per row `k`): `x = d[k]·q + m[k]`, q in 0..16.
///
/// `qs` is the word interleave of the rows' `qs` (four words each): word `i` holds values
/// `4i..4i+4` in its low nibbles and `16+4i..16+4i+4` in its high nibbles.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ4_1x8 {
    /// Scale of each row.
    pub d: [f16; X8_ROWS],
    /// Minimum of each row.
    pub m: [f16; X8_ROWS],
    /// Quants, word-interleaved.
    pub qs: [u8; X8_ROWS * QK / 2],
}

/// Eight Q5_0 blocks: `x = d[k]·(q - 16)`, q in 0..32.
///
/// `qs` holds the low four bits as [`BlockQ4_1x8::qs`] does. `qh` holds the fifth bits in the
/// word arrangement of the unpacked values: bit `g` of byte `4k + j` is the fifth bit of row
/// `k`'s value `4g + j` (so shifting `qh` right by `g` and masking bit 0 of each byte gives the
/// fifth bits of values `4g..4g+4` in place).
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ5_0x8 {
    /// Scale of each row.
    pub d: [f16; X8_ROWS],
    /// Fifth bits, by value word (see above).
    pub qh: [u8; X8_ROWS * 4],
    /// Low four bits, word-interleaved.
    pub qs: [u8; X8_ROWS * QK / 2],
}

/// Eight Q8_0 blocks: `x = d[k]·q`.
///
/// `qs` is the word interleave of the rows' quants: word `g` holds values `4g..4g+4`.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ8_0x8 {
    /// Scale of each row.
    pub d: [f16; X8_ROWS],
    /// Quants, word-interleaved.
    pub qs: [i8; X8_ROWS * QK],
}

/// Eight Q4_K super-blocks: `x = d[k]·sc·q - dmin[k]·m` per sub-block of 32.
///
/// The 6-bit scales and minimums are stored unpacked, arranged for the lanes: `scales[s][k]`
/// is row `k`'s scale of sub-block `s`; `mins[p][2k + h]` is row `k`'s minimum of sub-block
/// `2p + h` (two sub-blocks per 16-bit pair, ready for a multiply-add with pairs of activation
/// sums). `qs` is the word interleave of the rows' `qs` (32 words each): word `8c + i` holds
/// values `64c + 4i..+4` (sub-block `2c`) in its low nibbles and `64c + 32 + 4i..+4` (sub-block
/// `2c + 1`) in its high nibbles.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ4Kx8 {
    /// Super-block scale of each row.
    pub d: [f16; X8_ROWS],
    /// Super-block minimum scale of each row.
    pub dmin: [f16; X8_ROWS],
    /// Sub-block scales (6 bits), `[sub][row]`.
    pub scales: [[u8; X8_ROWS]; 8],
    /// Sub-block minimums (6 bits), `[sub pair][row·2 + which]`.
    pub mins: [[u8; 2 * X8_ROWS]; 4],
    /// Quants, word-interleaved.
    pub qs: [u8; X8_ROWS * QK_K / 2],
}

/// Eight Q6_K super-blocks: `x = d[k]·sc·(q - 32)` per sub-block of 16.
///
/// `scales[g][k]` is row `k`'s scale of sub-block `g`. `ql` and `qh` are the word interleaves
/// of the rows' `ql` (32 words) and `qh` (16 words), so a value's bits sit where
/// [`crate::generic::q6_k`] documents them, word for word: `ql` word `16h + 8p + i` holds values
/// `128h + 32p + 4i..+4` in its low nibbles and `128h + 64 + 32p + 4i..+4` in its high nibbles;
/// bits `2g..2g+2` of `qh` word `8h + i` are the top bits of values `128h + 32g + 4i..+4`.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ6Kx8 {
    /// Super-block scale of each row.
    pub d: [f16; X8_ROWS],
    /// Sub-block scales, `[sub][row]`.
    pub scales: [[i8; X8_ROWS]; 16],
    /// Low four bits, word-interleaved.
    pub ql: [u8; X8_ROWS * QK_K / 2],
    /// Top two bits, word-interleaved.
    pub qh: [u8; X8_ROWS * QK_K / 4],
}

const _: () = assert!(core::mem::size_of::<BlockQ4_1x8>() == 8 * 20);
const _: () = assert!(core::mem::size_of::<BlockQ5_0x8>() == 8 * 22);
const _: () = assert!(core::mem::size_of::<BlockQ8_0x8>() == 8 * 34);
// The unpacked scales and minimums take 128 bytes where the rows' packed ones take 96.
const _: () = assert!(core::mem::size_of::<BlockQ4Kx8>() == 8 * 144 + 32);
const _: () = assert!(core::mem::size_of::<BlockQ6Kx8>() == 8 * 210);

/// Bytes of one x8 block (eight rows' blocks) of weight type `ty`, for the types that have an
/// x8 form.
pub const fn x8_block_bytes(ty: crate::GgmlType) -> Option<usize> {
    use crate::GgmlType as T;
    match ty {
        T::Q4_1 => Some(core::mem::size_of::<BlockQ4_1x8>()),
        T::Q5_0 => Some(core::mem::size_of::<BlockQ5_0x8>()),
        T::Q8_0 => Some(core::mem::size_of::<BlockQ8_0x8>()),
        T::Q4_K => Some(core::mem::size_of::<BlockQ4Kx8>()),
        T::Q6_K => Some(core::mem::size_of::<BlockQ6Kx8>()),
        _ => None,
    }
}

/// Alignment every x8 block needs (its f16 scales').
pub const X8_ALIGN: usize = 2;
