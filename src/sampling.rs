//! The sampler chain: repetition penalty → green-list watermark → top-k → top-p → min-p →
//! temperature → draw (or the distortion-free watermark's keyed draw), with a seeded RNG owned by
//! the sampler. Temperature 0 is greedy (arg-max, lowest id on ties).
//!
//! Same logits, parameters and seed → same tokens; nothing here depends on thread count.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashSet;

use crate::watermark::{DistortionFree, GreenList, Watermark};

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
    /// RNG seed (the per-generation nonce of the distortion-free watermark, too).
    pub seed: u64,
    /// The watermark stage; `None` samples unmarked text.
    pub watermark: Option<Watermark>,
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
            watermark: None,
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
    mark: Mark,
    steps: usize,
    marked_steps: usize,
}

/// The watermark stage's state for one generation.
enum Mark {
    None,
    Green {
        list: GreenList,
        /// Contexts (last `h` ids) already boosted in this generation.
        seen: FxHashSet<u64>,
    },
    DistortionFree {
        scheme: DistortionFree,
        /// Contexts already drawn from in this generation (their keyed values are spent).
        seen: FxHashSet<u64>,
    },
}

/// Contexts a watermarked generation remembers before its set has to grow.
const SEEN_CONTEXTS_RESERVE: usize = 4096;

impl Sampler {
    /// A sampler for vocabularies of up to `n_vocab` tokens. Make one per generation: both
    /// watermark schemes remember the contexts they have marked.
    pub fn new(params: SamplerParams, n_vocab: usize) -> Result<Sampler, SamplingError> {
        params.validate()?;
        let mark = match &params.watermark {
            None => Mark::None,
            Some(w) => match (w.green_list(), w.distortion_free()) {
                (Some(list), _) => Mark::Green {
                    list,
                    seen: FxHashSet::with_capacity_and_hasher(
                        SEEN_CONTEXTS_RESERVE,
                        Default::default(),
                    ),
                },
                (None, Some(scheme)) => Mark::DistortionFree {
                    scheme,
                    seen: FxHashSet::with_capacity_and_hasher(
                        SEEN_CONTEXTS_RESERVE,
                        Default::default(),
                    ),
                },
                (None, None) => Mark::None,
            },
        };
        Ok(Sampler {
            rng: ChaCha8Rng::seed_from_u64(params.seed),
            params,
            candidates: Vec::with_capacity(n_vocab),
            mark,
            steps: 0,
            marked_steps: 0,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &SamplerParams {
        &self.params
    }

    /// Tokens sampled so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Tokens the watermark chose or moved: the green list's boosted steps (every step whose
    /// context is new in this generation; the boost counts even where it changes nothing), the
    /// keyed draws for the distortion-free scheme (not the repeated contexts, free draws, or
    /// greedy steps), 0 without a watermark.
    pub fn marked_steps(&self) -> usize {
        self.marked_steps
    }

    /// Picks the next token from `logits`, given the tokens so far in `history` (the prompt
    /// included: the watermark's context is its last few ids).
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        self.steps += 1;
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
        // A context already boosted in this generation is left alone: its green list is the
        // one it had, so boosting it again would push the same tokens again — feeding loops
        // (which the detector scores once anyway) instead of fresh text.
        if let Mark::Green { list, seen } = &mut self.mark {
            if seen.insert(context_key(list.context(), history)) {
                self.marked_steps += 1;
                if p.temperature == 0.0 {
                    return green_argmax(&self.candidates, list, history);
                }
                boost_green(&mut self.candidates, list, history, p.top_k);
            }
        }
        if p.temperature == 0.0 {
            return argmax(&self.candidates);
        }
        let k = if p.top_k == 0 {
            self.candidates.len()
        } else {
            p.top_k.min(self.candidates.len())
        };
        if k < self.candidates.len() {
            self.candidates.select_nth_unstable_by(k - 1, by_logit);
            self.candidates.truncate(k);
        }
        // Softmax at the temperature, in place (the second field becomes a probability).
        let max = self
            .candidates
            .iter()
            .fold(f32::NEG_INFINITY, |m, c| m.max(c.1));
        let mut sum = 0.0f64;
        for c in self.candidates.iter_mut() {
            c.1 = ((c.1 - max) / p.temperature).exp();
            sum += c.1 as f64;
        }
        for c in self.candidates.iter_mut() {
            c.1 = (c.1 as f64 / sum) as f32;
        }
        // Min-p before sorting: the tokens it keeps are a prefix of the sorted order, as are
        // top-p's, so cutting to the shorter prefix first and then applying top-p gives the same
        // survivors — and without top-k only these few hundred of a whole vocabulary get sorted.
        if p.min_p > 0.0 {
            // The most likely token's probability, as the loop above made it: exp(0) / sum.
            let top = (1.0 / sum) as f32;
            let floor = top * p.min_p;
            self.candidates.retain(|c| c.1 >= floor);
        }
        self.candidates.sort_unstable_by(by_logit);
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
        if let Mark::DistortionFree { scheme, seen } = &mut self.mark {
            let digest = scheme.digest(history);
            let fresh = seen.insert(digest);
            let free = scheme.free_draws() > 0.0 && self.rng.random::<f64>() < scheme.free_draws();
            if fresh && !free {
                if let Some(id) = scheme.choose(digest, &self.candidates) {
                    self.marked_steps += 1;
                    return id;
                }
            }
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

/// A name for the context before the next token (its last `h` ids), to recognise a repeat
/// within one generation. Not keyed: it decides only whether to boost, never a colour.
fn context_key(h: usize, history: &[u32]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = rustc_hash::FxHasher::default();
    history[history.len().saturating_sub(h)..].hash(&mut hasher);
    hasher.finish()
}

/// Highest logit first; ties by lower id, so the order is fully determined.
fn by_logit(a: &(u32, f32), b: &(u32, f32)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// Without top-k (or with a larger one), only this many of the highest logits can be boosted.
pub const GREEN_LIST_WIDTH: usize = 1024;

/// The green-list stage: adds δ to the logits of green candidates. The keyed test costs
/// nanoseconds, but a vocabulary of 49–262 k tokens per step would not:
/// - with top-k up to [`GREEN_LIST_WIDTH`], it is only made for the candidates that can still
///   reach the top k: a token whose logit plus δ is below the k-th largest logit stays below at
///   least k tokens after any boost (theirs only grow), so top-k drops it whatever its colour,
///   and dropping it first changes nothing downstream (top-k's survivors, their order and their
///   softmax are the same): exactly as if every token had been tested;
/// - otherwise only the [`GREEN_LIST_WIDTH`] highest logits are tested and may be boosted; the
///   others stay candidates, never green (KGW's own SelfHash code tests only the 40 highest).
///   They are found by selection (linear time), not by sorting the vocabulary.
fn boost_green(candidates: &mut Vec<(u32, f32)>, g: &GreenList, history: &[u32], top_k: usize) {
    let delta = g.delta();
    let step = g.step(history);
    let tested = if top_k > 0 && top_k <= GREEN_LIST_WIDTH && top_k < candidates.len() {
        candidates.select_nth_unstable_by(top_k - 1, by_logit);
        let kth = candidates[top_k - 1].1;
        candidates.retain(|c| c.1 + delta >= kth);
        candidates.len()
    } else if candidates.len() > GREEN_LIST_WIDTH {
        candidates.select_nth_unstable_by(GREEN_LIST_WIDTH - 1, by_logit);
        GREEN_LIST_WIDTH
    } else {
        candidates.len()
    };
    for c in candidates[..tested].iter_mut() {
        if step.is_green(c.0) {
            c.1 += delta;
        }
    }
}

/// Greedy decoding under the green list: the arg-max of the boosted logits (lowest id among
/// equals). Only tokens within δ of the largest logit can win, so only they are tested.
fn green_argmax(c: &[(u32, f32)], g: &GreenList, history: &[u32]) -> u32 {
    let delta = g.delta();
    let max = c.iter().fold(f32::NEG_INFINITY, |m, x| m.max(x.1));
    let step = g.step(history);
    let mut best: Option<(u32, f32)> = None;
    for &(id, l) in c {
        let v = if l + delta >= max && step.is_green(id) {
            l + delta
        } else {
            l
        };
        if best.is_none_or(|b| v > b.1) {
            best = Some((id, v));
        }
    }
    best.map_or(0, |b| b.0)
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
    use crate::watermark::{KeyFile, Scheme, SchemeKind, SecretKey};

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

    /// The chain as written in its definition: sort everything, softmax, top-p, then min-p, then
    /// draw — what the sampler's min-p-first order must reproduce token for token.
    fn reference_draw(logits: &[f32], p: &SamplerParams, rng: &mut ChaCha8Rng) -> u32 {
        let mut c: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, l))
            .collect();
        c.sort_by(by_logit);
        if p.top_k > 0 {
            c.truncate(p.top_k);
        }
        let max = c[0].1;
        let e: Vec<f32> = c
            .iter()
            .map(|x| ((x.1 - max) / p.temperature).exp())
            .collect();
        let sum: f64 = e.iter().map(|&v| v as f64).sum();
        for (x, v) in c.iter_mut().zip(e) {
            x.1 = (v as f64 / sum) as f32;
        }
        if p.top_p < 1.0 {
            let mut acc = 0.0f32;
            if let Some(i) = c.iter().position(|x| {
                acc += x.1;
                acc >= p.top_p
            }) {
                c.truncate(i + 1);
            }
        }
        let floor = c[0].1 * p.min_p;
        let keep = c.iter().take_while(|x| x.1 >= floor).count();
        c.truncate(keep.max(1));
        let total: f32 = c.iter().map(|x| x.1).sum();
        let mut r = rng.random::<f32>() * total;
        for x in &c {
            r -= x.1;
            if r < 0.0 {
                return x.0;
            }
        }
        c[c.len() - 1].0
    }

    #[test]
    fn min_p_before_sorting_draws_what_the_chain_in_order_draws() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for case in 0..200u64 {
            let n = [50, 1000, 49_152][case as usize % 3];
            let spread = [2.0f32, 12.0, 30.0][case as usize % 3];
            let logits: Vec<f32> = (0..n).map(|_| rng.random::<f32>() * spread).collect();
            let params = SamplerParams {
                temperature: [0.5, 0.8, 1.0, 1.7][case as usize % 4],
                top_k: [0, 0, 40, 5000][case as usize % 4],
                top_p: [1.0, 0.95, 0.5][case as usize % 3],
                min_p: [0.05, 0.0, 0.2, 0.001][(case / 3) as usize % 4],
                seed: case,
                ..SamplerParams::default()
            };
            let mut s = Sampler::new(params.clone(), n).unwrap();
            let mut reference_rng = ChaCha8Rng::seed_from_u64(case);
            for step in 0..4 {
                assert_eq!(
                    s.sample(&logits, &[]),
                    reference_draw(&logits, &params, &mut reference_rng),
                    "case {case} step {step}"
                );
            }
        }
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

    fn watermark(kind: SchemeKind, seed: u64) -> Watermark {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let key = SecretKey::from_bytes(rng.random());
        let mut scheme = Scheme::default_for(kind);
        if let Scheme::DistortionFree(p) = &mut scheme {
            p.free_draws = 0.0;
        }
        Watermark::new(KeyFile::new(key, scheme, None)).unwrap()
    }

    fn random_logits(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random::<f32>() * 12.0 - 6.0).collect()
    }

    /// The green list tests only the candidates that can reach the top k; the tokens it draws
    /// must be exactly those of boosting every token first and sampling without a watermark.
    #[test]
    fn green_list_with_top_k_is_exactly_boosting_every_token() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let wm = watermark(SchemeKind::GreenList, 2);
        let g = wm.green_list().unwrap();
        let boost_all = |logits: &[f32], history: &[u32]| {
            let mut boosted = logits.to_vec();
            for (id, l) in boosted.iter_mut().enumerate() {
                if g.is_green(history, id as u32) {
                    *l += g.delta();
                }
            }
            boosted
        };
        for case in 0..300u64 {
            let logits = random_logits(&mut rng, 500);
            let top_k = [0, 1, 5, 40, 499, 500, 1000][case as usize % 7];
            let temperature = [0.0, 0.7, 1.0, 1.5][case as usize % 4];
            let base = SamplerParams {
                temperature,
                top_k,
                top_p: if case % 3 == 0 { 1.0 } else { 0.9 },
                min_p: if case % 5 == 0 { 0.0 } else { 0.05 },
                seed: case,
                ..SamplerParams::default()
            };
            let marked = SamplerParams {
                watermark: Some(wm.clone()),
                ..base.clone()
            };
            let mut a = Sampler::new(marked, 500).unwrap();
            let mut b = Sampler::new(base, 500).unwrap();
            for step in 0..5u32 {
                let history = [case as u32, 7, 8, 9, 10 + step];
                assert_eq!(
                    a.sample(&logits, &history),
                    b.sample(&boost_all(&logits, &history), &history),
                    "case {case}"
                );
            }
            // A context already boosted in this generation is sampled without the boost.
            let again = [case as u32, 7, 8, 9, 12];
            assert_eq!(
                a.sample(&logits, &again),
                b.sample(&logits, &again),
                "case {case}"
            );
            assert_eq!(a.marked_steps(), 5);
        }
    }

    /// Without top-k, only the GREEN_LIST_WIDTH highest logits can be boosted; the others stay
    /// candidates.
    #[test]
    fn green_list_without_top_k_boosts_the_highest_logits_only() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let wm = watermark(SchemeKind::GreenList, 4);
        let g = wm.green_list().unwrap();
        let n = 3 * GREEN_LIST_WIDTH;
        for case in 0..40u64 {
            let logits = random_logits(&mut rng, n);
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
            let boost_top = |history: &[u32]| {
                let mut boosted = logits.clone();
                for &id in &order[..GREEN_LIST_WIDTH] {
                    if g.is_green(history, id as u32) {
                        boosted[id] += g.delta();
                    }
                }
                boosted
            };
            let base = SamplerParams {
                temperature: 1.0,
                top_k: if case % 2 == 0 { 0 } else { 2000 },
                top_p: 1.0,
                min_p: 0.0,
                seed: case,
                ..SamplerParams::default()
            };
            let mut a = Sampler::new(
                SamplerParams {
                    watermark: Some(wm.clone()),
                    ..base.clone()
                },
                n,
            )
            .unwrap();
            let mut b = Sampler::new(base, n).unwrap();
            for step in 0..5u32 {
                let history = [case as u32, 1, 2, 3 + step];
                assert_eq!(
                    a.sample(&logits, &history),
                    b.sample(&boost_top(&history), &history),
                    "case {case}"
                );
            }
        }
    }

    /// Over many keys the distortion-free draw follows the sampler's distribution (a
    /// chi-square test at a fixed seed), while the green list's does not (so the test can fail).
    #[test]
    fn distortion_free_draws_follow_the_distribution_over_keys() {
        let logits = [2.0f32, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -3.0];
        let total: f64 = logits.iter().map(|&l| f64::from(l).exp()).sum();
        let probs: Vec<f64> = logits.iter().map(|&l| f64::from(l).exp() / total).collect();
        let params = |wm| SamplerParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            watermark: Some(wm),
            ..SamplerParams::default()
        };
        let chi_square_p = |kind| {
            let n = 20_000u64;
            let mut counts = [0u64; 8];
            for key in 0..n {
                let mut s = Sampler::new(params(watermark(kind, 1000 + key)), 8).unwrap();
                counts[s.sample(&logits, &[1, 2, 3, 4]) as usize] += 1;
            }
            let stat: f64 = counts
                .iter()
                .zip(&probs)
                .map(|(&c, &p)| (c as f64 - n as f64 * p).powi(2) / (n as f64 * p))
                .sum();
            statrs::function::gamma::gamma_ur(3.5, stat / 2.0)
        };
        let p = chi_square_p(SchemeKind::DistortionFree);
        assert!(
            p > 1e-3,
            "distortion-free frequencies differ from p: chi-square p = {p}"
        );
        let p = chi_square_p(SchemeKind::GreenList);
        assert!(
            p < 1e-6,
            "the green list should visibly distort: chi-square p = {p}"
        );
    }

    #[test]
    fn distortion_free_repeats_no_context_and_marks_nothing_greedy() {
        let logits = [1.0f32, 0.9, 0.8, 0.7];
        let wm = watermark(SchemeKind::DistortionFree, 5);
        let mut s = Sampler::new(
            SamplerParams {
                temperature: 1.0,
                watermark: Some(wm.clone()),
                ..SamplerParams::default()
            },
            4,
        )
        .unwrap();
        // The first draw from a context is keyed; later ones from the same context use the RNG.
        for _ in 0..10 {
            s.sample(&logits, &[9, 9, 9, 9]);
        }
        assert_eq!((s.steps(), s.marked_steps()), (10, 1));
        // The keyed choice is a function of the context: a second sampler (another seed) agrees.
        let mut t = Sampler::new(
            SamplerParams {
                temperature: 1.0,
                seed: 99,
                watermark: Some(wm.clone()),
                ..SamplerParams::default()
            },
            4,
        )
        .unwrap();
        let mut u = Sampler::new(
            SamplerParams {
                temperature: 1.0,
                watermark: Some(wm.clone()),
                ..SamplerParams::default()
            },
            4,
        )
        .unwrap();
        assert_eq!(t.sample(&logits, &[1, 2, 3]), u.sample(&logits, &[1, 2, 3]));
        let greedy = SamplerParams {
            temperature: 0.0,
            watermark: Some(wm.clone()),
            ..SamplerParams::default()
        };
        assert!(wm.limitation(&greedy).is_some());
        let mut g = Sampler::new(greedy, 4).unwrap();
        assert_eq!(g.sample(&logits, &[1, 2, 3]), 0);
        assert_eq!(g.marked_steps(), 0);
    }

    #[test]
    fn free_draws_make_one_prompt_give_different_texts() {
        let logits = [0.0f32; 16];
        let mut scheme = Scheme::default_for(SchemeKind::DistortionFree);
        if let Scheme::DistortionFree(p) = &mut scheme {
            p.free_draws = 0.5;
        }
        let wm =
            Watermark::new(KeyFile::new(SecretKey::from_bytes([1; 32]), scheme, None)).unwrap();
        let run = |seed| {
            let mut s = Sampler::new(
                SamplerParams {
                    temperature: 1.0,
                    top_k: 0,
                    min_p: 0.0,
                    seed,
                    watermark: Some(wm.clone()),
                    ..SamplerParams::default()
                },
                16,
            )
            .unwrap();
            let mut history = vec![1u32, 2, 3, 4];
            for _ in 0..30 {
                let t = s.sample(&logits, &history);
                history.push(t);
            }
            (history, s.marked_steps())
        };
        let (a, marked) = run(1);
        assert_ne!(a, run(2).0);
        assert!(marked > 5 && marked < 25, "{marked}");
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
