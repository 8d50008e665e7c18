//! Per-session work buffers, sized once for the largest batch (no allocation while decoding).

use super::attention::AttnBuffers;
use super::hparams::HyperParams;
use super::matmul::{product_scratch_len, QuantizedActs};
use super::output_head::HeadScratch;
use super::rope;
use super::spec::ArchSpec;

/// Buffers for one forward pass over up to `max_batch` tokens.
pub struct Scratch {
    /// Largest batch the buffers hold.
    pub max_batch: usize,
    /// (B, n_embd) the residual stream.
    pub x: Vec<f32>,
    /// (B, n_embd) normalised input of the current sub-layer.
    pub xn: Vec<f32>,
    /// (B, n_head·head_dim) queries.
    pub q: Vec<f32>,
    /// (B, n_head_kv·head_dim) keys.
    pub k: Vec<f32>,
    /// (B, n_head_kv·head_dim_v) values.
    pub v: Vec<f32>,
    /// (B, n_head·head_dim_v) attention output before the output projection.
    pub attn: Vec<f32>,
    /// (B, n_embd) output of a projection back to the model width.
    pub proj: Vec<f32>,
    /// (B, n_ff) FFN gate.
    pub gate: Vec<f32>,
    /// (B, n_ff) FFN up projection.
    pub up: Vec<f32>,
    /// (n_embd) the final norm of one token.
    pub last: Vec<f32>,
    /// (n_vocab) logits of one token.
    pub logits: Vec<f32>,
    /// Buffers of the precise output head (`None` when the head is quantized once).
    pub head: Option<HeadScratch>,
    /// Quantized activations shared by products with the same input.
    pub acts: QuantizedActs,
    /// Attention's query, partial and per-thread buffers.
    pub attn_buf: AttnBuffers,
    /// (n_threads, chunk) each thread's tile of a batched product's chunk (rows × tokens)
    /// before it is spread into the (t, rows) result.
    pub worker_tmp: Vec<f32>,
    /// Each layer's rotations of the batch's positions.
    pub rope: rope::RopeTables,
}

impl Scratch {
    /// Allocates every buffer for batches of up to `max_batch` tokens; `head` holds the precise
    /// output head's buffers when the session uses it.
    pub fn new(
        hp: &HyperParams,
        spec: &ArchSpec,
        max_batch: usize,
        n_threads: usize,
        head: Option<HeadScratch>,
        attn_buf: AttnBuffers,
    ) -> Scratch {
        let b = max_batch;
        let widest = hp.n_embd.max(hp.n_ff).max(hp.n_head * hp.head_dim_v);
        // Q8_K has the most bytes per element of the activation types (292 per 256, under 37
        // per 32); Q8_0/Q8_1 take 34/36 per 32.
        let act_bytes = b * widest.div_ceil(32) * 37 + 64;
        // Row counts of the products a batch runs (the output head runs one token only).
        let rows = [
            hp.n_ff,
            hp.n_embd,
            hp.n_head * hp.head_dim,
            hp.n_head_kv * hp.head_dim,
            hp.n_head_kv * hp.head_dim_v,
        ];
        Scratch {
            max_batch: b,
            x: vec![0.0; b * hp.n_embd],
            xn: vec![0.0; b * hp.n_embd],
            q: vec![0.0; b * hp.n_head * hp.head_dim],
            k: vec![0.0; b * hp.n_head_kv * hp.head_dim],
            v: vec![0.0; b * hp.n_head_kv * hp.head_dim_v],
            attn: vec![0.0; b * hp.n_head * hp.head_dim_v],
            proj: vec![0.0; b * hp.n_embd],
            gate: vec![0.0; b * hp.n_ff],
            up: vec![0.0; b * hp.n_ff],
            last: vec![0.0; hp.n_embd],
            logits: vec![0.0; hp.n_vocab],
            head,
            attn_buf,
            acts: QuantizedActs::with_capacity(3, act_bytes),
            worker_tmp: vec![0.0; n_threads * product_scratch_len(b, &rows, n_threads)],
            rope: rope::RopeTables::new(
                spec.layers
                    .iter()
                    .map(|l| rope::inv_freqs(hp.n_rot, l.rope_base, l.rope_freq_scale))
                    .collect(),
                b,
            ),
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        let f = [
            &self.x,
            &self.xn,
            &self.q,
            &self.k,
            &self.v,
            &self.attn,
            &self.proj,
            &self.gate,
            &self.up,
            &self.last,
            &self.logits,
            &self.worker_tmp,
        ]
        .iter()
        .map(|v| v.capacity())
        .sum::<usize>();
        f * 4
            + self.head.as_ref().map_or(0, HeadScratch::bytes)
            + self.attn_buf.bytes()
            + self.rope.bytes()
    }
}
