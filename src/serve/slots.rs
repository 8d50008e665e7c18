//! Slots: one [`Conversation`] (session + the ids its cache holds) per slot, each driven by a
//! dedicated worker thread, so generation never runs on the async runtime's threads and a long
//! generation never stalls `/health`.
//!
//! A request first waits for a free slot: a semaphore counts the free slots, and at most
//! `queue` requests may wait for one; past that they are refused at once with 503. Of the free
//! slots it takes the one whose cache shares the longest prefix with its prompt (then the one
//! used least recently, to keep other conversations' caches warm), and sends the worker a
//! [`Job`]. The worker streams [`Event`]s back. The slot is freed (its cached ids recorded
//! first) before the last event is sent, so a client that has its answer sees the slot free.
//!
//! A job stops within one piece of text when its client goes away (the event receiver is
//! dropped, or the request's [`CancelOnDrop`] guard fires), when its deadline passes, or when
//! the server cancels everything at the end of the shutdown grace period.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{mpsc as async_mpsc, OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use super::stop::StopMatcher;
use crate::conversation::Conversation;
use crate::generate::{GenerateParams, StopReason};
use crate::tokenizer::Tokenizer;

/// Why a completion ended, as OpenAI's `finish_reason` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// End of generation, or a stop sequence.
    Stop,
    /// `max_tokens` reached or the context full.
    Length,
    /// The client went away; nobody reads this.
    ClientGone,
    /// The request's deadline passed.
    TimedOut,
    /// The server is shutting down and its grace period is over.
    Shutdown,
}

impl Finish {
    /// OpenAI's `finish_reason`, or how `/slots` describes an ending that has none.
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::ClientGone => "client_gone",
            Finish::TimedOut => "timed_out",
            Finish::Shutdown => "shutdown",
        }
    }
}

/// The end of a job.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Why it ended.
    pub finish: Finish,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Of those, found in the slot's cache.
    pub cached_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
    /// Milliseconds running the uncached part of the prompt.
    pub prompt_ms: f64,
    /// Milliseconds generating.
    pub gen_ms: f64,
    /// The slot that ran it.
    pub slot: usize,
}

/// What a worker sends back for a job.
#[derive(Debug)]
pub enum Event {
    /// New text (after stop-sequence filtering).
    Text(String),
    /// The job is over; the slot is already free.
    Done(Result<Outcome, ApiError>),
}

/// One generation for a worker.
pub struct Job {
    /// The whole prompt.
    pub prompt: Vec<u32>,
    /// Token budget and sampler.
    pub params: GenerateParams,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Reuse the cache for a shared prefix (else the slot starts afresh).
    pub cache_prompt: bool,
    /// Set when the request is abandoned.
    pub cancel: Arc<AtomicBool>,
    /// The job must end by then.
    pub deadline: Instant,
    /// Where the events go.
    pub events: async_mpsc::UnboundedSender<Event>,
}

/// Sets its flag when dropped: a request's handler or response stream holds one, so a client
/// that goes away (its future or stream dropped) cancels its job.
pub struct CancelOnDrop(pub Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the pool knows about one slot.
#[derive(Debug)]
struct SlotState {
    busy: bool,
    /// The ids the slot's cache holds (a copy the worker updates after each job).
    held: Vec<u32>,
    /// When it was last given a job (a counter, for least-recently-used choice).
    last_used: u64,
    requests: u64,
    last: Option<Outcome>,
}

/// Counters for `/health`.
#[derive(Debug, Default)]
struct Counters {
    completed: u64,
    rejected: u64,
    failed: u64,
    client_gone: u64,
    timed_out: u64,
    cache_hits: u64,
    prompt_tokens: u64,
    cached_tokens: u64,
    completion_tokens: u64,
}

#[derive(Debug)]
struct Board {
    slots: Vec<SlotState>,
    counters: Counters,
    clock: u64,
}

/// The slots, their queue and their workers' job channels.
pub struct SlotPool {
    board: Mutex<Board>,
    free: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    senders: Mutex<Vec<mpsc::Sender<Job>>>,
    /// Set at the end of the shutdown grace period: every running job stops.
    cancel_all: AtomicBool,
    queue_timeout: Duration,
    n_ctx: usize,
    threads_per_slot: usize,
    requests: AtomicU64,
}

/// A slot taken for one request. Dropped without being submitted (the client went away
/// first), it frees the slot again.
pub struct Ticket {
    pool: Arc<SlotPool>,
    slot: usize,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.pool.board().slots[self.slot].busy = false;
            drop(permit);
        }
    }
}

/// Counts a request waiting for a slot for as long as it waits, even if it is dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SlotPool {
    /// A pool of `n_slots` slots; returns it with one job receiver per slot, for the workers.
    pub fn new(
        n_slots: usize,
        queue: usize,
        queue_timeout: Duration,
        n_ctx: usize,
        threads_per_slot: usize,
    ) -> (Arc<SlotPool>, Vec<mpsc::Receiver<Job>>) {
        let (senders, receivers) = (0..n_slots).map(|_| mpsc::channel()).unzip();
        let pool = SlotPool {
            board: Mutex::new(Board {
                slots: (0..n_slots)
                    .map(|_| SlotState {
                        busy: false,
                        held: Vec::new(),
                        last_used: 0,
                        requests: 0,
                        last: None,
                    })
                    .collect(),
                counters: Counters::default(),
                clock: 0,
            }),
            free: Arc::new(Semaphore::new(n_slots)),
            waiting: AtomicUsize::new(0),
            queue,
            senders: Mutex::new(senders),
            cancel_all: AtomicBool::new(false),
            queue_timeout,
            n_ctx,
            threads_per_slot,
            requests: AtomicU64::new(0),
        };
        (Arc::new(pool), receivers)
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        // A panic while holding the lock cannot leave the board half-updated in a way that
        // matters more than refusing every later request would.
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free slot (refusing at once with 503 when `queue` requests already wait),
    /// and takes the one whose cache best matches `prompt`.
    pub async fn acquire(self: &Arc<Self>, prompt: &[u32]) -> Result<Ticket, ApiError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let permit = match self.free.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(tokio::sync::TryAcquireError::Closed) => return Err(shutting_down()),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                let queued = self
                    .waiting
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                        (w < self.queue).then_some(w + 1)
                    });
                if queued.is_err() {
                    self.board().counters.rejected += 1;
                    return Err(ApiError::unavailable(
                        format!(
                            "all slots are busy and {} requests are already waiting; retry later",
                            self.queue
                        ),
                        1,
                    ));
                }
                let waiting = Waiting(&self.waiting);
                let waited =
                    tokio::time::timeout(self.queue_timeout, self.free.clone().acquire_owned())
                        .await;
                drop(waiting);
                match waited {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => return Err(shutting_down()),
                    Err(_) => {
                        self.board().counters.rejected += 1;
                        return Err(ApiError::unavailable(
                            format!(
                                "no slot became free within {} s; retry later",
                                self.queue_timeout.as_secs()
                            ),
                            1,
                        ));
                    }
                }
            }
        };
        let mut board = self.board();
        board.clock += 1;
        let clock = board.clock;
        let slot = board
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.busy)
            .max_by_key(|(_, s)| {
                let shared = s
                    .held
                    .iter()
                    .zip(prompt)
                    .take_while(|(a, b)| a == b)
                    .count();
                (shared, std::cmp::Reverse(s.last_used))
            })
            .map(|(i, _)| i)
            .ok_or_else(|| ApiError::internal("a slot permit was granted but no slot is free"))?;
        let state = &mut board.slots[slot];
        state.busy = true;
        state.last_used = clock;
        Ok(Ticket {
            pool: Arc::clone(self),
            slot,
            permit: Some(permit),
        })
    }

    /// Sends `job` to the ticket's slot. From then on the worker owns the slot and frees it
    /// when the job is over (see [`SlotPool::release`]).
    pub fn submit(&self, mut ticket: Ticket, job: Job) -> Result<(), ApiError> {
        let senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        let sent = senders
            .get(ticket.slot)
            .is_some_and(|sender| sender.send(job).is_ok());
        drop(senders);
        if !sent {
            // Dropping the ticket frees the slot again.
            return Err(shutting_down());
        }
        if let Some(permit) = ticket.permit.take() {
            permit.forget();
        }
        Ok(())
    }

    /// Marks `slot` free with the ids its cache now holds, and records `outcome`.
    fn release(&self, slot: usize, held: &[u32], outcome: &Result<Outcome, ApiError>) {
        let mut board = self.board();
        let state = &mut board.slots[slot];
        state.busy = false;
        state.held.clear();
        state.held.extend_from_slice(held);
        state.requests += 1;
        if let Ok(o) = outcome {
            state.last = Some(o.clone());
        }
        let c = &mut board.counters;
        match outcome {
            Ok(o) => {
                match o.finish {
                    Finish::ClientGone => c.client_gone += 1,
                    Finish::TimedOut => c.timed_out += 1,
                    _ => c.completed += 1,
                }
                c.prompt_tokens += o.prompt_tokens as u64;
                c.cached_tokens += o.cached_tokens as u64;
                c.completion_tokens += o.completion_tokens as u64;
                if o.cached_tokens > 0 {
                    c.cache_hits += 1;
                }
            }
            Err(_) => c.failed += 1,
        }
        drop(board);
        self.free.add_permits(1);
    }

    /// Stops taking requests: waiting and later ones get 503.
    pub fn close_queue(&self) {
        self.free.close();
    }

    /// Stops every running job (the end of the shutdown grace period).
    pub fn cancel_all(&self) {
        self.cancel_all.store(true, Ordering::Relaxed);
    }

    /// Ends the workers once their current job is done.
    pub fn close_workers(&self) {
        self.senders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The `/health` report.
    pub fn health(&self) -> serde_json::Value {
        let board = self.board();
        let busy = board.slots.iter().filter(|s| s.busy).count();
        let c = &board.counters;
        let finished = c.completed + c.client_gone + c.timed_out;
        json!({
            "slots": {
                "total": board.slots.len(),
                "idle": board.slots.len() - busy,
                "busy": busy,
            },
            "queue": {
                "waiting": self.waiting.load(Ordering::Acquire),
                "capacity": self.queue,
            },
            "requests": {
                "received": self.requests.load(Ordering::Relaxed),
                "completed": c.completed,
                "rejected_busy": c.rejected,
                "client_gone": c.client_gone,
                "timed_out": c.timed_out,
                "failed": c.failed,
            },
            "prompt_cache": {
                "hits": c.cache_hits,
                "hit_rate": if finished == 0 { 0.0 } else { c.cache_hits as f64 / finished as f64 },
                "prompt_tokens": c.prompt_tokens,
                "cached_tokens": c.cached_tokens,
            },
            "completion_tokens": c.completion_tokens,
        })
    }

    /// The `/slots` report.
    pub fn slots(&self) -> serde_json::Value {
        let board = self.board();
        board
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({
                    "id": i,
                    "busy": s.busy,
                    "n_ctx": self.n_ctx,
                    "threads": self.threads_per_slot,
                    "cached_tokens": s.held.len(),
                    "requests": s.requests,
                    "last": s.last.as_ref().map(|o| json!({
                        "finish": o.finish.as_str(),
                        "prompt_tokens": o.prompt_tokens,
                        "cached_tokens": o.cached_tokens,
                        "completion_tokens": o.completion_tokens,
                        "prompt_ms": o.prompt_ms,
                        "gen_ms": o.gen_ms,
                    })),
                })
            })
            .collect()
    }

    /// A worker's life: run jobs for slot `slot` until the pool closes its channel.
    pub fn work(
        &self,
        slot: usize,
        mut conversation: Conversation<'_>,
        tok: &Tokenizer,
        jobs: mpsc::Receiver<Job>,
    ) {
        while let Ok(job) = jobs.recv() {
            let events = job.events.clone();
            // A panic is a bug; it must not take the slot (or the server) down with it.
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                self.run_job(slot, &mut conversation, tok, job)
            }))
            .unwrap_or_else(|_| {
                conversation.reset();
                Err(ApiError::internal(format!(
                    "slot {slot}: generation failed unexpectedly; the slot was reset"
                )))
            });
            self.release(slot, conversation.held(), &outcome);
            let _ = events.send(Event::Done(outcome));
        }
    }

    fn run_job(
        &self,
        slot: usize,
        conversation: &mut Conversation<'_>,
        tok: &Tokenizer,
        job: Job,
    ) -> Result<Outcome, ApiError> {
        if !job.cache_prompt {
            conversation.reset();
        }
        let mut stop = StopMatcher::new(job.stop);
        let mut why: Option<Finish> = None;
        let turn = conversation.generate(tok, &job.prompt, &job.params, |piece| {
            let text = stop.push(piece);
            let sent = text.is_empty() || job.events.send(Event::Text(text)).is_ok();
            if !sent || job.events.is_closed() || job.cancel.load(Ordering::Relaxed) {
                why = Some(Finish::ClientGone);
            } else if self.cancel_all.load(Ordering::Relaxed) {
                why = Some(Finish::Shutdown);
            } else if Instant::now() >= job.deadline {
                why = Some(Finish::TimedOut);
            } else if stop.stopped() {
                why = Some(Finish::Stop);
            }
            if why.is_some() {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        });
        let turn = turn.map_err(|e| ApiError::internal(format!("generation failed: {e}")))?;
        let rest = stop.finish();
        if !rest.is_empty() {
            let _ = job.events.send(Event::Text(rest));
        }
        let g = &turn.generation;
        let finish = why.unwrap_or(match g.stop {
            StopReason::EndOfGeneration => Finish::Stop,
            StopReason::MaxTokens | StopReason::ContextFull => Finish::Length,
            // Only the callback above breaks, and it always says why.
            StopReason::Stopped => Finish::ClientGone,
        });
        Ok(Outcome {
            finish,
            prompt_tokens: job.prompt.len(),
            cached_tokens: turn.reused,
            completion_tokens: g.generated_ids.len(),
            prompt_ms: g.prompt_time.as_secs_f64() * 1e3,
            gen_ms: g.gen_time.as_secs_f64() * 1e3,
            slot,
        })
    }
}

fn shutting_down() -> ApiError {
    ApiError::unavailable("the server is shutting down", 5).with_code("server_shutting_down")
}
