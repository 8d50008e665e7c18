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

/// `(sin, cos)` of `pos · inv_freq[i]` for every pair `i`, into `out[..inv_freq.len()]`.
fn angles(inv_freq: &[f32], pos: usize, out: &mut [(f32, f32)]) {
    for (t, &f) in out.iter_mut().zip(inv_freq) {
        let (sin, cos) = ((pos as f64) * f as f64).sin_cos();
        *t = (sin as f32, cos as f32);
    }
}

/// Rotates every head of `x` (`x.len() / head_dim` heads) in place by the pairs' `(sin, cos)`.
pub fn rotate(x: &mut [f32], head_dim: usize, table: &[(f32, f32)], style: RopeStyle) {
    let n_pairs = table.len();
    for head in x.chunks_exact_mut(head_dim) {
        for (i, &(sin, cos)) in table.iter().enumerate() {
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

/// The rotations of one batch of positions, worked out once per distinct set of frequencies and
/// shared by every layer using it and by queries and keys alike (worked out per layer and per
/// tensor, the f64 `sin_cos` took 2 % of a prefill profile, on the one thread).
pub struct RopeTables {
    /// Each distinct set of inverse frequencies (at most [`MAX_PAIRS`] each).
    freqs: Vec<Vec<f32>>,
    /// Layer `l` uses `freqs[of_layer[l]]`.
    of_layer: Vec<usize>,
    /// (batch, pairs) per distinct set: row `i` for position `span.0 + i`.
    tables: Vec<Vec<(f32, f32)>>,
    /// The positions `(pos0, t)` each table holds now, if any.
    spans: Vec<Option<(usize, usize)>>,
}

impl RopeTables {
    /// Tables for batches of up to `max_batch` positions, for layers with the given inverse
    /// frequencies (each at most [`MAX_PAIRS`] long).
    pub fn new(per_layer: Vec<Vec<f32>>, max_batch: usize) -> RopeTables {
        let mut freqs: Vec<Vec<f32>> = Vec::new();
        let of_layer = per_layer
            .into_iter()
            .map(|mut f| {
                f.truncate(MAX_PAIRS);
                f
            })
            .map(|f| match freqs.iter().position(|g| *g == f) {
                Some(i) => i,
                None => {
                    freqs.push(f);
                    freqs.len() - 1
                }
            })
            .collect();
        // Zeroed allocations: pages of a batch never run stay unmapped.
        let tables = freqs
            .iter()
            .map(|f| vec![(0.0, 0.0); max_batch * f.len()])
            .collect();
        let spans = vec![None; freqs.len()];
        RopeTables {
            freqs,
            of_layer,
            tables,
            spans,
        }
    }

    /// Layer `il`'s `(sin, cos)` rows for positions `pos0..pos0 + t` (`t` at most the batch the
    /// tables were made for): row `i` is position `pos0 + i`'s, `n_pairs` long.
    pub fn for_layer(&mut self, il: usize, pos0: usize, t: usize) -> (&[(f32, f32)], usize) {
        let k = self.of_layer[il];
        let f = &self.freqs[k];
        let n = f.len();
        let table = &mut self.tables[k];
        if self.spans[k] != Some((pos0, t)) {
            for (i, row) in table.chunks_exact_mut(n.max(1)).take(t).enumerate() {
                angles(f, pos0 + i, row);
            }
            self.spans[k] = Some((pos0, t));
        }
        (&table[..t * n], n)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.tables
            .iter()
            .map(|t| t.len() * std::mem::size_of::<(f32, f32)>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every head of `x` rotated for position `pos`, its angles worked out alone.
    fn apply(x: &mut [f32], head_dim: usize, inv_freq: &[f32], pos: usize, style: RopeStyle) {
        let mut table = vec![(0.0f32, 0.0f32); inv_freq.len()];
        angles(inv_freq, pos, &mut table);
        rotate(x, head_dim, &table, style);
    }

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
    fn shared_tables_rotate_as_apply_does() {
        let local = inv_freqs(8, 10_000.0, 1.0);
        let global = inv_freqs(8, 1_000_000.0, 1.0);
        let per_layer = vec![local.clone(), global.clone(), local.clone()];
        let mut tables = RopeTables::new(per_layer.clone(), 6);
        let orig: Vec<f32> = (0..16).map(|i| i as f32 * 0.37 - 2.1).collect();
        // A batch, the same batch again (cached), then another span.
        for (pos0, t) in [(5, 6), (5, 6), (11, 1), (0, 3)] {
            for (il, f) in per_layer.iter().enumerate() {
                let (table, n) = tables.for_layer(il, pos0, t);
                let table = table.to_vec();
                assert_eq!((table.len(), n), (t * 4, 4));
                for i in 0..t {
                    for style in [RopeStyle::Interleaved, RopeStyle::Neox] {
                        let mut want = orig.clone();
                        apply(&mut want, 8, f, pos0 + i, style);
                        let mut got = orig.clone();
                        rotate(&mut got, 8, &table[i * n..(i + 1) * n], style);
                        assert_eq!(got, want, "layer {il} position {}", pos0 + i);
                    }
                }
            }
        }
        // Two distinct frequency sets, two tables.
        assert_eq!(tables.bytes(), 2 * 6 * 4 * 8);
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
