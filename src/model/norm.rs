//! RMSNorm (the gated activations are kernels: `retort_kernels::activation`).

/// `out = x / rms(x) * w`, with the mean of squares accumulated in f64 for stability.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let ss: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    let scale = (1.0 / ((ss / x.len() as f64) + eps as f64).sqrt()) as f32;
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
        *o = v * scale * g;
    }
}

/// In-place RMSNorm of each `w.len()`-wide chunk of `x` (per-head QK-norm).
pub fn rms_norm_chunks_in_place(x: &mut [f32], w: &[f32], eps: f32) {
    for chunk in x.chunks_exact_mut(w.len()) {
        let ss: f64 = chunk.iter().map(|&v| (v as f64) * (v as f64)).sum();
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
