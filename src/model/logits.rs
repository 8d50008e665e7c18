//! From the final hidden states to logits (final norm, output head, soft-cap), for one token
//! or for many at once, and the log-probability of a token under a row of logits.
//!
//! Many rows at once is what scoring text needs (perplexity): one product of the output head
//! reads its weights once for all of them (a gemm instead of one gemv per token), which matters
//! when the head is the largest matrix of the model (Gemma 3's is 262,144 × 640). The kernels
//! make every gemm element equal to the gemv element bit for bit, and the precise head refines
//! each row on its own, so a row's logits do not depend on how many rows were computed with it.

use super::matmul::QuantizedActs;
use super::norm::rms_norm;
use super::output_head::{refine_logits, HeadScratch, OutputHead};
use super::scratch::Scratch;
use super::{Model, ModelError};
use crate::worker_pool::WorkerPool;

impl Model {
    /// Logits of the final hidden state in row `row` of `sc.x` into `sc.logits`.
    pub(crate) fn logits_of_row(
        &self,
        pool: &mut WorkerPool,
        sc: &mut Scratch,
        row: usize,
        head: OutputHead,
    ) -> Result<(), ModelError> {
        let d = self.hparams.n_embd;
        let w = self.vector(&self.weights.output_norm);
        rms_norm(
            &sc.x[row * d..][..d],
            w,
            self.hparams.norm_eps,
            &mut sc.last,
        );
        let parts = HeadParts {
            acts: &mut sc.acts,
            worker_tmp: &mut sc.worker_tmp,
            hs: sc.head.as_mut(),
        };
        self.head_product(pool, &sc.last, parts, &mut sc.logits, head)
    }

    /// Logits of the final hidden states in rows `rows` of `sc.x` (at most `sc.max_batch`)
    /// into `out` (rows.len(), n_vocab), from one product of the output head. Uses `sc.xn`
    /// for the normed rows, so it must run after the forward pass, before the next one.
    pub(crate) fn logits_of_rows(
        &self,
        pool: &mut WorkerPool,
        sc: &mut Scratch,
        rows: std::ops::Range<usize>,
        out: &mut [f32],
        head: OutputHead,
    ) -> Result<(), ModelError> {
        let d = self.hparams.n_embd;
        let n = rows.len();
        debug_assert!(n <= sc.max_batch && rows.end <= sc.max_batch);
        debug_assert_eq!(out.len(), n * self.hparams.n_vocab);
        let w = self.vector(&self.weights.output_norm);
        for (r, xn) in rows.zip(sc.xn.chunks_exact_mut(d)) {
            rms_norm(&sc.x[r * d..][..d], w, self.hparams.norm_eps, xn);
        }
        let parts = HeadParts {
            acts: &mut sc.acts,
            worker_tmp: &mut sc.worker_tmp,
            hs: sc.head.as_mut(),
        };
        self.head_product(pool, &sc.xn[..n * d], parts, out, head)
    }

    /// `out` (t, n_vocab) = the output head applied to the normed rows `xn` (t, n_embd),
    /// refined row by row for the precise head, then soft-capped as the family asks.
    fn head_product(
        &self,
        pool: &mut WorkerPool,
        xn: &[f32],
        parts: HeadParts<'_>,
        out: &mut [f32],
        head: OutputHead,
    ) -> Result<(), ModelError> {
        let HeadParts {
            acts,
            worker_tmp,
            hs,
        } = parts;
        let (d, n_vocab) = (self.hparams.n_embd, self.hparams.n_vocab);
        let t = xn.len() / d;
        let m = &self.weights.output;
        acts.invalidate();
        acts.prepare(xn, m.ty.vec_dot_type())?;
        // A batch of rows is cut into chunks whose tiles fit the workers' scratch.
        self.run_products(pool, worker_tmp, &[self.product(m, acts, t, out)?])?;
        if let (OutputHead::Precise, Some(hs)) = (head, hs) {
            let norms = self.head_row_norms(pool)?;
            // The activation bytes the product just used (held, not quantized again).
            let first = acts
                .get(m.ty.vec_dot_type())
                .ok_or_else(|| ModelError::Unsupported("head activations".into()))?;
            let act_row = first.len() / t;
            for ((x, q), logits) in xn
                .chunks_exact(d)
                .zip(first.chunks_exact(act_row))
                .zip(out.chunks_exact_mut(n_vocab))
            {
                refine_logits(pool, self.data(m), m, norms, x, q, logits, hs)?;
            }
        }
        acts.invalidate();
        if let Some(cap) = self.spec.final_logit_softcap {
            out.iter_mut().for_each(|l| *l = cap * (*l / cap).tanh());
        }
        Ok(())
    }
}

/// The session's buffers a product of the output head uses.
struct HeadParts<'a> {
    acts: &'a mut QuantizedActs,
    worker_tmp: &'a mut [f32],
    hs: Option<&'a mut HeadScratch>,
}

/// The natural-log probability of token `tok` under the softmax of `logits`, as llama.cpp's
/// perplexity computes it: the maximum in f32, `exp(l - max)` in f32 summed in f64.
pub(crate) fn log_prob(logits: &[f32], tok: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from((l - max).exp())).sum();
    f64::from(logits[tok] - max) - sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_prob_is_a_normalised_log_softmax() {
        let logits = [1.0f32, 2.0, 3.0, -50.0];
        // Each exp is an f32, as llama.cpp's: the probabilities sum to 1 within f32 rounding.
        let total: f64 = (0..4).map(|t| log_prob(&logits, t).exp()).sum();
        assert!((total - 1.0).abs() < 1e-7, "{total}");
        let exact = 3.0 - (1f64.exp() + 2f64.exp() + 3f64.exp() + (-50f64).exp()).ln();
        assert!((log_prob(&logits, 2) - exact).abs() < 1e-6);
        // Large logits do not overflow.
        assert!((log_prob(&[1000.0, 1000.0], 0) - 0.5f64.ln()).abs() < 1e-12);
    }
}
