//! A conversation with a model: its KV cache, scratch buffers and worker threads, all allocated
//! when the session is created. `prefill` runs a prompt in batches; `decode` runs one token.

use crate::kv_cache::{KvCache, KvCacheType, KvShape};
use crate::model::{AttnBuffers, HeadScratch, Model, ModelError, OutputHead, Scratch};
use crate::worker_pool::WorkerPool;

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
