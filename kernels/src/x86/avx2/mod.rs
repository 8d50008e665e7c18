//! AVX2 (+FMA +F16C) kernels, registered by `x86::overlay_avx2`.

pub mod f16_convert;
pub mod f16_dot;
pub mod f32_dot;
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
