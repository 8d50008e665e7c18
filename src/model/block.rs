//! The one transformer block, parameterised by [`ArchSpec`], and the forward pass over a batch.
//!
//! Per layer, for `t` tokens at positions `pos0..pos0+t`:
//! ```text
//! xn = norm(x)                          attn_norm
//! q, k, v = xn·Wqᵀ (+b), xn·Wkᵀ (+b), xn·Wvᵀ (+b)
//! q, k = qk_norm(q, k)?; rope(q, k)     per-layer base, style from the spec
//! cache ← k, v;  a = attention(q, cache)  causal, sliding window per layer
//! o = a·Woᵀ;  o = post_norm(o)?;  x += o
//! xn = norm(x)                          ffn_norm
//! h = act(xn·Wgᵀ) ⊙ (xn·Wuᵀ);  d = h·Wdᵀ;  d = post_norm(d)?;  x += d
//! ```

use super::attention::{attend, AttnShape};
use super::batch_rows::{over_parts, MIN_ROWS};
use super::error::ModelError;
use super::matmul::{chunks_for, chunks_within, Product, QuantizedActs};
use super::norm::{rms_norm, rms_norm_chunks_in_place};
use super::rope;
use super::scratch::Scratch;
use super::spec::Activation;
use super::weights::{LayerWeights, Matrix, Vector};
use super::Model;
use crate::kv_cache::KvCache;
use crate::worker_pool::{DisjointSlice, WorkerPool};
use retort_kernels::activation;

impl Model {
    /// Runs `tokens` (at positions `pos0..`) through every layer, filling the KV cache; the
    /// final residual stream is left in `sc.x` (t, n_embd).
    pub(crate) fn forward_batch(
        &self,
        pool: &mut WorkerPool,
        sc: &mut Scratch,
        kv: &mut KvCache,
        tokens: &[u32],
        pos0: usize,
    ) -> Result<(), ModelError> {
        let hp = &self.hparams;
        let t = tokens.len();
        let d = hp.n_embd;
        debug_assert!(t <= sc.max_batch);
        self.embed(tokens, &mut sc.x[..t * d])?;
        for (il, lw) in self.weights.layers.iter().enumerate() {
            self.attention_sublayer(pool, il, lw, sc, kv, t, pos0)?;
            self.ffn_sublayer(pool, lw, sc, t)?;
        }
        Ok(())
    }

    /// Token embeddings (dequantized rows of `token_embd`), scaled as the family asks.
    fn embed(&self, tokens: &[u32], out: &mut [f32]) -> Result<(), ModelError> {
        let e = &self.weights.token_embd;
        let row_bytes = e.bytes / e.rows;
        let data = self.data(e);
        for (&tok, row) in tokens.iter().zip(out.chunks_exact_mut(e.cols)) {
            let id = tok as usize;
            if id >= e.rows {
                return Err(ModelError::BadToken {
                    id: tok,
                    n_vocab: e.rows,
                });
            }
            retort_kernels::ops::dequantize_row(e.ty, &data[id * row_bytes..][..row_bytes], row)?;
            if self.spec.embedding_scale != 1.0 {
                row.iter_mut().for_each(|v| *v *= self.spec.embedding_scale);
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn attention_sublayer(
        &self,
        pool: &mut WorkerPool,
        il: usize,
        lw: &LayerWeights,
        sc: &mut Scratch,
        kv: &mut KvCache,
        t: usize,
        pos0: usize,
    ) -> Result<(), ModelError> {
        let hp = &self.hparams;
        let d = hp.n_embd;
        let (q_dim, k_dim) = (hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim);
        let v_dim = hp.n_head_kv * hp.head_dim_v;
        let a_dim = hp.n_head * hp.head_dim_v;
        let eps = hp.norm_eps;

        self.norm_rows(pool, &sc.x[..t * d], &lw.attn_norm, &mut sc.xn[..t * d])?;
        sc.acts.invalidate();
        for m in [&lw.wq, &lw.wk, &lw.wv] {
            sc.acts
                .prepare_on(pool, &sc.xn[..t * d], m.ty.vec_dot_type())?;
        }
        self.run_products(
            pool,
            &mut sc.worker_tmp,
            &[
                self.product(&lw.wq, &sc.acts, t, &mut sc.q[..t * q_dim])?,
                self.product(&lw.wk, &sc.acts, t, &mut sc.k[..t * k_dim])?,
                self.product(&lw.wv, &sc.acts, t, &mut sc.v[..t * v_dim])?,
            ],
        )?;
        self.add_bias(&mut sc.q[..t * q_dim], lw.bq.as_ref());
        self.add_bias(&mut sc.k[..t * k_dim], lw.bk.as_ref());
        self.add_bias(&mut sc.v[..t * v_dim], lw.bv.as_ref());
        if let (Some(qn), Some(kn)) = (&lw.q_norm, &lw.k_norm) {
            rms_norm_chunks_in_place(&mut sc.q[..t * q_dim], self.vector(qn), eps);
            rms_norm_chunks_in_place(&mut sc.k[..t * k_dim], self.vector(kn), eps);
        }
        let (rot, n_pairs) = sc.rope.for_layer(il, pos0, t);
        let layer_cache = &mut kv.layers[il];
        for ti in 0..t {
            let pos = pos0 + ti;
            let q = &mut sc.q[ti * q_dim..][..q_dim];
            let k = &mut sc.k[ti * k_dim..][..k_dim];
            let rot = &rot[ti * n_pairs..][..n_pairs];
            rope::rotate(q, hp.head_dim, rot, self.spec.rope_style);
            rope::rotate(k, hp.head_dim, rot, self.spec.rope_style);
            layer_cache.store(pos, k, &sc.v[ti * v_dim..][..v_dim])?;
        }
        let shape = AttnShape {
            window: self.spec.layers[il].sliding_window,
            ..self.attn_shape()
        };
        attend(
            pool,
            &sc.q[..t * q_dim],
            t,
            pos0,
            layer_cache,
            &shape,
            &mut sc.attn_buf,
            &mut sc.attn[..t * a_dim],
        )?;
        sc.acts.invalidate();
        sc.acts
            .prepare_on(pool, &sc.attn[..t * a_dim], lw.wo.ty.vec_dot_type())?;
        self.run_products(
            pool,
            &mut sc.worker_tmp,
            &[self.product(&lw.wo, &sc.acts, t, &mut sc.proj[..t * d])?],
        )?;
        self.add_residual(
            pool,
            &mut sc.x[..t * d],
            &mut sc.proj[..t * d],
            lw.post_attn_norm.as_ref(),
        )
    }

    fn ffn_sublayer(
        &self,
        pool: &mut WorkerPool,
        lw: &LayerWeights,
        sc: &mut Scratch,
        t: usize,
    ) -> Result<(), ModelError> {
        let hp = &self.hparams;
        let (d, ff) = (hp.n_embd, hp.n_ff);
        self.norm_rows(pool, &sc.x[..t * d], &lw.ffn_norm, &mut sc.xn[..t * d])?;
        sc.acts.invalidate();
        for m in [&lw.w_gate, &lw.w_up] {
            sc.acts
                .prepare_on(pool, &sc.xn[..t * d], m.ty.vec_dot_type())?;
        }
        {
            // gate and up are cut alike, so each chunk applies the activation to the rows it
            // has just computed (no second pass over the whole batch).
            let gate = self.product(&lw.w_gate, &sc.acts, t, &mut sc.gate[..t * ff])?;
            let up = self.product(&lw.w_up, &sc.acts, t, &mut sc.up[..t * ff])?;
            let act = self.spec.activation;
            let tmp = DisjointSlice::new(&mut sc.worker_tmp);
            let n = pool.n_threads();
            let per = tmp.len() / n;
            let chunks = chunks_for(ff, t, n);
            pool.run(chunks, &|c, thread| {
                // SAFETY: thread `thread`'s slice of the scratch is its own.
                let tmp = unsafe { tmp.range(thread * per..(thread + 1) * per) };
                let rows = gate.chunk_rows(c, chunks);
                // SAFETY: the chunks of one split are disjoint.
                unsafe {
                    gate.compute_rows(rows.clone(), tmp)?;
                    up.compute_rows(rows.clone(), tmp)?;
                }
                for tok in 0..t {
                    let at = tok * ff + rows.start..tok * ff + rows.end;
                    // SAFETY: as above: these rows of every token are this chunk's.
                    let (g, u) = unsafe { (gate.out.range(at.clone()), up.out.range(at)) };
                    match act {
                        Activation::Silu => activation::silu_mul(g, u),
                        Activation::GeluTanh => activation::gelu_tanh_mul(g, u),
                    }
                }
                Ok(())
            })?;
        }
        sc.acts.invalidate();
        sc.acts
            .prepare_on(pool, &sc.gate[..t * ff], lw.w_down.ty.vec_dot_type())?;
        self.run_products(
            pool,
            &mut sc.worker_tmp,
            &[self.product(&lw.w_down, &sc.acts, t, &mut sc.proj[..t * d])?],
        )?;
        self.add_residual(
            pool,
            &mut sc.x[..t * d],
            &mut sc.proj[..t * d],
            lw.post_ffn_norm.as_ref(),
        )
    }

    /// The attention geometry of the model's layers (without a sliding window).
    pub(crate) fn attn_shape(&self) -> AttnShape {
        let hp = &self.hparams;
        AttnShape {
            n_head: hp.n_head,
            n_head_kv: hp.n_head_kv,
            head_dim: hp.head_dim,
            head_dim_v: hp.head_dim_v,
            scale: self.spec.attention_scale,
            window: None,
        }
    }

    /// The product of `m` with the activations held for its type, into `out`.
    pub(super) fn product<'a>(
        &'a self,
        m: &'a Matrix,
        acts: &'a QuantizedActs,
        t: usize,
        out: &'a mut [f32],
    ) -> Result<Product<'a>, ModelError> {
        Product::new(m, self.data(m), acts, t, out)
    }

    /// Runs `products` as one job: each is cut into chunks of rows, all claimed from one pool.
    pub(super) fn run_products(
        &self,
        pool: &mut WorkerPool,
        worker_tmp: &mut [f32],
        products: &[Product<'_>],
    ) -> Result<(), ModelError> {
        const MOST: usize = 4;
        debug_assert!(products.len() <= MOST);
        let n = pool.n_threads();
        let per = worker_tmp.len() / n;
        let mut counts = [0usize; MOST];
        for (c, p) in counts.iter_mut().zip(products) {
            *c = chunks_within(p.m.rows, p.t, n, per)?;
        }
        let tmp = DisjointSlice::new(worker_tmp);
        pool.run(counts.iter().sum(), &|mut c, thread| {
            // SAFETY: thread `thread`'s slice of the scratch is its own.
            let tmp = unsafe { tmp.range(thread * per..(thread + 1) * per) };
            for (p, &k) in products.iter().zip(&counts) {
                if c < k {
                    // SAFETY: the chunks of one split are disjoint.
                    return unsafe { p.compute_rows(p.chunk_rows(c, k), tmp) };
                }
                c -= k;
            }
            Ok(())
        })
    }

    /// `x += post_norm(proj)` (the norm only for families that have it), row by row.
    fn add_residual(
        &self,
        pool: &mut WorkerPool,
        x: &mut [f32],
        proj: &mut [f32],
        post_norm: Option<&Vector>,
    ) -> Result<(), ModelError> {
        let d = self.hparams.n_embd;
        let (xs, ps) = (DisjointSlice::new(x), DisjointSlice::new(proj));
        over_parts(pool, xs.len() / d, 1, MIN_ROWS, &|rows| {
            let at = rows.start * d..rows.end * d;
            // SAFETY: the parts of one split are disjoint rows.
            let (x, proj) = unsafe { (xs.range(at.clone()), ps.range(at)) };
            if let Some(pn) = post_norm {
                self.norm_rows_in_place(proj, pn);
            }
            for (x, p) in x.iter_mut().zip(proj.iter()) {
                *x += p;
            }
            Ok(())
        })
    }

    fn norm_rows(
        &self,
        pool: &mut WorkerPool,
        x: &[f32],
        w: &Vector,
        out: &mut [f32],
    ) -> Result<(), ModelError> {
        let d = w.len;
        let g = self.vector(w);
        let eps = self.hparams.norm_eps;
        let out = DisjointSlice::new(out);
        over_parts(pool, x.len() / d, 1, MIN_ROWS, &|rows| {
            let at = rows.start * d..rows.end * d;
            // SAFETY: the parts of one split are disjoint rows.
            let o = unsafe { out.range(at.clone()) };
            for (xr, or) in x[at].chunks_exact(d).zip(o.chunks_exact_mut(d)) {
                rms_norm(xr, g, eps, or);
            }
            Ok(())
        })
    }

    fn norm_rows_in_place(&self, x: &mut [f32], w: &Vector) {
        rms_norm_chunks_in_place(x, self.vector(w), self.hparams.norm_eps);
    }

    fn add_bias(&self, x: &mut [f32], b: Option<&Vector>) {
        if let Some(b) = b {
            let b = self.vector(b);
            for row in x.chunks_exact_mut(b.len()) {
                row.iter_mut().zip(b).for_each(|(v, &bb)| *v += bb);
            }
        }
    }
}
