//! The two watermarking schemes and their parameters.

use std::fmt;
use std::str::FromStr;

use super::error::WatermarkError;

/// Most context ids a scheme may hash (the PRF's input buffer is sized for it).
pub const MAX_CONTEXT: usize = 16;

/// Green list (Kirchenbauer et al., "On the Reliability of Watermarks for Large Language
/// Models", the SelfHash PRF): a candidate is green when its keyed value falls under γ; green
/// candidates get δ added to their logits before top-k, top-p and min-p.
///
/// The value of candidate `x` after context `c₁…c_h` is decided by one pair: the "anchor" `a` is
/// whichever of `c₁…c_h, x` has the smallest keyed pair hash with `x` (anchored min-hash), and
/// the value is a second keyed hash of `(a, x)`. An edit to the context changes the value only
/// when it replaces or undercuts the anchor, so the mark survives edits far better than hashing
/// all `h` ids, while `h` still spreads the green lists over many contexts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GreenListParams {
    /// Previous token ids the value depends on (`h`).
    pub context: usize,
    /// Fraction of candidates that are green (`γ`).
    pub gamma: f64,
    /// Logit boost of green candidates (`δ`), added before temperature.
    pub delta: f32,
}

impl Default for GreenListParams {
    fn default() -> Self {
        GreenListParams {
            context: 4,
            gamma: 0.25,
            delta: 3.0,
        }
    }
}

/// Distortion-free sampling (Aaronson's exponential minimum, i.e. Gumbel-max with keyed noise):
/// after the sampler chain has made its final distribution `p`, the token is
/// `argmax_x r(x)^(1/p(x))` where `r(x)` is the keyed uniform value of the context and `x`. Over
/// keys, `x` is drawn exactly from `p`; the detector sums `-ln(1 - r)` over the text.
///
/// The price is that one key makes the choice a function of the context: the same context
/// gives the same token. Two mitigations, neither of which the verifier needs:
/// - a context already used in this generation is sampled from the sampler's own RNG (so the
///   keyed values are never reused, which keeps the text distortion-free as a whole and stops
///   deterministic loops);
/// - a fraction `free_draws` of steps, chosen by the sampler's per-generation seed, is drawn
///   from the RNG too, so one prompt gives different texts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DistortionFreeParams {
    /// Previous token ids the keyed value depends on (`h`).
    pub context: usize,
    /// Fraction of steps drawn without the key, from the per-generation RNG.
    pub free_draws: f64,
}

impl Default for DistortionFreeParams {
    fn default() -> Self {
        DistortionFreeParams {
            context: 4,
            free_draws: 0.1,
        }
    }
}

/// A watermarking scheme with all its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scheme {
    /// See [`GreenListParams`].
    GreenList(GreenListParams),
    /// See [`DistortionFreeParams`].
    DistortionFree(DistortionFreeParams),
}

impl Default for Scheme {
    fn default() -> Self {
        Scheme::GreenList(GreenListParams::default())
    }
}

impl Scheme {
    /// The default parameters of a scheme.
    pub fn default_for(kind: SchemeKind) -> Scheme {
        match kind {
            SchemeKind::GreenList => Scheme::GreenList(GreenListParams::default()),
            SchemeKind::DistortionFree => Scheme::DistortionFree(DistortionFreeParams::default()),
        }
    }

    /// Which scheme this is.
    pub fn kind(&self) -> SchemeKind {
        match self {
            Scheme::GreenList(_) => SchemeKind::GreenList,
            Scheme::DistortionFree(_) => SchemeKind::DistortionFree,
        }
    }

    /// Context ids the scheme hashes; the first `context()` tokens of a text cannot be scored.
    pub fn context(&self) -> usize {
        match self {
            Scheme::GreenList(p) => p.context,
            Scheme::DistortionFree(p) => p.context,
        }
    }

    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<(), WatermarkError> {
        let bad = |name, value: String, rule| Err(WatermarkError::BadParam { name, value, rule });
        let context = self.context();
        if !(1..=MAX_CONTEXT).contains(&context) {
            return bad("context", context.to_string(), "must be between 1 and 16");
        }
        match self {
            Scheme::GreenList(p) => {
                // γ is compared with 64-bit values: it needs at least one value on each side.
                if !(p.gamma > 0.0 && p.gamma < 1.0) {
                    return bad("gamma", p.gamma.to_string(), "must be in (0, 1)");
                }
                if !(p.delta > 0.0 && p.delta.is_finite()) {
                    return bad("delta", p.delta.to_string(), "must be finite and > 0");
                }
            }
            Scheme::DistortionFree(p) => {
                if !(0.0..1.0).contains(&p.free_draws) {
                    return bad("free_draws", p.free_draws.to_string(), "must be in [0, 1)");
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheme::GreenList(p) => write!(
                f,
                "green list (context {}, gamma {}, delta {})",
                p.context, p.gamma, p.delta
            ),
            Scheme::DistortionFree(p) => write!(
                f,
                "distortion-free (context {}, free draws {})",
                p.context, p.free_draws
            ),
        }
    }
}

/// A scheme's name, without parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemeKind {
    /// `green`.
    GreenList,
    /// `distortion-free`.
    DistortionFree,
}

impl SchemeKind {
    /// The name used in key files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SchemeKind::GreenList => "green",
            SchemeKind::DistortionFree => "distortion-free",
        }
    }
}

impl fmt::Display for SchemeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SchemeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "green" => Ok(SchemeKind::GreenList),
            "distortion-free" => Ok(SchemeKind::DistortionFree),
            other => Err(format!(
                "unknown watermark scheme {other:?} (known: \"green\", \"distortion-free\")"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        Scheme::default_for(SchemeKind::GreenList)
            .validate()
            .unwrap();
        Scheme::default_for(SchemeKind::DistortionFree)
            .validate()
            .unwrap();
        let cases = [
            (
                Scheme::GreenList(GreenListParams {
                    gamma: 1.0,
                    ..Default::default()
                }),
                "gamma",
            ),
            (
                Scheme::GreenList(GreenListParams {
                    delta: f32::NAN,
                    ..Default::default()
                }),
                "delta",
            ),
            (
                Scheme::GreenList(GreenListParams {
                    context: 0,
                    ..Default::default()
                }),
                "context",
            ),
            (
                Scheme::DistortionFree(DistortionFreeParams {
                    context: 17,
                    ..Default::default()
                }),
                "context",
            ),
            (
                Scheme::DistortionFree(DistortionFreeParams {
                    free_draws: 1.0,
                    ..Default::default()
                }),
                "free_draws",
            ),
        ];
        for (scheme, name) in cases {
            match scheme.validate() {
                Err(WatermarkError::BadParam { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{scheme:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in [SchemeKind::GreenList, SchemeKind::DistortionFree] {
            assert_eq!(kind.name().parse::<SchemeKind>().unwrap(), kind);
        }
        assert!("purple".parse::<SchemeKind>().is_err());
    }
}
