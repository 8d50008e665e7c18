//! Rotary position embeddings.

use super::spec::RopeStyle;

/// Inverse frequencies `base^(-2i/n_rot) · freq_scale` for `i < n_rot/2`, computed once per
/// distinct (base, scale) when a session is created.
pub fn inv_freqs(n_rot: usize, base: f32, freq_scale: f32) -> Vec<f32> {
    (0..n_rot / 2)
        .map(|i| ((base as f64).powf(-((2 * i) as f64) / n_rot as f64) * freq_scale as f64) as f32)
        .collect()
}

/// Most rotary pairs per head supported (head dimension 512).
pub const MAX_PAIRS: usize = 256;

/// Rotates every head of `x` (`x.len() / head_dim` heads) in place for position `pos`.
/// `inv_freq.len()` must be at most [`MAX_PAIRS`] (checked when the session is built).
pub fn apply(x: &mut [f32], head_dim: usize, inv_freq: &[f32], pos: usize, style: RopeStyle) {
    let n_pairs = inv_freq.len().min(MAX_PAIRS);
    let mut table = [(0.0f32, 0.0f32); MAX_PAIRS];
    for (t, &f) in table.iter_mut().zip(&inv_freq[..n_pairs]) {
        let (sin, cos) = ((pos as f64) * f as f64).sin_cos();
        *t = (sin as f32, cos as f32);
    }
    for head in x.chunks_exact_mut(head_dim) {
        for (i, &(sin, cos)) in table[..n_pairs].iter().enumerate() {
            let (a, b) = match style {
                RopeStyle::Interleaved => (2 * i, 2 * i + 1),
                RopeStyle::Neox => (i, i + n_pairs),
            };
            let (x0, x1) = (head[a], head[b]);
            head[a] = x0 * cos - x1 * sin;
            head[b] = x0 * sin + x1 * cos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_zero_is_identity_and_norm_is_kept() {
        let f = inv_freqs(8, 10_000.0, 1.0);
        let orig: Vec<f32> = (0..16).map(|i| i as f32 * 0.1 - 0.7).collect();
        for style in [RopeStyle::Interleaved, RopeStyle::Neox] {
            let mut x = orig.clone();
            apply(&mut x, 8, &f, 0, style);
            assert_eq!(x, orig);
            apply(&mut x, 8, &f, 17, style);
            let n0: f32 = orig.iter().map(|v| v * v).sum();
            let n1: f32 = x.iter().map(|v| v * v).sum();
            assert!((n0 - n1).abs() < 1e-4);
        }
    }

    #[test]
    fn pairs_follow_the_style() {
        let f = inv_freqs(4, 10_000.0, 1.0);
        // Position 1, first pair angle = 1 rad.
        let mut x = vec![1.0, 0.0, 0.0, 0.0];
        apply(&mut x, 4, &f, 1, RopeStyle::Interleaved);
        assert!((x[1] - 1f32.sin()).abs() < 1e-6 && x[2] == 0.0);
        let mut x = vec![1.0, 0.0, 0.0, 0.0];
        apply(&mut x, 4, &f, 1, RopeStyle::Neox);
        assert!((x[2] - 1f32.sin()).abs() < 1e-6 && x[1] == 0.0);
    }
}
