//! Kernels of attention over a KV cache: the exponentials of one block of scores (an online
//! softmax works block by block) and the probability-weighted sum of value rows, for caches of
//! F32, F16 or Q8_0 rows. The scores themselves are dot products of cached key rows with the
//! query, which [`crate::ops::gemm`] computes in the key's own format (the query is converted
//! to the key type's `vec_dot_type`, never the cache to f32).
//!
//! Like [`crate::ops`], a portable table of scalar twins ([`generic`]) is overlaid once by the
//! best tier the CPU has; every tier's kernels equal the twins bit for bit
//! (`kernels/tests/tier_twins_attention.rs`). The AVX-512 tier has its own softmax and F16
//! weighted sums (with the scores, the bulk of a long prefill's attention) and uses the AVX2
//! kernels for the rest (the F32 and Q8_0 caches, not the default).

pub mod generic;

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(target_arch = "aarch64")]
pub mod neon;

use half::f16;

use crate::blocks::BlockQ8_0;
use crate::error::{KernelError, Operand};
use crate::ggml_type::GgmlType;
use crate::tier::Tier;

/// The element types a KV cache may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KvType {
    /// 32-bit floats: exact, 4 bytes an element.
    F32,
    /// IEEE half precision: 2 bytes an element.
    F16,
    /// ggml's Q8_0 (blocks of 32 signed bytes and one f16 scale): 34 bytes per 32 elements.
    Q8_0,
}

impl KvType {
    /// Every type, widest first.
    pub const ALL: [KvType; 3] = [KvType::F32, KvType::F16, KvType::Q8_0];

    /// The ggml type of the cached rows.
    pub const fn ggml_type(self) -> GgmlType {
        match self {
            KvType::F32 => GgmlType::F32,
            KvType::F16 => GgmlType::F16,
            KvType::Q8_0 => GgmlType::Q8_0,
        }
    }

    /// The name llama.cpp's `--cache-type-k` uses (`f32`, `f16`, `q8_0`).
    pub const fn name(self) -> &'static str {
        match self {
            KvType::F32 => "f32",
            KvType::F16 => "f16",
            KvType::Q8_0 => "q8_0",
        }
    }

    /// Parses a [`KvType::name`].
    pub fn from_name(name: &str) -> Option<KvType> {
        KvType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
    }
}

type SoftmaxFn = unsafe fn(&mut [f32], f32) -> (f32, f32);
type WeightedSumFn<T> = unsafe fn(&[T], &[f32], &mut [f32]);
/// `(rows, w, w_stride, d, acc)`: [`AttentionOps::weighted_sums`] after its checks.
type WeightedSumsFn<T> = unsafe fn(&[T], &[f32], usize, usize, &mut [f32]);

/// One tier's attention kernels.
#[derive(Clone, Copy, Debug)]
pub struct AttentionOps {
    tier: Tier,
    softmax: SoftmaxFn,
    sum_f32: WeightedSumFn<f32>,
    sum_f16: WeightedSumFn<f16>,
    sum_q8_0: WeightedSumFn<BlockQ8_0>,
    /// Several queries' sums over F16 rows in one pass, where the tier has a kernel for it.
    sums_f16: Option<WeightedSumsFn<f16>>,
    /// The same for Q8_0 rows.
    sums_q8_0: Option<WeightedSumsFn<BlockQ8_0>>,
}

/// The portable table.
fn generic_ops() -> AttentionOps {
    AttentionOps {
        tier: Tier::Generic,
        softmax: generic::softmax_block,
        sum_f32: generic::weighted_sum_f32,
        sum_f16: generic::weighted_sum_f16,
        sum_q8_0: generic::weighted_sum_q8_0,
        sums_f16: None,
        sums_q8_0: None,
    }
}

/// The kernels of `tier`, or of the generic tier when this CPU lacks it (check
/// [`AttentionOps::tier`]).
pub fn for_tier(tier: Tier) -> AttentionOps {
    let mut t = generic_ops();
    if !tier.is_supported() {
        return t;
    }
    match tier {
        #[cfg(target_arch = "x86_64")]
        Tier::Avx2 | Tier::Avx512 => {
            t = AttentionOps {
                tier,
                softmax: avx2::softmax_block_avx2,
                sum_f32: avx2::weighted_sum_f32_avx2,
                sum_f16: avx2::weighted_sum_f16_avx2,
                sum_q8_0: avx2::weighted_sum_q8_0_avx2,
                sums_f16: Some(avx2::weighted_sums_f16_avx2),
                sums_q8_0: Some(avx2::weighted_sums_q8_0_avx2),
            };
            if tier == Tier::Avx512 {
                t.softmax = avx512::softmax_block_avx512;
                t.sum_f16 = avx512::weighted_sum_f16_avx512;
                t.sums_f16 = Some(avx512::weighted_sums_f16_avx512);
            }
        }
        #[cfg(target_arch = "aarch64")]
        Tier::Neon | Tier::Dotprod | Tier::I8mm => {
            t = AttentionOps {
                tier,
                softmax: neon::softmax_block_neon,
                sum_f32: neon::weighted_sum_f32_neon,
                sum_f16: neon::weighted_sum_f16_neon,
                sum_q8_0: neon::weighted_sum_q8_0_neon,
                sums_f16: None,
                sums_q8_0: None,
            };
        }
        _ => {}
    }
    t
}

/// The kernels of [`crate::tier::active`], chosen once.
#[cfg(feature = "std")]
pub fn active() -> &'static AttentionOps {
    static ACTIVE: std::sync::OnceLock<AttentionOps> = std::sync::OnceLock::new();
    ACTIVE.get_or_init(|| for_tier(crate::tier::active()))
}

/// Without `std`: the generic kernels.
#[cfg(not(feature = "std"))]
pub fn active() -> &'static AttentionOps {
    static GENERIC: AttentionOps = AttentionOps {
        tier: Tier::Generic,
        softmax: generic::softmax_block,
        sum_f32: generic::weighted_sum_f32,
        sum_f16: generic::weighted_sum_f16,
        sum_q8_0: generic::weighted_sum_q8_0,
        sums_f16: None,
        sums_q8_0: None,
    };
    &GENERIC
}

/// [`AttentionOps::softmax_block`] with the active tier.
#[inline]
pub fn softmax_block(scores: &mut [f32], scale: f32) -> (f32, f32) {
    active().softmax_block(scores, scale)
}

/// [`AttentionOps::weighted_sum`] with the active tier.
#[inline]
pub fn weighted_sum(
    ty: KvType,
    rows: &[u8],
    w: &[f32],
    acc: &mut [f32],
) -> Result<(), KernelError> {
    active().weighted_sum(ty, rows, w, acc)
}

/// [`AttentionOps::weighted_sums`] with the active tier.
#[inline]
pub fn weighted_sums(
    ty: KvType,
    rows: &[u8],
    w: &[f32],
    w_stride: usize,
    acc: &mut [f32],
    d: usize,
) -> Result<(), KernelError> {
    active().weighted_sums(ty, rows, w, w_stride, acc, d)
}

impl AttentionOps {
    /// The tier whose kernels these are.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// One block of scores, in place: `s[i] ← exp(s[i]·scale − m)` with `m` the largest
    /// `s[i]·scale` (NaN scores are ignored for `m` and stay NaN); returns `(m, Σ s[i])`, or
    /// `(−∞, 0)` for an empty block.
    pub fn softmax_block(&self, scores: &mut [f32], scale: f32) -> (f32, f32) {
        // SAFETY: any slice is valid; the table holds kernels of a supported tier only.
        unsafe { (self.softmax)(scores, scale) }
    }

    /// `acc[j] += Σ_p w[p] · row_p[j]`: `rows` holds `w.len()` rows of `acc.len()` elements
    /// stored as `ty` (whole Q8_0 blocks), aligned for the type.
    pub fn weighted_sum(
        &self,
        ty: KvType,
        rows: &[u8],
        w: &[f32],
        acc: &mut [f32],
    ) -> Result<(), KernelError> {
        let d = acc.len();
        check_rows(ty, rows, row_bytes(ty, d)?, w.len())?;
        if rows.is_empty() || d == 0 {
            return Ok(());
        }
        // SAFETY: whole rows of the type, aligned (checked above); the kernels read `w.len()`
        // rows of `d` elements; the table holds kernels of a supported tier only.
        unsafe {
            match ty {
                KvType::F32 => (self.sum_f32)(bytemuck::cast_slice(rows), w, acc),
                KvType::F16 => (self.sum_f16)(bytemuck::cast_slice(rows), w, acc),
                KvType::Q8_0 => (self.sum_q8_0)(bytemuck::cast_slice(rows), w, acc),
            }
        }
        Ok(())
    }

    /// [`AttentionOps::weighted_sum`] for `acc.len() / d` queries over the same rows in one
    /// pass: query `q`'s weights are `w[q·w_stride..][..n]` (`n` the rows in `rows`), its
    /// accumulator `acc[q·d..(q + 1)·d]`, and each accumulator ends bit for bit as
    /// [`AttentionOps::weighted_sum`] would leave it (tiers that have a kernel for it convert
    /// each row once for all the queries).
    pub fn weighted_sums(
        &self,
        ty: KvType,
        rows: &[u8],
        w: &[f32],
        w_stride: usize,
        acc: &mut [f32],
        d: usize,
    ) -> Result<(), KernelError> {
        let g = ty.ggml_type();
        if d == 0 || !acc.len().is_multiple_of(d) {
            return Err(KernelError::Length {
                ty: g,
                what: Operand::Dst,
                expected: acc.len().div_ceil(d.max(1)) * d,
                given: acc.len(),
            });
        }
        let row = row_bytes(ty, d)?;
        let n = rows.len() / row;
        let n_q = acc.len() / d;
        if n_q == 0 {
            return Ok(());
        }
        let needed = (n_q - 1)
            .checked_mul(w_stride)
            .and_then(|x| x.checked_add(n))
            .ok_or(KernelError::Overflow { ty: g, n: d })?;
        if w.len() < needed || (n_q > 1 && w_stride < n) {
            return Err(KernelError::Length {
                ty: g,
                what: Operand::Activations,
                expected: needed.max(n_q * n),
                given: w.len(),
            });
        }
        check_rows(ty, rows, row, n)?;
        match (ty, self.sums_f16, self.sums_q8_0) {
            (KvType::F16, Some(sums), _) if n > 0 => {
                // SAFETY: whole aligned rows (checked above), `n_q` weight rows of `n` at
                // `w_stride` within `w`, `n_q` accumulators of `d`; a supported tier's kernel.
                unsafe { sums(bytemuck::cast_slice(rows), w, w_stride, d, acc) };
                Ok(())
            }
            (KvType::Q8_0, _, Some(sums)) if n > 0 => {
                // SAFETY: as for F16 (`d` is a multiple of 32: whole blocks, checked above).
                unsafe { sums(bytemuck::cast_slice(rows), w, w_stride, d, acc) };
                Ok(())
            }
            _ => {
                for (q, a) in acc.chunks_exact_mut(d).enumerate() {
                    self.weighted_sum(ty, rows, &w[q * w_stride..][..n], a)?;
                }
                Ok(())
            }
        }
    }
}

/// Bytes of a row of `d` elements of type `ty` (whole blocks only).
fn row_bytes(ty: KvType, d: usize) -> Result<usize, KernelError> {
    let g = ty.ggml_type();
    if !d.is_multiple_of(g.block_size()) {
        return Err(KernelError::NotBlockMultiple { ty: g, n: d });
    }
    (d / g.block_size())
        .checked_mul(g.type_size())
        .ok_or(KernelError::Overflow { ty: g, n: d })
}

/// Checks that `rows` holds `n` rows of `row` bytes of type `ty`, aligned for it.
fn check_rows(ty: KvType, rows: &[u8], row: usize, n: usize) -> Result<(), KernelError> {
    let g = ty.ggml_type();
    let expected = row.checked_mul(n).ok_or(KernelError::Overflow {
        ty: g,
        n: row / g.type_size() * g.block_size(),
    })?;
    if rows.len() != expected {
        return Err(KernelError::Length {
            ty: g,
            what: Operand::Src,
            expected,
            given: rows.len(),
        });
    }
    let align = crate::ops::block_align(g);
    if !(rows.as_ptr() as usize).is_multiple_of(align) && !rows.is_empty() {
        return Err(KernelError::Misaligned {
            ty: g,
            what: Operand::Src,
            align,
        });
    }
    Ok(())
}
