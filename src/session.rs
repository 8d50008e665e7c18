//! A conversation with a model: its KV cache, scratch buffers and worker threads, all allocated
//! when the session is created. `prefill` runs a prompt in batches; `decode` runs one token.

use crate::kv_cache::{KvCache, KvCacheType, KvShape};
use crate::model::{log_prob, AttnBuffers, HeadScratch, Model, ModelError, OutputHead, Scratch};
use crate::worker_pool::{DisjointSlice, WorkerPool};

/// Most bytes of logits [`Session::token_log_probs`] holds at once: rows of the vocabulary are
/// computed this many bytes' worth at a time (16 rows of Gemma 3's 262,144 entries), never a
/// whole context of them.
const SCORE_LOGITS_BYTES: usize = 16 << 20;

/// How a session is sized.
#[derive(Clone, Debug)]
pub struct SessionParams {
    /// Positions the session can hold; `None` means the model's training context.
    pub n_ctx: Option<usize>,
    /// Worker threads for the matrix products and attention; `None` means all cores.
    pub n_threads: Option<usize>,
    /// Largest number of prompt tokens processed in one batch.
    pub max_batch: usize,
    /// Precision of the logits: precise (activations quantized twice, the default) or quantized
    /// once like the other projections (see [`OutputHead`]).
    pub output_head: OutputHead,
    /// Element type of the KV cache: F16 (the default, as llama.cpp's), F32 (exact, twice the
    /// bytes) or Q8_0 (about a quarter of F32's). Smaller caches read fewer bytes per token at
    /// long contexts. Measured against the f32 numpy reference (tests/forward_reference.rs
    /// prompts), F16 and F32 agree equally well (mean KL 0.0009-0.005 nats either way); Q8_0
    /// does too on SmolLM2 and Gemma 3 but not on Qwen2.5 (mean KL up to 1.4 nats on one
    /// prompt), whose keys carry outliers that 8-bit blocks flatten.
    pub kv_cache: KvCacheType,
}

impl Default for SessionParams {
    fn default() -> Self {
        SessionParams {
            n_ctx: None,
            n_threads: None,
            max_batch: 64,
            output_head: OutputHead::default(),
            kv_cache: KvCacheType::F16,
        }
    }
}

/// Per-conversation state over a shared, immutable [`Model`].
pub struct Session<'m> {
    model: &'m Model,
    kv: KvCache,
    scratch: Scratch,
    pool: WorkerPool,
    n_threads: usize,
    n_ctx: usize,
    pos: usize,
    head: OutputHead,
}

impl<'m> Session<'m> {
    /// Allocates the KV cache and scratch for `params`.
    pub fn new(model: &'m Model, params: &SessionParams) -> Result<Session<'m>, ModelError> {
        let train = model.hparams.n_ctx_train;
        let n_ctx = params.n_ctx.unwrap_or(train);
        if n_ctx == 0 || n_ctx > train {
            return Err(ModelError::BadParam(format!(
                "context size {n_ctx}: must be between 1 and the model's {train}"
            )));
        }
        if params.max_batch == 0 {
            return Err(ModelError::BadParam("batch size 0".into()));
        }
        let n_threads = match params.n_threads {
            Some(0) => return Err(ModelError::BadParam("0 threads".into())),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let mut pool = WorkerPool::new(n_threads)?;
        let max_batch = params.max_batch.min(n_ctx);
        let head = match params.output_head {
            OutputHead::Precise => Some(HeadScratch::new(&model.weights.output)?),
            OutputHead::Quantized => None,
        };
        if head.is_some() {
            model.head_row_norms(&mut pool)?;
        }
        let hp = &model.hparams;
        let kv = KvCache::new(
            KvShape {
                n_head_kv: hp.n_head_kv,
                head_dim: hp.head_dim,
                head_dim_v: hp.head_dim_v,
            },
            model.spec.layers.iter().map(|l| l.sliding_window),
            n_ctx,
            max_batch,
            params.kv_cache,
        )?;
        let attn_buf = AttnBuffers::new(
            &model.attn_shape(),
            params.kv_cache,
            max_batch,
            kv.max_capacity(),
            n_threads,
        )?;
        Ok(Session {
            model,
            scratch: Scratch::new(hp, &model.spec, max_batch, n_threads, head, attn_buf),
            kv,
            pool,
            n_threads,
            n_ctx,
            pos: 0,
            head: params.output_head,
        })
    }

    /// The model this session runs.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// Positions used so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Positions the session can hold.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Worker threads.
    pub fn n_threads(&self) -> usize {
        self.n_threads
    }

    /// Forgets the conversation (the buffers are kept).
    pub fn reset(&mut self) {
        self.pos = 0;
        self.kv.clear();
    }

    /// Rewinds the session to `pos`: positions from `pos` on are forgotten, those before it
    /// are kept, so a prompt sharing its first `pos` tokens with what the session ran needs only
    /// the rest prefilled. Returns the position the session now holds: `pos` (or the current
    /// position, if `pos` is beyond it), or 0 when a sliding-window layer's ring has already
    /// overwritten keys that position `pos` attends to; the whole prompt must then be run again.
    pub fn truncate(&mut self, pos: usize) -> usize {
        if pos >= self.pos {
            return self.pos;
        }
        if self.kv.can_resume_at(pos) {
            self.pos = pos;
        } else {
            self.reset();
        }
        self.pos
    }

    /// Bytes of KV cache and scratch this session allocated.
    pub fn memory_bytes(&self) -> usize {
        self.kv.bytes() + self.scratch.bytes()
    }

    fn check_room(&self, n: usize) -> Result<(), ModelError> {
        if self.pos + n > self.n_ctx {
            return Err(ModelError::ContextFull {
                needed: self.pos + n,
                capacity: self.n_ctx,
                train: self.model.hparams.n_ctx_train,
            });
        }
        Ok(())
    }

    /// Runs `tokens` after what the session holds and returns the logits that follow the last.
    pub fn prefill(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::BadParam("empty prompt".into()));
        }
        self.check_room(tokens.len())?;
        let mut last_rows = 0;
        for chunk in tokens.chunks(self.scratch.max_batch) {
            self.run_batch(chunk)?;
            last_rows = chunk.len();
        }
        self.logits_of(last_rows - 1)?;
        Ok(&self.scratch.logits)
    }

    /// Runs one token and returns the logits that follow it.
    pub fn decode(&mut self, token: u32) -> Result<&[f32], ModelError> {
        self.check_room(1)?;
        self.run_batch(&[token])?;
        self.logits_of(0)?;
        Ok(&self.scratch.logits)
    }

    /// Runs `tokens` and appends the logits after every one of them to `out`
    /// (tokens.len() × n_vocab), for perplexity and reference comparisons.
    pub fn logits_all(&mut self, tokens: &[u32], out: &mut Vec<f32>) -> Result<(), ModelError> {
        self.check_room(tokens.len())?;
        for chunk in tokens.chunks(self.scratch.max_batch) {
            self.run_batch(chunk)?;
            for row in 0..chunk.len() {
                self.logits_of(row)?;
                out.extend_from_slice(&self.scratch.logits);
            }
        }
        Ok(())
    }

    /// Runs `tokens` after what the session holds and returns, for every `i` in
    /// `from..tokens.len() - 1`, the natural-log probability the model gives `tokens[i + 1]`
    /// after `tokens[..=i]` (and what the session held before): how text is scored.
    ///
    /// It runs at prefill speed: the tokens go through the network in batches, and the logits of
    /// the scored positions come from batched products of the output head, a few rows at a time
    /// (at most 16 MiB of logits), each row reduced to the one log-probability at once. The
    /// logits of positions before `from` are never computed. Every value equals the one
    /// [`Session::logits_all`] gives for the same position, whatever the thread count.
    pub fn token_log_probs(&mut self, tokens: &[u32], from: usize) -> Result<Vec<f64>, ModelError> {
        self.check_room(tokens.len())?;
        let n_vocab = self.model.hparams.n_vocab;
        // Targets are read before the batch that embeds (and checks) them runs.
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= n_vocab) {
            return Err(ModelError::BadToken { id, n_vocab });
        }
        let last = tokens.len().saturating_sub(1);
        let max_batch = self.scratch.max_batch;
        let group = (SCORE_LOGITS_BYTES / (4 * n_vocab)).clamp(1, max_batch);
        let mut logits = vec![0.0f32; group.min(last.saturating_sub(from)) * n_vocab];
        let mut lps = vec![0.0f64; group];
        let mut out = Vec::with_capacity(last.saturating_sub(from));
        let mut start = 0;
        for chunk in tokens.chunks(max_batch) {
            self.run_batch(chunk)?;
            let (lo, hi) = (from.max(start), last.min(start + chunk.len()));
            let mut r = lo;
            while r < hi {
                let n = group.min(hi - r);
                let rows = &mut logits[..n * n_vocab];
                let targets = &tokens[r + 1..][..n];
                self.model.logits_of_rows(
                    &mut self.pool,
                    &mut self.scratch,
                    r - start..r - start + n,
                    rows,
                    self.head,
                )?;
                let rows = &logits[..n * n_vocab];
                let lp = DisjointSlice::new(&mut lps[..n]);
                // One chunk per row: each reduces its row to the target's log-probability.
                self.pool.run(n, &|i, _| {
                    // SAFETY: chunk `i` alone writes element `i`.
                    let slot = unsafe { lp.range(i..i + 1) };
                    slot[0] = log_prob(&rows[i * n_vocab..][..n_vocab], targets[i] as usize);
                    Ok(())
                })?;
                out.extend_from_slice(&lps[..n]);
                r += n;
            }
            start += chunk.len();
        }
        Ok(out)
    }

    fn run_batch(&mut self, tokens: &[u32]) -> Result<(), ModelError> {
        self.model.forward_batch(
            &mut self.pool,
            &mut self.scratch,
            &mut self.kv,
            tokens,
            self.pos,
        )?;
        self.pos += tokens.len();
        Ok(())
    }

    fn logits_of(&mut self, row: usize) -> Result<(), ModelError> {
        self.model
            .logits_of_row(&mut self.pool, &mut self.scratch, row, self.head)
    }
}
