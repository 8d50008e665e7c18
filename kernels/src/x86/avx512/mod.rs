//! AVX-512 (F/BW/VL + VNNI) kernels, registered by `x86::overlay_avx512` on top of the AVX2
//! ones.

use core::arch::x86_64::__mmask16;

pub(crate) mod f16_few_queries;
pub mod f16_gemm;
pub mod float_dots;
pub(crate) mod k_blocks;
pub(crate) mod legacy_lanes;
pub(crate) mod legacy_tiles;
pub mod q2_k;
pub mod q3_k;
pub mod q4_0;
pub mod q4_1;
pub mod q4_1_x8;
pub mod q4_k;
pub mod q4_k_x8;
pub mod q5_0;
pub mod q5_0_x8;
pub mod q5_1;
pub mod q5_k;
pub mod q6_k;
pub mod q6_k_x8;
pub mod q8_0;
pub mod q8_0_x8;
pub mod q8_k;
pub mod quantize_q8;
pub(crate) mod x8_lanes;
pub(crate) mod x8_wide;

/// Lanes `0..len` of a sixteen-lane mask (`len <= 16`): the live elements of a strip's last
/// register, for masked loads and stores.
#[inline(always)]
pub(crate) fn first_lanes(len: usize) -> __mmask16 {
    debug_assert!(len <= 16);
    ((1u32 << len) - 1) as __mmask16
}
