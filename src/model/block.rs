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
use super::error::ModelError;
use super::matmul::matmul;
use super::norm::{gelu_tanh, rms_norm, rms_norm_chunks_in_place, silu};
use super::rope;
use super::scratch::Scratch;
use super::spec::Activation;
use super::weights::{LayerWeights, Vector};
use super::Model;
use crate::kv_cache::KvCache;

impl Model {
    /// Runs `tokens` (at positions `pos0..`) through every layer, filling the KV cache; the
    /// final residual stream is left in `sc.x` (t, n_embd).
    pub(crate) fn forward_batch(
        &self,
        sc: &mut Scratch,
        kv: &mut KvCache,
        tokens: &[u32],
        pos0: usize,
        n_threads: usize,
    ) -> Result<(), ModelError> {
        let hp = &self.hparams;
        let t = tokens.len();
        let d = hp.n_embd;
        debug_assert!(t <= sc.max_batch);
        self.embed(tokens, &mut sc.x[..t * d])?;
        for (il, lw) in self.weights.layers.iter().enumerate() {
            self.attention_sublayer(il, lw, sc, kv, t, pos0, n_threads)?;
            self.ffn_sublayer(lw, sc, t, n_threads)?;
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
        il: usize,
        lw: &LayerWeights,
        sc: &mut Scratch,
        kv: &mut KvCache,
        t: usize,
        pos0: usize,
        n_threads: usize,
    ) -> Result<(), ModelError> {
        let hp = &self.hparams;
        let d = hp.n_embd;
        let (q_dim, k_dim) = (hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim);
        let v_dim = hp.n_head_kv * hp.head_dim_v;
        let a_dim = hp.n_head * hp.head_dim_v;
        let eps = hp.norm_eps;

        self.norm_rows(&sc.x[..t * d], &lw.attn_norm, &mut sc.xn[..t * d]);
        sc.acts.invalidate();
        let xn = &sc.xn[..t * d];
        self.project(
            &lw.wq,
            xn,
            t,
            &mut sc.acts,
            &mut sc.q[..t * q_dim],
            n_threads,
        )?;
        self.project(
            &lw.wk,
            xn,
            t,
            &mut sc.acts,
            &mut sc.k[..t * k_dim],
            n_threads,
        )?;
        self.project(
            &lw.wv,
            xn,
            t,
            &mut sc.acts,
            &mut sc.v[..t * v_dim],
            n_threads,
        )?;
        self.add_bias(&mut sc.q[..t * q_dim], lw.bq.as_ref());
        self.add_bias(&mut sc.k[..t * k_dim], lw.bk.as_ref());
        self.add_bias(&mut sc.v[..t * v_dim], lw.bv.as_ref());
        if let (Some(qn), Some(kn)) = (&lw.q_norm, &lw.k_norm) {
            rms_norm_chunks_in_place(&mut sc.q[..t * q_dim], self.vector(qn), eps);
            rms_norm_chunks_in_place(&mut sc.k[..t * k_dim], self.vector(kn), eps);
        }
        let inv_freq = &sc.inv_freq[il];
        let layer_cache = &mut kv.layers[il];
        for ti in 0..t {
            let pos = pos0 + ti;
            let q = &mut sc.q[ti * q_dim..][..q_dim];
            let k = &mut sc.k[ti * k_dim..][..k_dim];
            rope::apply(q, hp.head_dim, inv_freq, pos, self.spec.rope_style);
            rope::apply(k, hp.head_dim, inv_freq, pos, self.spec.rope_style);
            layer_cache.store(pos, k, &sc.v[ti * v_dim..][..v_dim]);
        }
        let shape = AttnShape {
            n_head: hp.n_head,
            n_head_kv: hp.n_head_kv,
            head_dim: hp.head_dim,
            head_dim_v: hp.head_dim_v,
            scale: self.spec.attention_scale,
            window: self.spec.layers[il].sliding_window,
        };
        attend(
            &sc.q[..t * q_dim],
            pos0,
            layer_cache,
            &shape,
            &mut sc.attn[..t * a_dim],
        );
        sc.acts.invalidate();
        self.project(
            &lw.wo,
            &sc.attn[..t * a_dim],
            t,
            &mut sc.acts,
            &mut sc.proj[..t * d],
            n_threads,
        )?;
        self.add_residual(
            &mut sc.x[..t * d],
            &mut sc.proj[..t * d],
            lw.post_attn_norm.as_ref(),
        );
        Ok(())
    }

    fn ffn_sublayer(
        &self,
        lw: &LayerWeights,
        sc: &mut Scratch,
        t: usize,
        n_threads: usize,
    ) -> Result<(), ModelError> {
        let hp = &self.hparams;
        let (d, ff) = (hp.n_embd, hp.n_ff);
        self.norm_rows(&sc.x[..t * d], &lw.ffn_norm, &mut sc.xn[..t * d]);
        sc.acts.invalidate();
        let xn = &sc.xn[..t * d];
        self.project(
            &lw.w_gate,
            xn,
            t,
            &mut sc.acts,
            &mut sc.gate[..t * ff],
            n_threads,
        )?;
        self.project(
            &lw.w_up,
            xn,
            t,
            &mut sc.acts,
            &mut sc.up[..t * ff],
            n_threads,
        )?;
        let act = self.spec.activation;
        for (g, &u) in sc.gate[..t * ff].iter_mut().zip(&sc.up[..t * ff]) {
            *g = match act {
                Activation::Silu => silu(*g),
                Activation::GeluTanh => gelu_tanh(*g),
            } * u;
        }
        sc.acts.invalidate();
        self.project(
            &lw.w_down,
            &sc.gate[..t * ff],
            t,
            &mut sc.acts,
            &mut sc.proj[..t * d],
            n_threads,
        )?;
        self.add_residual(
            &mut sc.x[..t * d],
            &mut sc.proj[..t * d],
            lw.post_ffn_norm.as_ref(),
        );
        Ok(())
    }

    /// `out = x · mᵀ` through the kernels (see [`matmul`]).
    fn project(
        &self,
        m: &super::weights::Matrix,
        x: &[f32],
        t: usize,
        acts: &mut super::matmul::QuantizedActs,
        out: &mut [f32],
        n_threads: usize,
    ) -> Result<(), ModelError> {
        matmul(self.data(m), m, x, t, acts, out, n_threads)
    }

    /// `x += post_norm(proj)` (the norm only for families that have it), row by row.
    fn add_residual(&self, x: &mut [f32], proj: &mut [f32], post_norm: Option<&Vector>) {
        if let Some(pn) = post_norm {
            self.norm_rows_in_place(proj, pn);
        }
        for (x, p) in x.iter_mut().zip(proj.iter()) {
            *x += p;
        }
    }

    fn norm_rows(&self, x: &[f32], w: &Vector, out: &mut [f32]) {
        let d = w.len;
        let g = self.vector(w);
        for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            rms_norm(xr, g, self.hparams.norm_eps, or);
        }
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
