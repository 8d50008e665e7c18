//! A persistent pool of worker threads for one session.
//!
//! A job is a fixed number of chunks (rows of a product, heads of attention); the caller and
//! the workers claim chunks one by one from a shared counter until none is left, and the caller
//! returns once every chunk is done. Which thread runs a chunk depends on timing, but what a
//! chunk computes depends only on its index, so results never depend on the thread count or on
//! scheduling. Claiming rather than assigning also keeps both cores busy when one thread is
//! late: on a machine with other work, a descheduled worker's chunks are taken by the others
//! instead of stalling the job.
//!
//! Decoding one token runs a few hundred short jobs (tens of microseconds each), so a job must
//! start and finish cheaply: it is published by one atomic store, waiting workers spin on it,
//! and no heap allocation, lock or system call happens per job while the workers are busy. A
//! thread that has waited longer than [`SPIN_ONLY`] also yields its core now and then (the
//! thread it waits for may need it); a worker idle for longer than [`SPIN`] parks (a futex
//! wait), so an idle session costs no CPU, and the next job wakes it with one system call.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::Range;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::model::ModelError;

/// How long an idle worker waits for the next job before it parks: longer than the gap between
/// two decode steps of a generation loop (sampling, streaming), short enough that an idle
/// session goes quiet.
const SPIN: Duration = Duration::from_millis(2);

/// How long a waiting thread only spins before it also yields its core now and then: longer
/// than the serial steps between two jobs and the sampling between two tokens.
const SPIN_ONLY: Duration = Duration::from_micros(300);

/// Most chunks a job may have (the claim word holds the count in 16 bits).
pub const MAX_CHUNKS: usize = u16::MAX as usize;

/// A job: chunk `chunk` run by thread `thread` (0 is the caller; a thread index selects
/// per-thread scratch, never what is computed).
pub type Job<'a> = dyn Fn(usize, usize) -> Result<(), ModelError> + Sync + 'a;

/// The claim word: job number (32 bits) | chunk count (16 bits) | next unclaimed chunk (16).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Claim(u64);

impl Claim {
    fn new(job: u32, n_chunks: usize) -> Claim {
        Claim((u64::from(job) << 32) | ((n_chunks as u64) << 16))
    }
    fn job(self) -> u32 {
        (self.0 >> 32) as u32
    }
    fn n_chunks(self) -> usize {
        ((self.0 >> 16) & 0xffff) as usize
    }
    fn next(self) -> usize {
        (self.0 & 0xffff) as usize
    }
}

/// What the caller and the workers share.
struct Shared {
    /// The current job's claim word.
    claim: AtomicU64,
    /// The current job; valid while any of its chunks is unclaimed or running.
    job: UnsafeCell<Option<*const Job<'static>>>,
    /// Chunks of the current job finished.
    done: AtomicUsize,
    /// Per worker: parked or about to park, so the caller must wake it.
    sleeping: Box<[AtomicBool]>,
    /// The first error a chunk returned in the current job.
    error: Mutex<Option<ModelError>>,
    /// The payload of the first panic in a chunk of the current job.
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
    /// The pool is being dropped.
    shutdown: AtomicBool,
}

// SAFETY: `job` is written only by the caller when no chunk of the previous job is unclaimed
// or running (every claimed chunk has counted itself done), so no thread reads it then; it is
// read only by a thread that has just claimed a chunk of the job it belongs to (the claim word
// is stored after the pointer, with release ordering, and claimed with acquire ordering). The
// pointee is `Sync`. Every other field is an atomic or a mutex.
unsafe impl Sync for Shared {}
// SAFETY: as above; the raw job pointer is only dereferenced under that protocol.
unsafe impl Send for Shared {}

impl Shared {
    /// Claims and runs chunks of job `job` until none is left. A chunk's error or panic is
    /// stored before the chunk counts itself done, so the caller, once every chunk is done,
    /// finds it (and never a later job).
    fn work(&self, job: u32, thread: usize) {
        let mut cur = Claim(self.claim.load(Ordering::Acquire));
        while cur.job() == job && cur.next() < cur.n_chunks() {
            let next = Claim(cur.0 + 1);
            match self.claim.compare_exchange_weak(
                cur.0,
                next.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: the pointer was stored before the claim word we just advanced
                    // (acquire on success), and stays valid until this chunk counts itself
                    // done below.
                    let f = unsafe { (*self.job.get()).expect("a job comes with its claim") };
                    // SAFETY: as above.
                    let result =
                        catch_unwind(AssertUnwindSafe(|| unsafe { (*f)(cur.next(), thread) }));
                    match result {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            if let Ok(mut slot) = self.error.lock() {
                                slot.get_or_insert(e);
                            }
                        }
                        Err(payload) => {
                            if let Ok(mut slot) = self.panic.lock() {
                                slot.get_or_insert(payload);
                            }
                        }
                    }
                    self.done.fetch_add(1, Ordering::Release);
                    cur = next;
                }
                Err(now) => cur = Claim(now),
            }
        }
    }
}

/// A fixed set of worker threads; see the module documentation.
pub struct WorkerPool {
    shared: Arc<Shared>,
    /// Threads 1.. (the caller of `run` is thread 0).
    threads: Vec<JoinHandle<()>>,
    /// The last job number published.
    job: u32,
}

impl WorkerPool {
    /// Starts `n_threads - 1` threads (the caller of [`WorkerPool::run`] is the last one).
    pub fn new(n_threads: usize) -> Result<WorkerPool, ModelError> {
        if n_threads == 0 {
            return Err(ModelError::BadParam("0 threads".into()));
        }
        let shared = Arc::new(Shared {
            claim: AtomicU64::new(Claim::new(0, 0).0),
            job: UnsafeCell::new(None),
            done: AtomicUsize::new(0),
            sleeping: (0..n_threads).map(|_| AtomicBool::new(false)).collect(),
            error: Mutex::new(None),
            panic: Mutex::new(None),
            shutdown: AtomicBool::new(false),
        });
        let mut pool = WorkerPool {
            shared,
            threads: Vec::with_capacity(n_threads - 1),
            job: 0,
        };
        for index in 1..n_threads {
            let shared = Arc::clone(&pool.shared);
            let handle = std::thread::Builder::new()
                .name(format!("retort-{index}"))
                .spawn(move || worker_loop(&shared, index))
                .map_err(|e| {
                    ModelError::BadParam(format!("cannot start {n_threads} threads: {e}"))
                })?;
            // On an error above, dropping `pool` stops the threads started so far.
            pool.threads.push(handle);
        }
        Ok(pool)
    }

    /// Threads, the caller included.
    pub fn n_threads(&self) -> usize {
        self.threads.len() + 1
    }

    /// Runs `job(chunk, thread)` for every chunk in `0..n_chunks`, spread over the threads, and
    /// waits for all of them; returns the first error a chunk returned. A panic in a chunk is
    /// raised again here once every chunk is done.
    pub fn run(&mut self, n_chunks: usize, job: &Job<'_>) -> Result<(), ModelError> {
        if self.threads.is_empty() || n_chunks <= 1 {
            for c in 0..n_chunks {
                job(c, 0)?;
            }
            return Ok(());
        }
        assert!(n_chunks <= MAX_CHUNKS, "{n_chunks} chunks in one job");
        let s = &*self.shared;
        // SAFETY: every chunk of the previous job counted itself done before the previous
        // `run` returned (and `&mut self` rules out a concurrent `run`), so no thread reads the
        // pointer now. Its lifetime is erased, but this function does not return before every
        // chunk of this job is done, and no thread reads it after its chunk.
        unsafe {
            *s.job.get() = Some(std::mem::transmute::<*const Job<'_>, *const Job<'static>>(
                job as *const Job<'_>,
            ));
        }
        s.done.store(0, Ordering::Relaxed);
        self.job = self.job.wrapping_add(1);
        s.claim
            .store(Claim::new(self.job, n_chunks).0, Ordering::SeqCst);
        for (w, t) in self.threads.iter().enumerate() {
            if s.sleeping[w + 1].load(Ordering::SeqCst) {
                t.thread().unpark();
            }
        }
        s.work(self.job, 0);
        wait_while(|| s.done.load(Ordering::Acquire) != n_chunks);
        let panic = s.panic.lock().ok().and_then(|mut p| p.take());
        if let Some(payload) = panic {
            if let Ok(mut e) = s.error.lock() {
                e.take();
            }
            resume_unwind(payload);
        }
        match s.error.lock().map(|mut e| e.take()) {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        let s = &*self.shared;
        s.shutdown.store(true, Ordering::SeqCst);
        s.claim
            .store(Claim::new(self.job.wrapping_add(1), 0).0, Ordering::SeqCst);
        for t in &self.threads {
            t.thread().unpark();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Spins while `busy()`, yielding now and then once the wait is long.
fn wait_while(busy: impl Fn() -> bool) {
    let start = Instant::now();
    let mut spins = 0u32;
    while busy() {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(256) && start.elapsed() > SPIN_ONLY {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

fn worker_loop(s: &Shared, index: usize) {
    let mut seen = 0u32;
    loop {
        seen = wait_for_job(s, index, seen);
        if s.shutdown.load(Ordering::SeqCst) {
            return;
        }
        s.work(seen, index);
    }
}

/// Spins, then yields, then parks, until a job other than `seen` is published; returns its
/// number.
fn wait_for_job(s: &Shared, index: usize, seen: u32) -> u32 {
    let start = Instant::now();
    let mut spins = 0u32;
    loop {
        let now = Claim(s.claim.load(Ordering::Acquire)).job();
        if now != seen {
            return now;
        }
        spins = spins.wrapping_add(1);
        if !spins.is_multiple_of(256) {
            std::hint::spin_loop();
            continue;
        }
        let waited = start.elapsed();
        if waited < SPIN_ONLY {
            continue;
        }
        if waited < SPIN {
            std::thread::yield_now();
            continue;
        }
        s.sleeping[index].store(true, Ordering::SeqCst);
        while Claim(s.claim.load(Ordering::SeqCst)).job() == seen {
            std::thread::park();
        }
        s.sleeping[index].store(false, Ordering::SeqCst);
    }
}

/// `[start, end)` of part `i` of `n` equal parts of `len` items, with boundaries on multiples of
/// `align` (the last part takes the remainder). Parts may be empty when `len` is small.
pub fn part(len: usize, i: usize, n: usize, align: usize) -> Range<usize> {
    debug_assert!(i < n && align > 0);
    let units = len.div_ceil(align);
    let at = |k: usize| ((units * k / n) * align).min(len);
    at(i)..at(i + 1)
}

/// A mutable slice that the chunks of one job write in disjoint parts.
pub struct DisjointSlice<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: it hands out `&mut` to disjoint ranges only (the caller of `range` promises it), so
// sharing it between threads is sharing `&mut [T]` pieces, which needs `T: Send`.
unsafe impl<T: Send> Sync for DisjointSlice<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for DisjointSlice<'_, T> {}

impl<'a, T> DisjointSlice<'a, T> {
    /// Lends `slice` to the chunks of one job.
    pub fn new(slice: &'a mut [T]) -> Self {
        DisjointSlice {
            ptr: slice.as_mut_ptr(),
            len: slice.len(),
            _borrow: PhantomData,
        }
    }

    /// Elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The elements `r`.
    ///
    /// # Safety
    /// No two live borrows from this slice (from any thread) overlap.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn range(&self, r: Range<usize>) -> &'a mut [T] {
        assert!(r.start <= r.end && r.end <= self.len, "range out of bounds");
        // SAFETY: in bounds (checked); exclusive by the caller's promise; the borrow of the
        // whole slice lives for 'a.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.end - r.start) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_range_once_on_aligned_boundaries() {
        for len in [0, 1, 15, 16, 17, 576, 1000, 49_152] {
            for n in 1..=5 {
                for align in [1, 16, 32] {
                    let mut next = 0;
                    for i in 0..n {
                        let r = part(len, i, n, align);
                        assert_eq!(r.start, next, "len {len} n {n} align {align}");
                        assert!(r.start.is_multiple_of(align) || r.start == len);
                        next = r.end;
                    }
                    assert_eq!(next, len);
                }
            }
        }
        // Balanced to within one aligned unit.
        let sizes: Vec<usize> = (0..3).map(|i| part(1000, i, 3, 16).len()).collect();
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 16);
    }

    #[test]
    fn every_chunk_runs_once_per_job() {
        for n in 1..=4 {
            let mut pool = WorkerPool::new(n).unwrap();
            assert_eq!(pool.n_threads(), n);
            let counts: Vec<AtomicUsize> = (0..37).map(|_| AtomicUsize::new(0)).collect();
            let threads_seen = AtomicUsize::new(0);
            for _ in 0..300 {
                pool.run(37, &|c, thread| {
                    assert!(thread < n);
                    threads_seen.fetch_or(1 << thread, Ordering::Relaxed);
                    counts[c].fetch_add(1, Ordering::Relaxed);
                    Ok(())
                })
                .unwrap();
            }
            for c in &counts {
                assert_eq!(c.load(Ordering::Relaxed), 300);
            }
            assert_ne!(threads_seen.load(Ordering::Relaxed), 0);
            // Jobs of zero and one chunk too.
            pool.run(0, &|_, _| unreachable!()).unwrap();
            pool.run(1, &|c, t| {
                assert_eq!((c, t), (0, 0));
                Ok(())
            })
            .unwrap();
        }
    }

    #[test]
    fn chunks_write_disjoint_parts_and_the_caller_sees_them() {
        let mut pool = WorkerPool::new(3).unwrap();
        let mut out = vec![0usize; 1000];
        for round in 0..50 {
            let shared = DisjointSlice::new(&mut out);
            pool.run(7, &|c, _| {
                let r = part(shared.len(), c, 7, 16);
                // SAFETY: parts of one split are disjoint.
                let mine = unsafe { shared.range(r.clone()) };
                for (i, v) in mine.iter_mut().enumerate() {
                    *v = (r.start + i) * round;
                }
                Ok(())
            })
            .unwrap();
            assert!(out.iter().enumerate().all(|(i, &v)| v == i * round));
        }
    }

    #[test]
    fn errors_come_back_and_the_pool_stays_usable() {
        let mut pool = WorkerPool::new(2).unwrap();
        let err = pool
            .run(8, &|c, _| {
                if c == 5 {
                    Err(ModelError::BadParam("chunk 5 failed".into()))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(err.to_string().contains("chunk 5 failed"), "{err}");
        pool.run(8, &|_, _| Ok(())).unwrap();
    }

    #[test]
    fn a_parked_pool_wakes_up() {
        let mut pool = WorkerPool::new(2).unwrap();
        let hits = AtomicUsize::new(0);
        for _ in 0..3 {
            std::thread::sleep(SPIN * 3);
            pool.run(4, &|_, _| {
                hits.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(hits.load(Ordering::Relaxed), 12);
    }

    #[test]
    fn a_panic_in_a_chunk_is_raised_in_the_caller_after_the_others() {
        let mut pool = WorkerPool::new(2).unwrap();
        // Rounds, because which thread panics (and when it reports) depends on timing: a
        // worker's panic must reach this job's caller, never a later job's.
        for round in 0..20 {
            let finished = AtomicUsize::new(0);
            let caught = catch_unwind(AssertUnwindSafe(|| {
                let _ = pool.run(16, &|c, _| {
                    if c == 3 {
                        panic!("boom");
                    }
                    std::thread::sleep(Duration::from_micros(200));
                    finished.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                });
            }));
            assert!(caught.is_err(), "round {round}: the panic was lost");
            assert_eq!(finished.load(Ordering::Relaxed), 15, "round {round}");
            pool.run(4, &|_, _| Ok(())).unwrap();
        }
    }
}
