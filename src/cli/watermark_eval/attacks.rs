//! Token-level edits an adversary might make to a watermarked text: a fixed fraction of random
//! substitutions, insertions or deletions, at positions and with tokens drawn from a seeded RNG.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// An edit attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    /// Replace tokens by random ones.
    Substitute,
    /// Insert random tokens.
    Insert,
    /// Delete tokens.
    Delete,
}

impl Attack {
    pub const ALL: [Attack; 3] = [Attack::Substitute, Attack::Insert, Attack::Delete];

    pub fn name(self) -> &'static str {
        match self {
            Attack::Substitute => "substitution",
            Attack::Insert => "insertion",
            Attack::Delete => "deletion",
        }
    }
}

/// `m` distinct indices below `n`, uniformly (a partial Fisher–Yates shuffle).
fn distinct(rng: &mut ChaCha8Rng, n: usize, m: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    let m = m.min(n);
    for i in 0..m {
        let j = rng.random_range(i..n);
        all.swap(i, j);
    }
    all.truncate(m);
    all
}

/// `ids` after `round(rate · len)` edits of kind `attack`; new tokens are drawn from `pool`.
pub fn apply(
    attack: Attack,
    ids: &[u32],
    rate: f64,
    pool: &[u32],
    rng: &mut ChaCha8Rng,
) -> Vec<u32> {
    let n = ids.len();
    let m = (rate * n as f64).round() as usize;
    let random_token = |rng: &mut ChaCha8Rng| pool[rng.random_range(0..pool.len())];
    match attack {
        Attack::Substitute => {
            let mut out = ids.to_vec();
            for i in distinct(rng, n, m) {
                // A substitution that keeps the token is no edit: draw again.
                let mut t = random_token(rng);
                while t == ids[i] && pool.len() > 1 {
                    t = random_token(rng);
                }
                out[i] = t;
            }
            out
        }
        Attack::Insert => {
            // Insertion slots 0..=n, with repetition (several tokens may go in one gap).
            let mut slots: Vec<usize> = (0..m).map(|_| rng.random_range(0..=n)).collect();
            slots.sort_unstable();
            let mut out = Vec::with_capacity(n + m);
            let mut s = 0;
            for i in 0..=n {
                while s < slots.len() && slots[s] == i {
                    out.push(random_token(rng));
                    s += 1;
                }
                if let Some(&id) = ids.get(i) {
                    out.push(id);
                }
            }
            out
        }
        Attack::Delete => {
            let mut gone = vec![false; n];
            for i in distinct(rng, n, m) {
                gone[i] = true;
            }
            ids.iter()
                .zip(&gone)
                .filter(|(_, &g)| !g)
                .map(|(&t, _)| t)
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn edits_the_fraction_asked_for() {
        let ids: Vec<u32> = (0..400).collect();
        let pool: Vec<u32> = (1000..2000).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = apply(Attack::Substitute, &ids, 0.2, &pool, &mut rng);
        assert_eq!(s.len(), 400);
        assert_eq!(s.iter().zip(&ids).filter(|(a, b)| a != b).count(), 80);
        let i = apply(Attack::Insert, &ids, 0.2, &pool, &mut rng);
        assert_eq!(i.len(), 480);
        assert_eq!(i.iter().filter(|&&t| t >= 1000).count(), 80);
        let d = apply(Attack::Delete, &ids, 0.3, &pool, &mut rng);
        assert_eq!(d.len(), 280);
        assert!(d.windows(2).all(|w| w[0] < w[1]));
    }
}
