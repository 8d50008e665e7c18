//! AVX-512 (F/BW/VL + VNNI) kernels for Q4_K weights × Q8_K activations (vec_dot, gemv, gemm),
//! bit-identical to the scalar twins in [`crate::generic::q4_k`].

use core::arch::x86_64::*;

use super::k_blocks::{self as kb, KWeightAvx512};
use crate::blocks::{BlockQ4K, BlockQ8K};
use crate::ggml_type::GgmlType;
use crate::table::{gemm_entry, gemv_entry, vec_dot_entry, DotKernels, KernelTable};
use crate::x86::k_tile_walk as walk;

/// A Q4_K block unpacked: quants in value order (64 per vector), the scales spread by
/// [`kb::spread_scales32`], and the minimums over the 16 per-16 activation sums (`mn[j / 2]` at
/// position `j`).
pub(crate) struct PreparedQ4K {
    q: [__m512i; 4],
    sc: [__m512i; 4],
    mins16: __m256i,
}

/// Marker for the Q4_K drivers.
pub(crate) struct Q4KAvx512;

impl KWeightAvx512 for Q4KAvx512 {
    type Block = BlockQ4K;
    type Prepared = PreparedQ4K;
    const OFFSET_SHIFT: Option<u32> = None;

    #[inline(always)]
    fn scale_bits(w: &BlockQ4K) -> u32 {
        w.d.to_bits() as u32 | (w.dmin.to_bits() as u32) << 16
    }

    #[inline(always)]
    unsafe fn prepare(w: &BlockQ4K) -> PreparedQ4K {
        // `d`, `dmin` and the 12 packed scale bytes.
        let head: &[u8; 16] = bytemuck::bytes_of(w)[..16].try_into().unwrap();
        // SAFETY: each broadcast reads 32 bytes at `32c` of the 128-byte `qs`; the rest is
        // register work; the caller guarantees AVX-512 F/BW.
        unsafe {
            // Vector c: chunk c's low nibbles (sub-block 2c) in the low half, its high nibbles
            // (sub-block 2c + 1) in the high half.
            let shift = kb::words_lo_hi(0, 4);
            let m4 = _mm512_set1_epi8(0x0f);
            let mut q = [_mm512_setzero_si512(); 4];
            for (c, qv) in q.iter_mut().enumerate() {
                let raw = kb::broadcast32(w.qs.as_ptr().add(32 * c));
                *qv = _mm512_and_si512(_mm512_srlv_epi16(raw, shift), m4);
            }
            let (sc8, mins16) = kb::scales_mins_k4(head);
            PreparedQ4K {
                q,
                sc: kb::spread_scales32(sc8),
                mins16,
            }
        }
    }

    #[inline(always)]
    unsafe fn partials(p: &PreparedQ4K, a: &BlockQ8K) -> (__m256i, __m256i) {
        // SAFETY: the caller guarantees AVX-512 F/BW and VNNI.
        unsafe { (kb::dot_scaled(&p.q, &p.sc, a), kb::dot_bsums(p.mins16, a)) }
    }
}

/// Dot product of a Q4_K row with a Q8_K row.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
pub unsafe fn vec_dot_q4_k_q8_k_avx512(x: &[BlockQ4K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::vec_dot::<kb::Avx512Groups<Q4KAvx512>>(x, y) }
}

/// `out[r] = vec_dot(row r of w, act)`, rows of `act.len()` blocks.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemv_q4_k_q8_k_avx512(w: &[BlockQ4K], act: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::gemv::<kb::Avx512Groups<Q4KAvx512>, { kb::GEMV_ROWS }>(w, act, out) }
}

/// `out[c * rows + r] = vec_dot(row r of w, activation row c)`.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL, AVX-512 VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn gemm_q4_k_q8_k_avx512(
    w: &[BlockQ4K],
    act: &[BlockQ8K],
    n_act: usize,
    out: &mut [f32],
) {
    // SAFETY: this function's contract guarantees the features.
    unsafe { walk::gemm::<kb::Avx512Groups<Q4KAvx512>>(w, act, n_act, out) }
}

/// Registers the Q4_K kernels of this file in an AVX-512 table (only for a CPU with AVX-512
/// F/BW/VL, VNNI, AVX2, FMA and F16C).
pub(crate) fn register(t: &mut KernelTable) {
    t.set_dot(
        GgmlType::Q4_K,
        DotKernels {
            vec_dot: vec_dot_entry!(
                BlockQ4K,
                BlockQ8K,
                vec_dot_q4_k_q8_k_avx512,
                features = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
            ),
            gemv: Some(gemv_entry!(BlockQ4K, BlockQ8K, gemv_q4_k_q8_k_avx512)),
            gemm: Some(gemm_entry!(BlockQ4K, BlockQ8K, gemm_q4_k_q8_k_avx512)),
        },
    );
}
