//! The green-list scheme's two halves: which candidates are green (generation adds δ to their
//! logits, in the sampler chain) and the per-position test the detector counts.

use super::prf::Prf;
use super::scheme::{GreenListParams, MAX_CONTEXT};

/// A green list under one key.
#[derive(Clone, Debug)]
pub(crate) struct GreenList {
    prf: Prf,
    params: GreenListParams,
    /// Values below this are green: ⌊γ·2⁶⁴⌋.
    threshold: u64,
}

impl GreenList {
    pub(crate) fn new(prf: Prf, params: GreenListParams) -> GreenList {
        // γ ∈ (0, 1) (validated), so γ·2⁶⁴ fits; at least one value is green.
        let threshold = ((params.gamma * 18_446_744_073_709_551_616.0) as u64).max(1);
        GreenList {
            prf,
            params,
            threshold,
        }
    }

    /// The logit boost δ.
    pub(crate) fn delta(&self) -> f32 {
        self.params.delta
    }

    /// The exact probability that a value is green (the threshold over 2⁶⁴), the detector's null
    /// rate; γ itself for every γ with a short binary expansion.
    pub(crate) fn null_rate(&self) -> f64 {
        self.threshold as f64 / 18_446_744_073_709_551_616.0
    }

    /// The context length `h`.
    pub(crate) fn context(&self) -> usize {
        self.params.context
    }

    /// The anchor seed of a context id (see [`Prf::anchor_seed`]).
    #[inline]
    pub(crate) fn seed(&self, c: u32) -> u64 {
        self.prf.anchor_seed(c)
    }

    /// The colouring of every candidate after `history` (its last `h` ids): the context's anchor
    /// seeds are made once here, so each candidate then costs one SipHash.
    pub(crate) fn step(&self, history: &[u32]) -> GreenStep<'_> {
        let context = &history[history.len().saturating_sub(self.params.context)..];
        let mut step = GreenStep {
            list: self,
            context: [0; MAX_CONTEXT],
            seeds: [0; MAX_CONTEXT],
            len: context.len(),
        };
        for (i, &c) in context.iter().enumerate() {
            step.context[i] = c;
            step.seeds[i] = self.seed(c);
        }
        step
    }

    /// The (anchor, candidate) pair that decides `x` after `context` (whose anchor seeds are
    /// `seeds`), and whether it is green.
    #[inline]
    pub(crate) fn test_seeded(&self, context: &[u32], seeds: &[u64], x: u32) -> (u64, bool) {
        let v = self.prf.green_seeded(context, seeds, x);
        (v.pair(x), v.value < self.threshold)
    }

    /// Whether candidate `x` is green after `history` (one-off; use [`GreenList::step`] for
    /// many candidates).
    #[cfg(test)]
    pub(crate) fn is_green(&self, history: &[u32], x: u32) -> bool {
        self.step(history).is_green(x)
    }
}

/// The green list after one context.
pub(crate) struct GreenStep<'a> {
    list: &'a GreenList,
    context: [u32; MAX_CONTEXT],
    seeds: [u64; MAX_CONTEXT],
    len: usize,
}

impl GreenStep<'_> {
    /// Whether candidate `x` is green.
    #[inline]
    pub(crate) fn is_green(&self, x: u32) -> bool {
        self.list
            .test_seeded(&self.context[..self.len], &self.seeds[..self.len], x)
            .1
    }
}
