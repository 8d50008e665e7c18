//! Exact tail probabilities of the detectors' null distributions.

use statrs::function::{beta, gamma};

/// `P(X ≥ k)` for `X ~ Binomial(n, p)`: the green-list detector's exact p-value (1 when `k` is
/// 0; 0 when `k > n`).
pub fn binomial_sf(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    // P(X ≥ k) = I_p(k, n - k + 1), the regularized incomplete beta function.
    beta::checked_beta_reg(k as f64, (n - k + 1) as f64, p)
        .map(|v| v.clamp(0.0, 1.0))
        // Only reachable with an invalid p, which the schemes refuse; 1 never claims a mark.
        .unwrap_or(1.0)
}

/// `P(S ≥ s)` for `S ~ Gamma(n, 1)` (a sum of `n` independent Exp(1)): the distortion-free
/// detector's exact p-value (1 when `n` is 0).
pub fn gamma_sf(n: u64, s: f64) -> f64 {
    if n == 0 || s <= 0.0 || s.is_nan() {
        return 1.0;
    }
    if s.is_infinite() {
        return 0.0;
    }
    gamma::checked_gamma_ur(n as f64, s)
        .map(|v| v.clamp(0.0, 1.0))
        .unwrap_or(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binomial_sf_by_sum(k: u64, n: u64, p: f64) -> f64 {
        let mut total = 0.0f64;
        for i in k..=n {
            let mut c = 1.0f64;
            for j in 0..i {
                c *= (n - j) as f64 / (j + 1) as f64;
            }
            total += c * p.powi(i as i32) * (1.0 - p).powi((n - i) as i32);
        }
        total
    }

    #[test]
    fn binomial_tail_matches_the_sum() {
        for (k, n) in [
            (0, 10),
            (1, 10),
            (5, 10),
            (10, 10),
            (30, 60),
            (45, 60),
            (11, 10),
        ] {
            let a = binomial_sf(k, n, 0.25);
            let b = if k > n {
                0.0
            } else {
                binomial_sf_by_sum(k, n, 0.25)
            };
            assert!((a - b).abs() <= 1e-12 + 1e-9 * b, "{k}/{n}: {a} vs {b}");
        }
        // Deep tail: relative accuracy where a verdict at FPR 1e-6 is decided.
        let a = binomial_sf(50, 100, 0.25);
        let b = binomial_sf_by_sum(50, 100, 0.25);
        assert!(((a - b) / b).abs() < 1e-9, "{a} vs {b}");
    }

    #[test]
    fn gamma_tail_is_the_poisson_sum() {
        // P(Gamma(n,1) ≥ s) = P(Poisson(s) < n) = Σ_{i<n} e^-s s^i / i!
        for (n, s) in [(1u64, 0.5f64), (1, 3.0), (5, 2.0), (20, 35.0), (100, 160.0)] {
            let mut term = (-s).exp();
            let mut sum = 0.0;
            for i in 0..n {
                if i > 0 {
                    term *= s / i as f64;
                }
                sum += term;
            }
            let a = gamma_sf(n, s);
            assert!(((a - sum) / sum).abs() < 1e-9, "{n} {s}: {a} vs {sum}");
        }
        assert_eq!(gamma_sf(0, 5.0), 1.0);
        assert_eq!(gamma_sf(3, f64::NAN), 1.0);
    }
}
