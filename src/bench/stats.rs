//! Summaries of repeated measurements: the median (what tables print, robust to one slow run on
//! a shared machine), and the spread around it.

use serde::Serialize;

/// Repeated measurements of one quantity, with their summary statistics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Median of the samples (the mean of the two middle ones for an even count).
    pub median: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator; 0 for a single sample).
    pub stddev: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// The samples in the order they were taken.
    pub samples: Vec<f64>,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none or one is not finite (a clock that
    /// gave nothing usable).
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() || samples.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let n = samples.len();
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let mean = samples.iter().sum::<f64>() / n as f64;
        let stddev = if n > 1 {
            (samples.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Summary {
            median,
            mean,
            stddev,
            min: sorted[0],
            max: sorted[n - 1],
            samples: samples.to_vec(),
        })
    }

    /// The full range of the samples relative to their median ((max - min) / median): 0.4 means
    /// the slowest and fastest runs were 40 % of the median apart.
    pub fn relative_range(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.max - self.min) / self.median.abs()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_and_even_counts() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.mean), (2.0, 1.0, 3.0, 2.0));
        assert!((s.stddev - 1.0).abs() < 1e-12);
        assert_eq!(s.samples, vec![3.0, 1.0, 2.0], "samples keep their order");
        let s = Summary::of(&[4.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!(s.median, 3.0);
        assert!((s.relative_range() - 3.0).abs() < 1e-12);
    }

    #[test]
    fn one_sample_has_no_spread_and_nothing_is_none() {
        let s = Summary::of(&[5.0]).unwrap();
        assert_eq!((s.median, s.stddev, s.relative_range()), (5.0, 0.0, 0.0));
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[1.0, f64::NAN]).is_none());
    }
}
