//! The sampler chain: repetition penalty → top-k → top-p → min-p → temperature → draw, with a
//! seeded RNG owned by the sampler. Temperature 0 is greedy (arg-max, lowest id on ties).
//!
//! Same logits, parameters and seed → same tokens; nothing here depends on thread count.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Sampling parameters; `Default` gives llama.cpp-like defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerParams {
    /// Softmax temperature; 0 means greedy.
    pub temperature: f32,
    /// Keep only the `k` most likely tokens; 0 disables.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `p`; 1 disables.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` × the most likely one; 0 disables.
    pub min_p: f32,
    /// Divide positive logits (multiply negative ones) of recently seen tokens by this; 1 disables.
    pub repeat_penalty: f32,
    /// How many recent tokens the repetition penalty looks at.
    pub repeat_last_n: usize,
    /// RNG seed.
    pub seed: u64,
}

impl Default for SamplerParams {
    fn default() -> Self {
        SamplerParams {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
        }
    }
}

/// A parameter outside its valid range.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid sampling parameter {name} = {value}: {rule}")]
pub struct SamplingError {
    /// The parameter.
    pub name: &'static str,
    /// Its value, as text.
    pub value: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

impl SamplerParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<(), SamplingError> {
        let bad = |name, value: f32, rule| {
            Err(SamplingError {
                name,
                value: value.to_string(),
                rule,
            })
        };
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad("temperature", self.temperature, "must be finite and >= 0");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p", self.top_p, "must be in (0, 1]");
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad("min_p", self.min_p, "must be in [0, 1]");
        }
        if !(self.repeat_penalty > 0.0 && self.repeat_penalty.is_finite()) {
            return bad(
                "repeat_penalty",
                self.repeat_penalty,
                "must be finite and > 0",
            );
        }
        Ok(())
    }
}

/// The sampler: parameters, its RNG and a candidate buffer allocated once.
pub struct Sampler {
    params: SamplerParams,
    rng: ChaCha8Rng,
    candidates: Vec<(u32, f32)>,
}

impl Sampler {
    /// A sampler for vocabularies of up to `n_vocab` tokens.
    pub fn new(params: SamplerParams, n_vocab: usize) -> Result<Sampler, SamplingError> {
        params.validate()?;
        Ok(Sampler {
            rng: ChaCha8Rng::seed_from_u64(params.seed),
            params,
            candidates: Vec::with_capacity(n_vocab),
        })
    }

    /// The parameters.
    pub fn params(&self) -> &SamplerParams {
        &self.params
    }

    /// Picks the next token from `logits`, given the tokens so far in `history`.
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        let p = &self.params;
        self.candidates.clear();
        self.candidates
            .extend(logits.iter().enumerate().map(|(i, &l)| (i as u32, l)));
        if p.repeat_penalty != 1.0 {
            let recent = &history[history.len().saturating_sub(p.repeat_last_n)..];
            for &t in recent {
                if let Some(c) = self.candidates.get_mut(t as usize) {
                    // Apply once per distinct token: mark by checking the original logit.
                    if c.1 == logits[t as usize] {
                        c.1 = if c.1 > 0.0 {
                            c.1 / p.repeat_penalty
                        } else {
                            c.1 * p.repeat_penalty
                        };
                    }
                }
            }
        }
        if p.temperature == 0.0 {
            return argmax(&self.candidates);
        }
        // Highest logit first; ties by lower id, so the order is fully determined.
        let by_logit = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let k = if p.top_k == 0 {
            self.candidates.len()
        } else {
            p.top_k.min(self.candidates.len())
        };
        if k < self.candidates.len() {
            self.candidates.select_nth_unstable_by(k - 1, by_logit);
            self.candidates.truncate(k);
        }
        self.candidates.sort_unstable_by(by_logit);
        // Softmax at the temperature, in place (the second field becomes a probability).
        let max = self.candidates[0].1;
        let mut sum = 0.0f64;
        for c in self.candidates.iter_mut() {
            c.1 = ((c.1 - max) / p.temperature).exp();
            sum += c.1 as f64;
        }
        for c in self.candidates.iter_mut() {
            c.1 = (c.1 as f64 / sum) as f32;
        }
        if p.top_p < 1.0 {
            let mut acc = 0.0f32;
            let mut keep = self.candidates.len();
            for (i, c) in self.candidates.iter().enumerate() {
                acc += c.1;
                if acc >= p.top_p {
                    keep = i + 1;
                    break;
                }
            }
            self.candidates.truncate(keep);
        }
        if p.min_p > 0.0 {
            let floor = self.candidates[0].1 * p.min_p;
            let keep = self.candidates.iter().take_while(|c| c.1 >= floor).count();
            self.candidates.truncate(keep.max(1));
        }
        let total: f32 = self.candidates.iter().map(|c| c.1).sum();
        let mut r = self.rng.random::<f32>() * total;
        for c in &self.candidates {
            r -= c.1;
            if r < 0.0 {
                return c.0;
            }
        }
        self.candidates[self.candidates.len() - 1].0
    }
}

/// The index of the largest value (the lowest index among equals).
fn argmax(c: &[(u32, f32)]) -> u32 {
    let mut best = 0;
    for (i, x) in c.iter().enumerate() {
        if x.1 > c[best].1 {
            best = i;
        }
    }
    c[best].0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32) -> SamplerParams {
        SamplerParams {
            temperature,
            ..SamplerParams::default()
        }
    }

    #[test]
    fn greedy_takes_the_arg_max() {
        let mut s = Sampler::new(params(0.0), 4).unwrap();
        assert_eq!(s.sample(&[0.1, 2.0, 2.0, -1.0], &[]), 1);
    }

    #[test]
    fn same_seed_same_tokens() {
        let logits: Vec<f32> = (0..100).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let run = |seed| {
            let mut s = Sampler::new(
                SamplerParams {
                    seed,
                    temperature: 1.0,
                    ..Default::default()
                },
                100,
            )
            .unwrap();
            (0..20).map(|_| s.sample(&logits, &[])).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn top_k_one_is_greedy() {
        let mut s = Sampler::new(
            SamplerParams {
                top_k: 1,
                temperature: 5.0,
                ..Default::default()
            },
            3,
        )
        .unwrap();
        for _ in 0..10 {
            assert_eq!(s.sample(&[0.0, 1.0, 0.5], &[]), 1);
        }
    }

    #[test]
    fn repetition_penalty_moves_the_choice() {
        let mut s = Sampler::new(
            SamplerParams {
                temperature: 0.0,
                repeat_penalty: 2.0,
                ..Default::default()
            },
            3,
        )
        .unwrap();
        assert_eq!(s.sample(&[1.0, 1.5, 0.2], &[1]), 0);
    }

    #[test]
    fn bad_parameters_are_errors() {
        for p in [
            SamplerParams {
                temperature: -1.0,
                ..Default::default()
            },
            SamplerParams {
                top_p: 0.0,
                ..Default::default()
            },
            SamplerParams {
                top_p: 1.5,
                ..Default::default()
            },
            SamplerParams {
                min_p: -0.1,
                ..Default::default()
            },
            SamplerParams {
                repeat_penalty: 0.0,
                ..Default::default()
            },
        ] {
            assert!(Sampler::new(p, 10).is_err());
        }
    }
}
