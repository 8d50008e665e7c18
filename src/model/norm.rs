//! RMSNorm (the gated activations are kernels: `retort_kernels::activation`).

/// Lanes of [`sum_of_squares`]: independent f64 chains (one chain of dependent adds was a
/// latency-bound loop, ~3 % of a short prefill).
const LANES: usize = 8;

/// `Σ x²` in f64 (each square exact), element `i` added into lane `i % 8`, the lanes then
/// summed in a fixed tree: the same bits on every machine and thread count.
fn sum_of_squares(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += (v as f64) * (v as f64);
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a += (v as f64) * (v as f64);
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// `out = x / rms(x) * w`, with the mean of squares accumulated in f64 for stability.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let ss = sum_of_squares(x);
    let scale = (1.0 / ((ss / x.len() as f64) + eps as f64).sqrt()) as f32;
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
        *o = v * scale * g;
    }
}

/// In-place RMSNorm of each `w.len()`-wide chunk of `x` (per-head QK-norm).
pub fn rms_norm_chunks_in_place(x: &mut [f32], w: &[f32], eps: f32) {
    for chunk in x.chunks_exact_mut(w.len()) {
        let ss = sum_of_squares(chunk);
        let scale = (1.0 / ((ss / chunk.len() as f64) + eps as f64).sqrt()) as f32;
        for (v, &g) in chunk.iter_mut().zip(w) {
            *v = *v * scale * g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_of_squares_is_exact_on_small_integers_at_every_tail() {
        for n in 0..40 {
            let x: Vec<f32> = (0..n).map(|i| i as f32 - 7.0).collect();
            let want: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
            assert_eq!(sum_of_squares(&x), want, "{n} elements");
        }
    }

    #[test]
    fn rms_norm_of_constant_is_the_weight() {
        let x = [3.0f32; 8];
        let w = [0.5f32; 8];
        let mut out = [0.0f32; 8];
        rms_norm(&x, &w, 0.0, &mut out);
        for o in out {
            assert!((o - 0.5).abs() < 1e-6);
        }
    }
}
