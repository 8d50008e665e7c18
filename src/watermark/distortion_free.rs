//! The distortion-free scheme's two halves: the keyed choice among the sampler's final
//! candidates (exponential minimum sampling) and the per-position score the detector sums.

use super::prf::{unit_open, Prf};
use super::scheme::DistortionFreeParams;

/// Distortion-free sampling under one key.
#[derive(Clone, Debug)]
pub(crate) struct DistortionFree {
    prf: Prf,
    params: DistortionFreeParams,
}

impl DistortionFree {
    pub(crate) fn new(prf: Prf, params: DistortionFreeParams) -> DistortionFree {
        DistortionFree { prf, params }
    }

    /// The fraction of steps drawn from the sampler's RNG instead.
    pub(crate) fn free_draws(&self) -> f64 {
        self.params.free_draws
    }

    /// The digest of the context before the next token (its last `h` ids).
    #[inline]
    pub(crate) fn digest(&self, context: &[u32]) -> u64 {
        self.prf
            .digest(&context[context.len().saturating_sub(self.params.context)..])
    }

    /// The keyed choice among `(id, probability)` candidates (probabilities of any common scale):
    /// `argmax r(x)^(1/p(x))`, computed as `ln r(x) / p(x)`. With `r` uniform and independent
    /// per candidate, `x` wins with probability exactly `p(x)` (the exponential race: `-ln r(x)`
    /// is Exp(1), so `-ln r(x) / p(x)` is Exp(p(x)) and the smallest is `x` with probability
    /// `p(x) / Σp`). Candidates with probability 0 never win; ties keep the earlier candidate.
    pub(crate) fn choose(&self, digest: u64, candidates: &[(u32, f32)]) -> Option<u32> {
        let mut best: Option<(u32, f64)> = None;
        for &(id, p) in candidates {
            if p <= 0.0 || p.is_nan() {
                continue;
            }
            // libm, not the platform's log: the same choice on every CPU for the same logits.
            let v = libm::log(unit_open(self.prf.draw(digest, id))) / f64::from(p);
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((id, v));
            }
        }
        best.map(|(id, _)| id)
    }

    /// The detector's score of token `x` after the context with digest `digest`: `-ln(1 - r)`,
    /// which is Exp(1) for text written without the key, and larger the more often the key's
    /// high values were chosen.
    #[inline]
    pub(crate) fn score(&self, digest: u64, x: u32) -> f64 {
        -libm::log1p(-unit_open(self.prf.draw(digest, x)))
    }
}
