//! Matrix products through `retort-kernels`: activations are quantized once to the weight's
//! activation type (as ggml does), then rows or tokens are split across the session's threads.
//!
//! Every output element comes from the same kernel call pattern whatever the split (the kernels
//! guarantee gemv/gemm elements equal vec_dot bit for bit), so results do not depend on the
//! thread count.

use rayon::prelude::*;
use retort_kernels::{ops, GgmlType};

use super::error::ModelError;
use super::packed::rows_product;
use super::weights::Matrix;

/// Activations quantized for matrix products, cached per activation type until the input
/// changes, so Q, K and V (or gate and up) share one quantization.
#[derive(Default)]
pub struct QuantizedActs {
    slots: Vec<(GgmlType, Vec<u8>)>,
    valid: usize,
}

impl QuantizedActs {
    /// Buffers for up to `n_types` activation types of `bytes` bytes each (allocated once).
    pub fn with_capacity(n_types: usize, bytes: usize) -> QuantizedActs {
        QuantizedActs {
            slots: (0..n_types)
                .map(|_| (GgmlType::F32, Vec::with_capacity(bytes)))
                .collect(),
            valid: 0,
        }
    }

    /// Forgets cached quantizations: the input has changed.
    pub fn invalidate(&mut self) {
        self.valid = 0;
    }

    /// `x` (`t` rows of `cols`) quantized as `ty`, reusing a cached copy when there is one.
    pub fn get(&mut self, x: &[f32], ty: GgmlType) -> Result<&[u8], ModelError> {
        if let Some(i) = self.slots[..self.valid].iter().position(|(t, _)| *t == ty) {
            return Ok(&self.slots[i].1);
        }
        if self.valid == self.slots.len() {
            // More distinct types than slots: recycle the last one.
            self.valid -= 1;
        }
        let slot = &mut self.slots[self.valid];
        let bytes = ty.row_bytes(x.len() as u64).ok_or_else(|| {
            ModelError::Unsupported(format!("{} activations of {} elements", ty, x.len()))
        })? as usize;
        slot.0 = ty;
        slot.1.resize(bytes, 0);
        ops::quantize_row(ty, x, &mut slot.1)?;
        self.valid += 1;
        Ok(&self.slots[self.valid - 1].1)
    }
}

/// `out[t][r] = row r of m · x[t]` for `t` input rows: `x` is (t, m.cols), `out` is (t, m.rows).
pub fn matmul(
    weights: &[u8], // (m.rows, m.cols) as m.ty: the matrix's own bytes
    m: &Matrix,
    x: &[f32],
    t: usize,
    acts: &mut QuantizedActs,
    out: &mut [f32],
    n_threads: usize,
) -> Result<(), ModelError> {
    debug_assert_eq!(x.len(), t * m.cols);
    debug_assert_eq!(out.len(), t * m.rows);
    let act_ty = m.ty.vec_dot_type();
    let xq = acts.get(x, act_ty)?;
    let act_row = xq.len() / t;
    if t >= n_threads && t > 1 {
        // Prefill: each thread takes whole tokens against all rows (gemm).
        let per = t.div_ceil(n_threads);
        out.par_chunks_mut(per * m.rows)
            .zip(xq.par_chunks(per * act_row))
            .try_for_each(|(o, a)| {
                let n_act = a.len() / act_row;
                rows_product(m, weights, 0..m.rows, a, n_act, o, m.rows)
            })?;
    } else {
        // Decode: split each token's rows across threads (gemv); chunks of at least 16 rows,
        // whole stripes of eight for repacked matrices.
        let chunk = m.rows.div_ceil(n_threads * 4).max(16).next_multiple_of(8);
        for (o, a) in out.chunks_mut(m.rows).zip(xq.chunks(act_row)) {
            o.par_chunks_mut(chunk)
                .enumerate()
                .try_for_each(|(i, oc)| {
                    let r0 = i * chunk;
                    rows_product(m, weights, r0..r0 + oc.len(), a, 1, oc, oc.len())
                })?;
        }
    }
    Ok(())
}
