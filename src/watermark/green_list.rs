//! The green-list scheme's two halves: which candidates are green (generation adds δ to their
//! logits, in the sampler chain) and the per-position test the detector counts.

use super::prf::Prf;
use super::scheme::GreenListParams;

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

    /// Whether candidate `x` is green after `context` (its last `h` ids are used).
    #[inline]
    pub(crate) fn is_green(&self, context: &[u32], x: u32) -> bool {
        self.test(context, x).1
    }

    /// The (anchor, candidate) pair that decides `x` after `context`, and whether it is green.
    #[inline]
    pub(crate) fn test(&self, context: &[u32], x: u32) -> (u64, bool) {
        let context = &context[context.len().saturating_sub(self.params.context)..];
        let v = self.prf.green(context, x);
        (v.pair(x), v.value < self.threshold)
    }
}
