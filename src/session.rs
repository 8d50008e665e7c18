//! A conversation with a model: its KV cache, scratch buffers and thread pool, all allocated
//! when the session is created. `prefill` runs a prompt in batches; `decode` runs one token.

use rayon::prelude::*;

use crate::kv_cache::KvCache;
use crate::model::{log_prob, HeadScratch, Model, ModelError, OutputHead, Scratch};

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
}

impl Default for SessionParams {
    fn default() -> Self {
        SessionParams {
            n_ctx: None,
            n_threads: None,
            max_batch: 64,
            output_head: OutputHead::default(),
        }
    }
}

/// Per-conversation state over a shared, immutable [`Model`].
pub struct Session<'m> {
    model: &'m Model,
    kv: KvCache,
    scratch: Scratch,
    pool: rayon::ThreadPool,
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
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n_threads)
            .thread_name(|i| format!("retort-{i}"))
            .build()
            .map_err(|e| ModelError::BadParam(format!("cannot start {n_threads} threads: {e}")))?;
        let max_batch = params.max_batch.min(n_ctx);
        let head = match params.output_head {
            OutputHead::Precise => Some(HeadScratch::new(&model.weights.output)?),
            OutputHead::Quantized => None,
        };
        if head.is_some() {
            pool.install(|| model.head_row_norms())?;
        }
        Ok(Session {
            model,
            kv: KvCache::new(&model.hparams, &model.spec.layers, n_ctx, max_batch),
            scratch: Scratch::new(&model.hparams, &model.spec, max_batch, head),
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
                let (model, sc, threads, head) =
                    (self.model, &mut self.scratch, self.n_threads, self.head);
                let lps: Vec<f64> = self.pool.install(|| {
                    model.logits_of_rows(sc, r - start..r - start + n, rows, threads, head)?;
                    Ok::<_, ModelError>(
                        rows.par_chunks(n_vocab)
                            .zip(targets)
                            .map(|(row, &t)| log_prob(row, t as usize))
                            .collect(),
                    )
                })?;
                out.extend(lps);
                r += n;
            }
            start += chunk.len();
        }
        Ok(out)
    }

    fn run_batch(&mut self, tokens: &[u32]) -> Result<(), ModelError> {
        let (model, sc, kv, pos, n) = (
            self.model,
            &mut self.scratch,
            &mut self.kv,
            self.pos,
            self.n_threads,
        );
        self.pool
            .install(|| model.forward_batch(sc, kv, tokens, pos, n))?;
        self.pos += tokens.len();
        Ok(())
    }

    fn logits_of(&mut self, row: usize) -> Result<(), ModelError> {
        let (model, sc, n, head) = (self.model, &mut self.scratch, self.n_threads, self.head);
        self.pool.install(|| model.logits_of_row(sc, row, n, head))
    }
}
