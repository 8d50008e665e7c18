//! The detector: scores the token ids of a text under a key and decides at a chosen
//! false-positive rate, with an exact p-value.
//!
//! # Why the p-values are exact
//! Under the null hypothesis (the text was written without the key — by a person, another
//! model, or under another key), the text does not depend on the key, and the keyed values at
//! *distinct* PRF inputs are independent uniforms. So each scheme scores every position once
//! per distinct input and skips the rest:
//! - green list: a position is decided by its (anchor, token) pair; the first position with
//!   each pair is counted, later ones are "repeated". The green count is then exactly
//!   Binomial(n, γ).
//! - distortion-free: a position is decided by its context (the generator also draws a repeated
//!   context without the key); the first position with each context is counted. The sum of
//!   `-ln(1 - r)` is then exactly Gamma(n, 1).
//!
//! The first `h` tokens of a text have no full context (it was in the prompt) and are not
//! scored. Repetition cannot inflate a score: a text of one repeated n-gram has a handful of
//! distinct inputs, whatever its length.
//!
//! # Windows
//! With a window of `N` tokens, every span of `N` consecutive positions is scored as well
//! (counting each input at its first position in the whole text, so each span's null law is
//! exact too), and the smallest p-value among the `W` spans and the whole text is multiplied by
//! `W + 1` (Bonferroni): a conservative p-value for "some span is marked", so a passage pasted
//! into longer human text is found without raising the false-positive rate.

use rustc_hash::FxHashSet;
use serde::Serialize;

use super::error::WatermarkError;
use super::scheme::{Scheme, MAX_CONTEXT};
use super::stats::{binomial_sf, gamma_sf};
use super::watermark::Watermark;

/// How the detector decides.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DetectorParams {
    /// The false-positive rate the verdict is decided at: watermarked when `p_value <= fpr`.
    pub fpr: f64,
    /// Also look for the most significant span of this many tokens (see the module docs).
    pub window: Option<usize>,
}

impl Default for DetectorParams {
    fn default() -> Self {
        DetectorParams {
            fpr: 1e-6,
            window: None,
        }
    }
}

impl DetectorParams {
    /// Checks the ranges: `fpr` in (0, 1), a window of at least one token.
    pub fn validate(&self) -> Result<(), WatermarkError> {
        if !(self.fpr > 0.0 && self.fpr < 1.0) {
            return Err(WatermarkError::BadParam {
                name: "fpr",
                value: self.fpr.to_string(),
                rule: "must be in (0, 1)",
            });
        }
        if self.window == Some(0) {
            return Err(WatermarkError::BadParam {
                name: "window",
                value: "0".into(),
                rule: "must be at least 1 token",
            });
        }
        Ok(())
    }
}

/// What the detector found in a text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The key the text was scored under.
    pub key_id: String,
    /// The scheme's name (`green` or `distortion-free`).
    pub scheme: String,
    /// Tokens in the text.
    pub tokens: usize,
    /// Leading tokens without a full context, not scored.
    pub context_tokens: usize,
    /// Positions skipped because their PRF input was already counted.
    pub repeated_tokens: usize,
    /// Positions counted.
    pub scored_tokens: usize,
    /// The statistic: green positions (green list) or the sum of `-ln(1 - r)` (distortion-free).
    pub score: f64,
    /// The statistic's mean without the key: `γ·n` or `n`.
    pub expected_score: f64,
    /// Green positions over scored positions (green list only).
    pub green_fraction: Option<f64>,
    /// `(score - expected) / sd` under the null; `None` when nothing was scored.
    pub z: Option<f64>,
    /// The p-value the verdict is decided on: the whole text's exact one, or with a window the
    /// corrected minimum over the spans and the whole text.
    pub p_value: f64,
    /// The whole text's exact p-value.
    pub text_p_value: f64,
    /// The false-positive rate decided at.
    pub fpr: f64,
    /// `p_value <= fpr`.
    pub watermarked: bool,
    /// The most significant span, when a window was asked for.
    pub window: Option<WindowVerdict>,
}

/// The most significant span of a windowed search.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowVerdict {
    /// Window length in tokens.
    pub size: usize,
    /// First token of the span (index into the scored ids).
    pub start: usize,
    /// One past its last token.
    pub end: usize,
    /// Positions counted in the span.
    pub scored_tokens: usize,
    /// The span's statistic.
    pub score: f64,
    /// The span's z-statistic.
    pub z: Option<f64>,
    /// The span's own p-value, before correction.
    pub p_value: f64,
    /// Spans tried, the whole text included (the Bonferroni factor; 1 when the window is as
    /// long as the text).
    pub tries: usize,
}

/// Scores texts under one watermark.
#[derive(Clone, Debug)]
pub struct Detector {
    watermark: Watermark,
    params: DetectorParams,
}

/// One position's contribution: `None` when it was not counted.
type Contribution = Option<f64>;

impl Detector {
    /// A detector for `watermark` deciding as `params` say.
    pub fn new(watermark: Watermark, params: DetectorParams) -> Result<Detector, WatermarkError> {
        params.validate()?;
        Ok(Detector { watermark, params })
    }

    /// The watermark looked for.
    pub fn watermark(&self) -> &Watermark {
        &self.watermark
    }

    /// The decision parameters.
    pub fn params(&self) -> &DetectorParams {
        &self.params
    }

    /// Scores the token ids of a text (the whole text, as the tokenizer gives it; no BOS).
    pub fn score(&self, ids: &[u32]) -> Verdict {
        let scheme = *self.watermark.scheme();
        let h = scheme.context();
        let want_window = self.params.window.is_some();
        let positions = ids.len().saturating_sub(h);
        let mut per_position: Vec<Contribution> =
            Vec::with_capacity(if want_window { positions } else { 0 });
        // Reserve for short texts; large ones grow (a reserve of their whole length would
        // make a 100 MB input pay for the worst case up front).
        let mut seen: FxHashSet<u64> =
            FxHashSet::with_capacity_and_hasher(positions.min(1 << 16), Default::default());
        let (mut scored, mut repeated, mut total) = (0usize, 0usize, 0.0f64);
        let null_rate;
        match scheme {
            Scheme::GreenList(_) => {
                let g = self.watermark.green_list().expect("green-list scheme");
                null_rate = g.null_rate();
                debug_assert_eq!(g.context(), h);
                // Each id's anchor seed is made once: `ring[j % h]` holds that of `ids[j]`.
                let mut ring = [0u64; MAX_CONTEXT];
                for (j, &c) in ids.iter().enumerate().take(h) {
                    ring[j % h] = g.seed(c);
                }
                let mut seeds = [0u64; MAX_CONTEXT];
                for i in h..ids.len() {
                    for (k, s) in seeds[..h].iter_mut().enumerate() {
                        *s = ring[(i - h + k) % h];
                    }
                    let (pair, green) = g.test_seeded(&ids[i - h..i], &seeds[..h], ids[i]);
                    ring[i % h] = g.seed(ids[i]);
                    let c = if seen.insert(pair) {
                        scored += 1;
                        let v = if green { 1.0 } else { 0.0 };
                        total += v;
                        Some(v)
                    } else {
                        repeated += 1;
                        None
                    };
                    if want_window {
                        per_position.push(c);
                    }
                }
            }
            Scheme::DistortionFree(_) => {
                let d = self
                    .watermark
                    .distortion_free()
                    .expect("distortion-free scheme");
                null_rate = 1.0;
                for i in h..ids.len() {
                    let digest = d.digest(&ids[i - h..i]);
                    let c = if seen.insert(digest) {
                        scored += 1;
                        let v = d.score(digest, ids[i]);
                        total += v;
                        Some(v)
                    } else {
                        repeated += 1;
                        None
                    };
                    if want_window {
                        per_position.push(c);
                    }
                }
            }
        }
        let law = Law::of(&scheme, null_rate);
        let text_p = law.p_value(scored, total);
        let mut verdict = Verdict {
            key_id: self.watermark.key_id().to_string(),
            scheme: scheme.kind().to_string(),
            tokens: ids.len(),
            context_tokens: ids.len().min(h),
            repeated_tokens: repeated,
            scored_tokens: scored,
            score: total,
            expected_score: law.mean(scored),
            green_fraction: match scheme {
                Scheme::GreenList(_) if scored > 0 => Some(total / scored as f64),
                _ => None,
            },
            z: law.z(scored, total),
            p_value: text_p,
            text_p_value: text_p,
            fpr: self.params.fpr,
            watermarked: text_p <= self.params.fpr,
            window: None,
        };
        if let Some(size) = self.params.window {
            let w = best_window(&per_position, size, h, &law, text_p);
            verdict.p_value = (w.p_value.min(text_p) * w.tries as f64).min(1.0);
            verdict.watermarked = verdict.p_value <= self.params.fpr;
            verdict.window = Some(w);
        }
        verdict
    }
}

/// A scheme's null law of the statistic over `n` counted positions.
#[derive(Clone, Copy)]
enum Law {
    /// Green count ~ Binomial(n, rate).
    Binomial(f64),
    /// Score sum ~ Gamma(n, 1).
    Gamma,
}

impl Law {
    fn of(scheme: &Scheme, null_rate: f64) -> Law {
        match scheme {
            Scheme::GreenList(_) => Law::Binomial(null_rate),
            Scheme::DistortionFree(_) => Law::Gamma,
        }
    }

    fn mean(self, n: usize) -> f64 {
        match self {
            Law::Binomial(p) => p * n as f64,
            Law::Gamma => n as f64,
        }
    }

    fn z(self, n: usize, total: f64) -> Option<f64> {
        if n == 0 {
            return None;
        }
        let sd = match self {
            Law::Binomial(p) => (n as f64 * p * (1.0 - p)).sqrt(),
            Law::Gamma => (n as f64).sqrt(),
        };
        Some((total - self.mean(n)) / sd)
    }

    fn p_value(self, n: usize, total: f64) -> f64 {
        match self {
            // Green counts are whole numbers held in an f64; rounding removes summation dust.
            Law::Binomial(p) => binomial_sf(total.round() as u64, n as u64, p),
            Law::Gamma => gamma_sf(n as u64, total),
        }
    }
}

/// The span of `size` positions with the smallest p-value. `offset` is the index of the first
/// scored position in the text (the context length).
fn best_window(
    per_position: &[Contribution],
    size: usize,
    offset: usize,
    law: &Law,
    text_p: f64,
) -> WindowVerdict {
    let n = per_position.len();
    // Prefix counts and sums (Kahan-free: the sums are of at most 25 M terms of order 1).
    let mut count = Vec::with_capacity(n + 1);
    let mut sum = Vec::with_capacity(n + 1);
    count.push(0usize);
    sum.push(0.0f64);
    for c in per_position {
        count.push(count.last().unwrap() + usize::from(c.is_some()));
        sum.push(sum.last().unwrap() + c.unwrap_or(0.0));
    }
    let size_eff = size.min(n.max(1));
    let spans = n.saturating_sub(size_eff) + 1;
    let mut best = (f64::INFINITY, 0usize);
    if n > 0 {
        for start in 0..spans {
            let end = start + size_eff;
            let k = count[end] - count[start];
            let p = law.p_value(k, sum[end] - sum[start]);
            if p < best.0 {
                best = (p, start);
            }
        }
    }
    let (p, start) = if best.0.is_finite() {
        best
    } else {
        (text_p, 0)
    };
    let end = (start + size_eff).min(n);
    let k = count[end] - count[start];
    let s = sum[end] - sum[start];
    WindowVerdict {
        size,
        start: start + offset,
        end: end + offset,
        scored_tokens: k,
        score: s,
        z: law.z(k, s),
        p_value: p,
        // One span is the whole scored text: nothing more was tried.
        tries: if spans == 1 { 1 } else { spans + 1 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watermark::{KeyFile, SchemeKind, SecretKey};
    use std::collections::HashSet;

    /// The detector's rolling anchor seeds count exactly what one `Prf::green` call per
    /// position counts.
    #[test]
    fn rolling_seeds_match_one_call_per_position() {
        let w = Watermark::new(KeyFile::new(
            SecretKey::from_bytes([9; 32]),
            Scheme::default_for(SchemeKind::GreenList),
            None,
        ))
        .unwrap();
        let g = w.green_list().unwrap();
        let ids: Vec<u32> = (0..3000u32).map(|i| (i * 7919 + i / 3) % 97).collect();
        let v = Detector::new(w.clone(), DetectorParams::default())
            .unwrap()
            .score(&ids);
        let (mut seen, mut green) = (HashSet::new(), 0);
        for i in 4..ids.len() {
            let gv = w.prf().green(&ids[i - 4..i], ids[i]);
            if seen.insert(gv.pair(ids[i])) && g.is_green(&ids[..i], ids[i]) {
                green += 1;
            }
        }
        assert_eq!(v.scored_tokens, seen.len());
        assert_eq!(v.score, green as f64);
        assert_eq!(v.repeated_tokens + v.scored_tokens + 4, ids.len());
    }

    #[test]
    fn a_window_is_corrected_for_the_spans_tried() {
        let w = Watermark::new(KeyFile::new(
            SecretKey::from_bytes([2; 32]),
            Scheme::default_for(SchemeKind::DistortionFree),
            None,
        ))
        .unwrap();
        let ids: Vec<u32> = (0..500u32).map(|i| i * 31 % 1009).collect();
        let d = |window| {
            Detector::new(w.clone(), DetectorParams { fpr: 1e-6, window })
                .unwrap()
                .score(&ids)
        };
        let whole = d(None);
        let v = d(Some(100));
        let win = v.window.as_ref().unwrap();
        assert_eq!(win.tries, 500 - 4 - 100 + 1 + 1);
        assert_eq!(win.end - win.start, 100);
        let expect = (win.p_value.min(whole.p_value) * win.tries as f64).min(1.0);
        assert_eq!(v.p_value, expect);
        assert_eq!(v.text_p_value, whole.p_value);
        // A window longer than the text is the text.
        let long = d(Some(10_000));
        assert_eq!(long.window.as_ref().unwrap().tries, 1);
        assert_eq!(long.p_value, whole.p_value);
    }
}
