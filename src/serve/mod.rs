//! `retort serve`: an OpenAI-compatible HTTP server over one mapped model (feature `serve`).
//!
//! Endpoints: `POST /v1/chat/completions`, `POST /v1/completions` (JSON or server-sent
//! events), `GET /v1/models`, `GET /health` (slots, queue, counters, prompt-cache hit rate) and
//! `GET /slots` (per-slot state, as llama-server has). Nothing below this module knows HTTP.
//!
//! # Why the model outlives the sessions without `'static`
//! A [`Session`] borrows its [`Model`], and the server keeps one session per slot for its whole
//! life. [`Server::run`] runs the slots' worker threads inside [`std::thread::scope`]: the
//! scope cannot end before every worker has been joined, so every session is dropped before
//! the borrow of the model ends, with no leak, no reference counting of the model and no
//! `unsafe`. The async side (axum on tokio) holds only `'static` things: the tokenizer in an
//! `Arc`, and channels to the workers.
//!
//! # Memory
//! Every slot's KV cache and scratch are allocated by [`Server::new`], before the socket is
//! bound: [`Server::memory_bytes`] is all the server will ever hold beyond the mapped file and
//! the requests in flight. `-t` threads are divided among the slots.

mod api;
mod auth;
mod error;
mod routes;
mod slots;
mod stop;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub use error::{ApiError, ServeError};
pub use stop::StopMatcher;

use crate::conversation::Conversation;
use crate::error::Error;
use crate::model::{Model, OutputHead};
use crate::session::{Session, SessionParams};
use crate::tokenizer::{ChatTemplate, Tokenizer};

/// Context size when none is given: the model's, up to this (a Pi has little memory, and the
/// KV cache of every slot is allocated up front).
pub const DEFAULT_MAX_CTX: usize = 4096;

/// How a server is set up (`Debug` never shows the API key).
#[derive(Clone)]
pub struct ServeParams {
    /// The name `/v1/models` lists and requests may give as `model`.
    pub model_id: String,
    /// Conversations served at once, each with its own KV cache.
    pub slots: usize,
    /// Positions per slot; `None`: the model's training context, at most [`DEFAULT_MAX_CTX`].
    pub n_ctx: Option<usize>,
    /// Worker threads in all, divided among the slots; `None`: every core.
    pub threads: Option<usize>,
    /// Requests that may wait for a slot; more get 503 at once.
    pub queue: usize,
    /// Longest wait for a slot before a 503.
    pub queue_timeout: Duration,
    /// Requests must carry `Authorization: Bearer` this.
    pub api_key: Option<String>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Longest a request may take from arrival to its last token.
    pub request_timeout: Duration,
    /// After SIGINT/SIGTERM, how long running generations may go on before they are cancelled.
    pub shutdown_grace: Duration,
    /// Logit precision (see [`OutputHead`]).
    pub output_head: OutputHead,
}

impl std::fmt::Debug for ServeParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeParams")
            .field("model_id", &self.model_id)
            .field("slots", &self.slots)
            .field("n_ctx", &self.n_ctx)
            .field("threads", &self.threads)
            .field("queue", &self.queue)
            .field("queue_timeout", &self.queue_timeout)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("output_head", &self.output_head)
            .finish()
    }
}

impl Default for ServeParams {
    fn default() -> Self {
        ServeParams {
            model_id: "retort".into(),
            slots: 1,
            n_ctx: None,
            threads: None,
            queue: 16,
            queue_timeout: Duration::from_secs(120),
            api_key: None,
            max_body_bytes: 1 << 20,
            request_timeout: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(5),
            output_head: OutputHead::default(),
        }
    }
}

/// A server ready to run: the model's tokenizer and template, and every slot's session.
pub struct Server<'m> {
    params: ServeParams,
    tokenizer: Arc<Tokenizer>,
    template: Result<ChatTemplate, String>,
    conversations: Vec<Conversation<'m>>,
    n_ctx: usize,
    threads_per_slot: usize,
    n_vocab: usize,
}

impl<'m> Server<'m> {
    /// Builds the tokenizer and allocates every slot's session.
    pub fn new(model: &'m Model, params: ServeParams) -> Result<Server<'m>, Error> {
        if params.slots == 0 {
            return Err(ServeError::BadParam("--slots must be at least 1".into()).into());
        }
        if params.max_body_bytes == 0 {
            return Err(
                ServeError::BadParam("the body limit must be at least 1 byte".into()).into(),
            );
        }
        let tokenizer = Tokenizer::from_gguf(model.gguf())?;
        let template = ChatTemplate::for_tokenizer(&tokenizer, Some(&model.hparams.arch))
            .map_err(|e| e.to_string());
        let n_ctx = params
            .n_ctx
            .unwrap_or(model.hparams.n_ctx_train.min(DEFAULT_MAX_CTX));
        let threads = match params.threads {
            Some(0) => return Err(ServeError::BadParam("0 threads".into()).into()),
            Some(t) => t,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        // More slots than threads share the cores by time; never fewer than one thread a slot.
        let threads_per_slot = (threads / params.slots).max(1);
        let session_params = SessionParams {
            n_ctx: Some(n_ctx),
            n_threads: Some(threads_per_slot),
            output_head: params.output_head,
            ..SessionParams::default()
        };
        let conversations = (0..params.slots)
            .map(|_| Session::new(model, &session_params).map(Conversation::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Server {
            params,
            tokenizer: Arc::new(tokenizer),
            template,
            conversations,
            n_ctx,
            threads_per_slot,
            n_vocab: model.hparams.n_vocab,
        })
    }

    /// Bytes of KV cache and scratch allocated for all slots.
    pub fn memory_bytes(&self) -> usize {
        self.conversations
            .iter()
            .map(|c| c.session().memory_bytes())
            .sum()
    }

    /// Positions per slot.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Worker threads per slot.
    pub fn threads_per_slot(&self) -> usize {
        self.threads_per_slot
    }

    /// Why chat completions are unavailable, if they are (the model has no chat template).
    pub fn chat_template_error(&self) -> Option<&str> {
        self.template.as_ref().err().map(String::as_str)
    }

    /// Serves on `listener` until `shutdown` resolves; then stops accepting, refuses queued
    /// requests (503), lets running generations go on for the grace period, cancels what is
    /// left, and returns once every connection and worker has finished.
    pub fn run(
        self,
        listener: std::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| Error::from(ServeError::Io { what, source })
        };
        listener
            .set_nonblocking(true)
            .map_err(io("setting the socket non-blocking"))?;
        let (pool, receivers) = slots::SlotPool::new(
            self.conversations.len(),
            self.params.queue,
            self.params.queue_timeout,
            self.n_ctx,
            self.threads_per_slot,
        );
        let app = Arc::new(routes::App {
            limits: api::Limits {
                model_id: self.params.model_id.clone(),
                n_ctx: self.n_ctx,
                n_vocab: self.n_vocab,
            },
            tokenizer: Arc::clone(&self.tokenizer),
            template: self.template,
            pool: Arc::clone(&pool),
            api_key: self.params.api_key.as_deref().map(auth::ApiKey::new),
            max_body_bytes: self.params.max_body_bytes,
            request_timeout: self.params.request_timeout,
            started: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            stopping: AtomicBool::new(false),
        });
        let tokenizer = &*self.tokenizer;
        let grace = self.params.shutdown_grace;
        std::thread::scope(|scope| {
            let mut workers = Vec::with_capacity(receivers.len());
            for (slot, (conversation, jobs)) in
                self.conversations.into_iter().zip(receivers).enumerate()
            {
                let pool = &pool;
                let worker = std::thread::Builder::new()
                    .name(format!("retort-slot-{slot}"))
                    .spawn_scoped(scope, move || {
                        pool.work(slot, conversation, tokenizer, jobs)
                    });
                match worker {
                    Ok(w) => workers.push(w),
                    Err(e) => {
                        pool.close_workers();
                        return Err(io("starting a slot's worker thread")(e));
                    }
                }
            }
            let served = serve_http(listener, Arc::clone(&app), shutdown, grace);
            // Whatever ended the server, every worker must end for the scope to.
            pool.cancel_all();
            pool.close_workers();
            drop(app);
            let mut panicked = None;
            for (slot, w) in workers.into_iter().enumerate() {
                if w.join().is_err() {
                    panicked = Some(slot);
                }
            }
            served?;
            match panicked {
                Some(slot) => Err(ServeError::WorkerPanicked(slot).into()),
                None => Ok(()),
            }
        })
    }
}

/// The async side: a small tokio runtime (the generation runs on the slots' threads) serving
/// the router until `shutdown`, then the graceful part of the shutdown.
fn serve_http(
    listener: std::net::TcpListener,
    app: Arc<routes::App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("retort-http")
        .enable_all()
        .build()
        .map_err(|source| ServeError::Io {
            what: "starting the async runtime".into(),
            source,
        })?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| ServeError::Io {
                what: "registering the socket".into(),
                source,
            })?;
        let router = routes::router(Arc::clone(&app));
        let stopping = async move {
            shutdown.await;
            app.stopping
                .store(true, std::sync::atomic::Ordering::Relaxed);
            app.pool.close_queue();
            let pool = Arc::clone(&app.pool);
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                pool.cancel_all();
            });
        };
        axum::serve(listener, router)
            .with_graceful_shutdown(stopping)
            .await
            .map_err(|source| ServeError::Io {
                what: "serving HTTP".into(),
                source,
            })?;
        Ok::<(), Error>(())
    })?;
    // Dropping the runtime ends the grace timer if connections closed before it fired.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM: the usual `shutdown` for [`Server::run`].
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
