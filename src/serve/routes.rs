//! The HTTP face: the router, one handler per endpoint, and the OpenAI response shapes
//! (JSON, or server-sent events ending with `data: [DONE]`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::{json, Value};
use tokio::sync::mpsc as async_mpsc;
use tokio_stream::Stream;

use super::api::{self, GenRequest, Limits, PromptSource};
use super::auth::{require_key, ApiKey};
use super::error::ApiError;
use super::slots::{CancelOnDrop, Event, Finish, Job, Outcome, SlotPool};
use crate::generate::GenerateParams;
use crate::tokenizer::{ChatTemplate, ChatTemplateParams, Tokenizer};

/// Everything the handlers share.
pub struct App {
    /// The served model's name and sizes.
    pub limits: Limits,
    /// The model's tokenizer.
    pub tokenizer: Arc<Tokenizer>,
    /// The model's chat template, or why it has none.
    pub template: Result<ChatTemplate, String>,
    /// The slots.
    pub pool: Arc<SlotPool>,
    /// Required bearer token, if any.
    pub api_key: Option<ApiKey>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// How long one request may take, queue included.
    pub request_timeout: std::time::Duration,
    /// Unix time the server started (`created` of `/v1/models`).
    pub started: u64,
    /// Set when shutdown begins (`/health` says so).
    pub stopping: AtomicBool,
}

/// Which endpoint a generation answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Chat,
    Completion,
}

/// The router: every endpoint, the body limit, the API key check (all but `/health`), and
/// JSON errors for unknown paths and methods.
pub fn router(app: Arc<App>) -> Router {
    let mut api = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/slots", get(slots));
    if let Some(key) = app.api_key.clone() {
        api = api.route_layer(middleware::from_fn_with_state(key, require_key));
    }
    Router::new()
        .route("/health", get(health))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(app.max_body_bytes))
        .with_state(app)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::bad_request(format!("no endpoint {method} {}", uri.path()))
        .with_status(StatusCode::NOT_FOUND)
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::bad_request(format!("{} does not accept {method}", uri.path()))
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let stopping = app.stopping.load(Ordering::Relaxed);
    let mut body = app.pool.health();
    body["status"] = json!(if stopping { "shutting_down" } else { "ok" });
    body["model"] = json!(app.limits.model_id);
    let status = if stopping {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

async fn slots(State(app): State<Arc<App>>) -> Json<Value> {
    Json(app.pool.slots())
}

async fn models(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{
            "id": app.limits.model_id,
            "object": "model",
            "created": app.started,
            "owned_by": "retort",
            "meta": { "n_ctx": app.limits.n_ctx, "n_vocab": app.limits.n_vocab },
        }],
    }))
}

async fn chat_completions(
    State(app): State<Arc<App>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request = api::parse_chat(&body_bytes(body)?, &app.limits)?;
    generate(app, request, Endpoint::Chat).await
}

async fn completions(
    State(app): State<Arc<App>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request = api::parse_completion(&body_bytes(body)?, &app.limits)?;
    generate(app, request, Endpoint::Completion).await
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the request body is larger than this server accepts (see --max-body)".to_string()
        } else {
            format!(
                "the request body could not be read: {}",
                rejection.body_text()
            )
        };
        ApiError::bad_request(message).with_status(status)
    })
}

/// Tokenizes the prompt (off the async workers: a long prompt takes a while), checks it fits,
/// takes a slot and hands the job over; answers as JSON or as a stream.
async fn generate(
    app: Arc<App>,
    request: GenRequest,
    endpoint: Endpoint,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let app2 = Arc::clone(&app);
    let prompt_source = request.prompt.clone();
    let prompt = tokio::task::spawn_blocking(move || encode(&app2, &prompt_source))
        .await
        .map_err(|e| ApiError::internal(format!("tokenizing the prompt failed: {e}")))??;
    let n_ctx = app.limits.n_ctx;
    if prompt.len() >= n_ctx {
        let field = match endpoint {
            Endpoint::Chat => "messages",
            Endpoint::Completion => "prompt",
        };
        return Err(ApiError::invalid(
            field,
            format!(
                "the prompt is {} tokens but the context holds {n_ctx}, with at least one \
                 position needed for the reply",
                prompt.len()
            ),
        )
        .with_code("context_length_exceeded"));
    }
    let ticket = app.pool.acquire(&prompt).await?;
    let cancel = Arc::new(AtomicBool::new(false));
    let (events, receiver) = async_mpsc::unbounded_channel();
    let job = Job {
        prompt,
        params: GenerateParams {
            max_tokens: request.max_tokens.unwrap_or(n_ctx),
            sampler: request.sampler.clone(),
        },
        stop: request.stop.clone(),
        cache_prompt: request.cache_prompt,
        cancel: Arc::clone(&cancel),
        deadline: started + app.request_timeout,
        events,
    };
    app.pool.submit(ticket, job)?;
    let guard = CancelOnDrop(cancel);
    let shape = Shape {
        endpoint,
        id: response_id(endpoint),
        created: unix_now(),
        model: app.limits.model_id.clone(),
    };
    if request.stream {
        let stream = EventStream {
            receiver,
            _guard: guard,
            shape,
            include_usage: request.include_usage,
            queued: VecDeque::new(),
            started: false,
            done: false,
        };
        return Ok(Sse::new(stream).into_response());
    }
    let mut receiver = receiver;
    let mut text = String::new();
    while let Some(event) = receiver.recv().await {
        match event {
            Event::Text(piece) => text.push_str(&piece),
            Event::Done(outcome) => {
                drop(guard);
                let outcome = outcome.and_then(|o| ended_well(o, &app))?;
                return Ok(Json(shape.whole(&text, &outcome)).into_response());
            }
        }
    }
    Err(ApiError::internal(
        "the slot's worker stopped without an answer",
    ))
}

/// A timed-out or cancelled job is an error for its client.
fn ended_well(o: Outcome, app: &App) -> Result<Outcome, ApiError> {
    match o.finish {
        Finish::TimedOut => Err(ApiError::internal(format!(
            "the request took longer than {} s (the server's --timeout)",
            app.request_timeout.as_secs()
        ))
        .with_status(StatusCode::GATEWAY_TIMEOUT)),
        Finish::Shutdown => Err(ApiError::unavailable(
            "the server shut down before the reply was finished",
            5,
        )
        .with_code("server_shutting_down")),
        _ => Ok(o),
    }
}

fn encode(app: &App, source: &PromptSource) -> Result<Vec<u32>, ApiError> {
    let tok = &app.tokenizer;
    match source {
        PromptSource::Chat(messages) => {
            let template = app.template.as_ref().map_err(|why| {
                ApiError::bad_request(format!("{why}; use /v1/completions with a plain prompt"))
            })?;
            let params = ChatTemplateParams {
                add_generation_prompt: true,
                ..Default::default()
            };
            template.encode(tok, messages, &params).map_err(|e| {
                ApiError::invalid(
                    "messages",
                    format!("the model's chat template refused these messages: {e}"),
                )
            })
        }
        PromptSource::Text(text) => tok
            .encode(text, true)
            .map_err(|e| ApiError::invalid("prompt", format!("the prompt cannot be encoded: {e}"))),
        PromptSource::Ids(ids) => Ok(ids.clone()),
    }
}

/// What every response object of one request repeats.
struct Shape {
    endpoint: Endpoint,
    id: String,
    created: u64,
    model: String,
}

impl Shape {
    fn object(&self, chunk: bool) -> &'static str {
        match (self.endpoint, chunk) {
            (Endpoint::Chat, false) => "chat.completion",
            (Endpoint::Chat, true) => "chat.completion.chunk",
            (Endpoint::Completion, _) => "text_completion",
        }
    }

    fn envelope(&self, chunk: bool, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": self.object(chunk),
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }

    /// A non-streamed response.
    fn whole(&self, text: &str, o: &Outcome) -> Value {
        let choice = match self.endpoint {
            Endpoint::Chat => json!({
                "index": 0,
                "message": { "role": "assistant", "content": text },
                "logprobs": null,
                "finish_reason": o.finish.as_str(),
            }),
            Endpoint::Completion => json!({
                "index": 0,
                "text": text,
                "logprobs": null,
                "finish_reason": o.finish.as_str(),
            }),
        };
        let mut v = self.envelope(false, json!([choice]));
        v["usage"] = usage(o);
        v["timings"] = timings(o);
        v
    }

    /// A streamed piece (`text`), or with `finish` the last chunk of the choice.
    fn chunk(&self, text: Option<&str>, role: bool, finish: Option<Finish>) -> Value {
        let finish = finish.map(Finish::as_str);
        let choice = match self.endpoint {
            Endpoint::Chat => {
                let mut delta = json!({});
                if role {
                    delta["role"] = json!("assistant");
                }
                if let Some(t) = text {
                    delta["content"] = json!(t);
                }
                json!({ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish })
            }
            Endpoint::Completion => json!({
                "index": 0,
                "text": text.unwrap_or(""),
                "logprobs": null,
                "finish_reason": finish,
            }),
        };
        self.envelope(true, json!([choice]))
    }
}

fn usage(o: &Outcome) -> Value {
    json!({
        "prompt_tokens": o.prompt_tokens,
        "completion_tokens": o.completion_tokens,
        "total_tokens": o.prompt_tokens + o.completion_tokens,
        "prompt_tokens_details": { "cached_tokens": o.cached_tokens },
    })
}

/// llama-server's `timings`: where the time went, and what the cache saved.
fn timings(o: &Outcome) -> Value {
    json!({
        "cache_n": o.cached_tokens,
        "prompt_n": o.prompt_tokens - o.cached_tokens,
        "prompt_ms": o.prompt_ms,
        "predicted_n": o.completion_tokens,
        "predicted_ms": o.gen_ms,
        "slot": o.slot,
    })
}

/// The server-sent events of one streamed request. Dropping it (the client went away) drops
/// the receiver and the cancel guard, which stops the job within one piece.
struct EventStream {
    receiver: async_mpsc::UnboundedReceiver<Event>,
    _guard: CancelOnDrop,
    shape: Shape,
    include_usage: bool,
    /// Events ready to go out before the next one is read.
    queued: VecDeque<SseEvent>,
    started: bool,
    done: bool,
}

impl EventStream {
    fn data(v: &Value) -> SseEvent {
        SseEvent::default().data(v.to_string())
    }

    fn finish(&mut self, outcome: Result<Outcome, ApiError>) {
        match outcome {
            Ok(o) if !matches!(o.finish, Finish::TimedOut | Finish::Shutdown) => {
                let last = self.shape.chunk(None, false, Some(o.finish));
                self.queued.push_back(Self::data(&last));
                if self.include_usage {
                    let mut u = self.shape.envelope(true, json!([]));
                    u["usage"] = usage(&o);
                    u["timings"] = timings(&o);
                    self.queued.push_back(Self::data(&u));
                }
            }
            Ok(o) => {
                let e = if o.finish == Finish::TimedOut {
                    ApiError::internal("the request took longer than the server's --timeout")
                        .with_status(StatusCode::GATEWAY_TIMEOUT)
                } else {
                    ApiError::unavailable("the server shut down before the reply was finished", 5)
                        .with_code("server_shutting_down")
                };
                self.queued.push_back(Self::data(&e.body()));
            }
            Err(e) => self.queued.push_back(Self::data(&e.body())),
        }
        self.queued.push_back(SseEvent::default().data("[DONE]"));
        self.done = true;
    }
}

impl Stream for EventStream {
    type Item = Result<SseEvent, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if !this.started {
            this.started = true;
            if this.shape.endpoint == Endpoint::Chat {
                let first = this.shape.chunk(Some(""), true, None);
                return Poll::Ready(Some(Ok(Self::data(&first))));
            }
        }
        if let Some(event) = this.queued.pop_front() {
            return Poll::Ready(Some(Ok(event)));
        }
        if this.done {
            return Poll::Ready(None);
        }
        match this.receiver.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Event::Text(piece))) => {
                let chunk = this.shape.chunk(Some(&piece), false, None);
                Poll::Ready(Some(Ok(Self::data(&chunk))))
            }
            Poll::Ready(Some(Event::Done(outcome))) => {
                this.finish(outcome);
                Poll::Ready(this.queued.pop_front().map(Ok))
            }
            Poll::Ready(None) => {
                this.finish(Err(ApiError::internal(
                    "the slot's worker stopped without an answer",
                )));
                Poll::Ready(this.queued.pop_front().map(Ok))
            }
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn response_id(endpoint: Endpoint) -> String {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = match endpoint {
        Endpoint::Chat => "chatcmpl",
        Endpoint::Completion => "cmpl",
    };
    format!(
        "{prefix}-{:x}-{}",
        unix_now(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
