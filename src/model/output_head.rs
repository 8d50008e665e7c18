//! The output head (final hidden state → one logit per vocabulary entry) at two precisions.
//!
//! Every projection quantizes its input activations to the weight's dot type (Q8_0, Q8_1,
//! Q8_K), as ggml does: cheap, and the rounding noise averages out inside the network. The head
//! is different: its outputs are the logits themselves, so that noise lands directly on the
//! choice of the next token. On Gemma 3 it moves logits by a few hundredths, enough to swap two
//! candidates whose reference margin is 0.06.
//!
//! [`OutputHead::Precise`] removes that noise where it can change the outcome, at almost no
//! cost. With `q₁` the quantized activation row and `q₂` the quantization of its residual
//! `x − q₁`, the two-level logit of row `r` is `W_r·q₁ + W_r·q₂`. The first term is the ordinary
//! (quantized) product; the second is bounded by Cauchy–Schwarz, `|W_r·q₂| ≤ ‖W_r‖·‖q₂‖`, with
//! the row norms `‖W_r‖` computed once per model. Only rows whose bound lets them reach the
//! largest guaranteed two-level logit get the second term, so the arg-max (and every logit near
//! the top, which is what sampling sees) equals that of the full two-level product, while the
//! far tail keeps its one-level values. Every step is a deterministic function of the quantized
//! logits, which do not depend on the thread count, so neither do these.

use retort_kernels::{ops, GgmlType};

use super::error::ModelError;
use super::weights::Matrix;
use crate::worker_pool::{part, DisjointSlice, WorkerPool, MAX_CHUNKS};

/// How a session computes the logits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputHead {
    /// Activations quantized once, then the logits that can reach the top refined with the
    /// quantized residual (about 16-bit activation precision where it decides the token).
    #[default]
    Precise,
    /// Activations quantized once, like every other projection (and like llama.cpp).
    Quantized,
}

/// Relative slack on the bound, for the float rounding of the products and norms themselves.
const BOUND_SLACK: f32 = 1.0 / 64.0;

/// Buffers of the precise head, sized for one model's output matrix.
pub struct HeadScratch {
    /// (row bytes) the activation residual in the head's activation type.
    resid_q: Vec<u8>,
    /// (n_embd) the dequantized first level, then the residual.
    resid: Vec<f32>,
    /// (chunks of the refinement) each chunk's largest sure and largest reachable two-level
    /// logit.
    reach: Vec<[f32; 2]>,
}

impl HeadScratch {
    /// Buffers for the output matrix `m`.
    pub fn new(m: &Matrix) -> Result<HeadScratch, ModelError> {
        let act_ty = m.ty.vec_dot_type();
        let row = act_ty.row_bytes(m.cols as u64).ok_or_else(|| {
            ModelError::Unsupported(format!(
                "{} activations of {} elements for {}",
                act_ty, m.cols, m.name
            ))
        })? as usize;
        Ok(HeadScratch {
            resid_q: vec![0; row],
            resid: vec![0.0; m.cols],
            reach: Vec::with_capacity(m.rows.div_ceil(REFINE_ROWS).min(MAX_CHUNKS)),
        })
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.resid_q.len() + 4 * self.resid.len() + 8 * self.reach.capacity()
    }
}

/// The Euclidean norm of every (dequantized) row of `m`, computed by the workers of `pool`.
pub fn row_norms(
    pool: &mut WorkerPool,
    weights: &[u8],
    m: &Matrix,
) -> Result<Vec<f32>, ModelError> {
    let w_row = m.bytes / m.rows;
    let mut norms = vec![0.0f32; m.rows];
    let out = DisjointSlice::new(&mut norms);
    let chunks = m.rows.div_ceil(256).min(MAX_CHUNKS);
    pool.run(chunks, &|c, _| {
        let rows = part(m.rows, c, chunks, 1);
        // SAFETY: the chunks of one split are disjoint.
        let out = unsafe { out.range(rows.clone()) };
        let mut row = vec![0.0f32; m.cols];
        for (n, r) in out.iter_mut().zip(rows) {
            *n = sum_of_squares(m, &weights[r * w_row..][..w_row], &mut row)?.sqrt();
        }
        Ok(())
    })?;
    Ok(norms)
}

/// `Σ v²` over the dequantized values of row `w` of `m`, by the dot-product kernels: a row of
/// a type that is its own activation type (Q8_0, the usual head, and the float types) is dotted
/// with itself — for Q8_0 `Σ_blocks d²·Σ q²`, the inner sum in integers — and any other row is
/// dequantized into `row` first and dotted with itself as F32. (A plain running f32 sum, one
/// dependent add per element, was a sixth of Qwen's time to first token.)
fn sum_of_squares(m: &Matrix, w: &[u8], row: &mut [f32]) -> Result<f32, ModelError> {
    if matches!(
        m.ty,
        GgmlType::Q8_0 | GgmlType::F16 | GgmlType::BF16 | GgmlType::F32
    ) {
        return Ok(ops::vec_dot(m.ty, m.cols, w, w)?);
    }
    ops::dequantize_row(m.ty, w, row)?;
    let bytes: &[u8] = bytemuck::cast_slice(row);
    Ok(ops::vec_dot(GgmlType::F32, m.cols, bytes, bytes)?)
}

/// Rows of the output head per chunk of the refinement (a microsecond or two of scanning each).
const REFINE_ROWS: usize = 1024;

/// Lanes of the refinement's scans: independent maxima and comparisons the compiler keeps in
/// vector registers.
const LANES: usize = 16;

/// Refines `logits` (m.rows), the one-level product of `m` with the activation row `x`
/// (m.cols) quantized as `first` (the bytes that product used), into the precise head's logits
/// (see the module documentation). `norms` are [`row_norms`] of `m`. One pass over the rows
/// finds each chunk's largest sure logit (the floor) and largest reachable one; a second visits
/// only the chunks that can reach the overall floor. Both are spread over the workers of
/// `pool`; the floor is a maximum and every refined row is refined alone, so the logits do not
/// depend on the thread count.
#[allow(clippy::too_many_arguments)]
pub fn refine_logits(
    pool: &mut WorkerPool,
    weights: &[u8], // (m.rows, m.cols) as m.ty: the head's own bytes
    m: &Matrix,
    norms: &[f32],
    x: &[f32],
    first: &[u8],
    logits: &mut [f32],
    hs: &mut HeadScratch,
) -> Result<(), ModelError> {
    debug_assert_eq!(x.len(), m.cols);
    debug_assert_eq!(logits.len(), m.rows);
    let act_ty = m.ty.vec_dot_type();
    if act_ty == GgmlType::F32 {
        // Nothing was rounded: the one-level product is already exact.
        return Ok(());
    }
    ops::dequantize_row(act_ty, first, &mut hs.resid)?;
    for (r, &v) in hs.resid.iter_mut().zip(x) {
        *r = v - *r;
    }
    ops::quantize_row(act_ty, &hs.resid, &mut hs.resid_q)?;
    // ‖q₂‖ of the dequantized second level (the vector the kernels actually multiply).
    ops::dequantize_row(act_ty, &hs.resid_q, &mut hs.resid)?;
    let q2_norm = hs.resid.iter().map(|v| v * v).sum::<f32>().sqrt();
    if q2_norm == 0.0 {
        return Ok(());
    }
    let chunks = m.rows.div_ceil(REFINE_ROWS).min(MAX_CHUNKS);
    let HeadScratch { resid_q, reach, .. } = hs;
    reach.clear();
    reach.resize(chunks, [f32::NEG_INFINITY; 2]);
    {
        let reach = DisjointSlice::new(reach);
        let logits: &[f32] = logits;
        pool.run(chunks, &|c, _| {
            let rows = part(m.rows, c, chunks, 1);
            // SAFETY: chunk `c` writes element `c` only.
            let reach = unsafe { reach.range(c..c + 1) };
            reach[0] = chunk_reach(&logits[rows.clone()], &norms[rows], q2_norm);
            Ok(())
        })?;
    }
    // The largest logit the two-level product is sure to reach.
    let floor = reach.iter().map(|r| r[0]).fold(f32::NEG_INFINITY, f32::max);
    let reach: &[[f32; 2]] = reach;
    let w_row = m.bytes / m.rows;
    let resid_q: &[u8] = resid_q;
    let out = DisjointSlice::new(logits);
    pool.run(chunks, &|c, _| {
        if reach[c][1] < floor {
            return Ok(());
        }
        let rows = part(m.rows, c, chunks, 1);
        // SAFETY: the chunks of one split are disjoint.
        let logits = unsafe { out.range(rows.clone()) };
        let norms = &norms[rows.clone()];
        for g in (0..logits.len()).step_by(LANES) {
            let group = g..logits.len().min(g + LANES);
            if !any_reaches(
                &logits[group.clone()],
                &norms[group.clone()],
                q2_norm,
                floor,
            ) {
                continue;
            }
            for r in group {
                if logits[r] + bound(norms[r], q2_norm) >= floor {
                    let w = &weights[(rows.start + r) * w_row..][..w_row];
                    logits[r] += ops::vec_dot(m.ty, m.cols, w, resid_q)?;
                }
            }
        }
        Ok(())
    })
}

/// Cauchy–Schwarz bound on the second-level term of a row of norm `norm` (see the module
/// documentation), slack included.
#[inline(always)]
fn bound(norm: f32, q2_norm: f32) -> f32 {
    norm * q2_norm * (1.0 + BOUND_SLACK)
}

/// `[max(logit − bound), max(logit + bound)]` over rows of `logits` and their `norms`, each
/// in [`LANES`] independent maxima.
fn chunk_reach(logits: &[f32], norms: &[f32], q2_norm: f32) -> [f32; 2] {
    let (mut sure, mut reachable) = ([f32::NEG_INFINITY; LANES], [f32::NEG_INFINITY; LANES]);
    let (l16, n16) = (logits.chunks_exact(LANES), norms.chunks_exact(LANES));
    let (l_tail, n_tail) = (l16.remainder(), n16.remainder());
    for (l, n) in l16.zip(n16) {
        for i in 0..LANES {
            let b = bound(n[i], q2_norm);
            sure[i] = sure[i].max(l[i] - b);
            reachable[i] = reachable[i].max(l[i] + b);
        }
    }
    for (&l, &n) in l_tail.iter().zip(n_tail) {
        let b = bound(n, q2_norm);
        sure[0] = sure[0].max(l - b);
        reachable[0] = reachable[0].max(l + b);
    }
    let max = |v: [f32; LANES]| v.into_iter().fold(f32::NEG_INFINITY, f32::max);
    [max(sure), max(reachable)]
}

/// Whether any row of a group of `logits` (with their `norms`) can reach `floor`: a whole
/// group of [`LANES`] rows in one vector comparison (almost no group can).
fn any_reaches(logits: &[f32], norms: &[f32], q2_norm: f32, floor: f32) -> bool {
    let reaches = |l: f32, n: f32| l + bound(n, q2_norm) >= floor;
    match (
        <&[f32; LANES]>::try_from(logits),
        <&[f32; LANES]>::try_from(norms),
    ) {
        (Ok(l), Ok(n)) => {
            let mut any = false;
            for i in 0..LANES {
                any |= reaches(l[i], n[i]);
            }
            any
        }
        _ => logits.iter().zip(norms).any(|(&l, &n)| reaches(l, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A Q8_0 head of `rows × cols` whose rows are small perturbations of a few prototypes, so
    /// that many logits lie within the one-level noise of each other.
    fn head(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> (Matrix, Vec<u8>) {
        let protos: Vec<Vec<f32>> = (0..4)
            .map(|_| (0..cols).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let row_bytes = GgmlType::Q8_0.row_bytes(cols as u64).unwrap() as usize;
        let mut bytes = vec![0u8; rows * row_bytes];
        for (r, dst) in bytes.chunks_exact_mut(row_bytes).enumerate() {
            let row: Vec<f32> = protos[r % 4]
                .iter()
                .map(|v| v + rng.random_range(-0.01..0.01))
                .collect();
            ops::quantize_row(GgmlType::Q8_0, &row, dst).unwrap();
        }
        let m = Matrix {
            name: "output.weight".into(),
            ty: GgmlType::Q8_0,
            rows,
            cols,
            offset: 0,
            bytes: bytes.len(),
            packed: None,
        };
        (m, bytes)
    }

    /// Row norms through both paths (a Q8_0 row dotted with itself; a Q4_0 row dequantized,
    /// then dotted as F32) match a double-precision sum over the dequantized values.
    #[test]
    fn row_norms_match_a_double_precision_sum_of_the_dequantized_rows() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (q8, w8) = head(64, 640, &mut rng);
        let mut row = vec![0.0f32; q8.cols];
        let q4_row = GgmlType::Q4_0.row_bytes(q8.cols as u64).unwrap() as usize;
        let mut w4 = vec![0u8; q8.rows * q4_row];
        for (r, dst) in w4.chunks_exact_mut(q4_row).enumerate() {
            ops::dequantize_row(
                q8.ty,
                &w8[r * q8.bytes / q8.rows..][..q8.bytes / q8.rows],
                &mut row,
            )
            .unwrap();
            ops::quantize_row(GgmlType::Q4_0, &row, dst).unwrap();
        }
        let q4 = Matrix {
            ty: GgmlType::Q4_0,
            bytes: w4.len(),
            ..q8.clone()
        };
        let mut pool = WorkerPool::new(2).unwrap();
        for (m, w) in [(&q8, &w8), (&q4, &w4)] {
            let norms = row_norms(&mut pool, w, m).unwrap();
            let w_row = m.bytes / m.rows;
            for (r, &got) in norms.iter().enumerate() {
                ops::dequantize_row(m.ty, &w[r * w_row..][..w_row], &mut row).unwrap();
                let exact: f64 = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                let got = f64::from(got) * f64::from(got);
                assert!(
                    (got - exact).abs() <= 1e-5 * exact,
                    "{:?} row {r}: {got} vs {exact}",
                    m.ty
                );
            }
        }
    }

    #[test]
    fn refined_logits_equal_the_two_level_product_near_the_top() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // Three chunks of the refinement, the last one short and not a whole number of lanes.
        let (rows, cols) = (2 * REFINE_ROWS + 809, 640);
        let (m, w) = head(rows, cols, &mut rng);
        let mut pool = WorkerPool::new(2).unwrap();
        let mut alone = WorkerPool::new(1).unwrap();
        let norms = row_norms(&mut pool, &w, &m).unwrap();
        let mut hs = HeadScratch::new(&m).unwrap();
        let w_row = m.bytes / rows;
        let mut refined_somewhere = false;
        for trial in 0..20 {
            let x: Vec<f32> = (0..cols).map(|_| rng.random_range(-3.0..3.0)).collect();
            let mut q1 = vec![0u8; hs.resid_q.len()];
            ops::quantize_row(GgmlType::Q8_0, &x, &mut q1).unwrap();
            let one: Vec<f32> = (0..rows)
                .map(|r| ops::vec_dot(m.ty, cols, &w[r * w_row..][..w_row], &q1).unwrap())
                .collect();
            let mut refined = one.clone();
            refine_logits(&mut pool, &w, &m, &norms, &x, &q1, &mut refined, &mut hs).unwrap();
            let mut on_one_thread = one.clone();
            refine_logits(
                &mut alone,
                &w,
                &m,
                &norms,
                &x,
                &q1,
                &mut on_one_thread,
                &mut hs,
            )
            .unwrap();
            assert!(
                refined
                    .iter()
                    .zip(&on_one_thread)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "trial {trial}: the refinement depends on the thread count"
            );
            // The full two-level product, every row, from the residual the head quantized.
            let q2 = hs.resid_q.clone();
            let two: Vec<f32> = (0..rows)
                .map(|r| one[r] + ops::vec_dot(m.ty, cols, &w[r * w_row..][..w_row], &q2).unwrap())
                .collect();
            let argmax = |v: &[f32]| (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b });
            assert_eq!(argmax(&refined), argmax(&two), "trial {trial}");
            let mut n_refined = 0;
            for r in 0..rows {
                if refined[r] != one[r] {
                    n_refined += 1;
                    assert_eq!(refined[r], two[r], "trial {trial}, row {r}");
                }
            }
            // Rows left alone cannot reach the top of the two-level product.
            let top = two[argmax(&two)];
            for r in (0..rows).filter(|&r| refined[r] == one[r] && one[r] != two[r]) {
                assert!(
                    two[r] < top,
                    "trial {trial}: unrefined row {r} reaches the top"
                );
            }
            // And the two-level product is closer to the exact one than the one-level product.
            let exact = |r: usize| {
                let mut row = vec![0.0f32; cols];
                ops::dequantize_row(m.ty, &w[r * w_row..][..w_row], &mut row).unwrap();
                row.iter()
                    .zip(&x)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum::<f64>()
            };
            let t = argmax(&two);
            let (e1, e2) = (
                (one[t] as f64 - exact(t)).abs(),
                (two[t] as f64 - exact(t)).abs(),
            );
            assert!(
                e2 < e1 || e1 < 1e-4,
                "trial {trial}: two-level error {e2} vs one-level {e1}"
            );
            refined_somewhere |= n_refined > 0 && n_refined < rows;
        }
        assert!(
            refined_somewhere,
            "no trial refined a strict subset of the rows"
        );
    }
}
