//! Decoding a token allocates nothing: a counting global allocator watches a real generation,
//! through the Rust API and through the C API, and every step after the first few (lazy
//! one-time set-up: the worker threads' first jobs, the kernel table) must leave the count
//! unchanged. Steps are counted between consecutive streamed pieces, so each one covers a
//! token's decode, sampling and detokenization, and the C glue around the callback.
//!
//! The counter counts every thread (the session's workers too). The tests in this file hold a
//! lock while they count, so no other test of this binary allocates meanwhile.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_char, c_void};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use retort::generate::{generate, GenerateParams, StopReason};
use retort::model::Model;
use retort::sampling::SamplerParams;
use retort::session::{Session, SessionParams};
use retort::tokenizer::Tokenizer;

/// Allocations (alloc, alloc_zeroed and realloc calls) since the process started.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

struct CountingAllocator;

// SAFETY: every call forwards to the system allocator unchanged; counting has no effect on the
// memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Serialises the tests of this binary while they count.
static COUNTING: Mutex<()> = Mutex::new(());

/// Steps at the start that may allocate once (the pool's first jobs, lazily built tables).
const WARM_UP_STEPS: usize = 3;
/// Tokens generated; every one of them after the warm-up is checked.
const TOKENS: usize = 40;
const PROMPT: &str = "Once upon a time, in a small village by the sea, there lived";

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// Allocations made by each step (the difference between consecutive readings).
fn per_step(readings: &[u64]) -> Vec<u64> {
    readings.windows(2).map(|w| w[1] - w[0]).collect()
}

fn assert_steady_state_allocates_nothing(api: &str, readings: &[u64]) {
    let steps = per_step(readings);
    assert!(
        steps.len() > WARM_UP_STEPS + 20,
        "{api}: only {} pieces were streamed; the test needs a long generation",
        steps.len()
    );
    let steady = &steps[WARM_UP_STEPS..];
    let total: u64 = steady.iter().sum();
    assert_eq!(
        total,
        0,
        "{api}: decoding allocated {total} times over {} tokens in steady state (per step: {steady:?})",
        steady.len()
    );
}

#[test]
fn rust_api_decodes_without_allocating() {
    let _counting = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let model = Model::open(support::model_path("smollm2-135m-instruct-q4_1")).unwrap();
    let tok = Tokenizer::from_gguf(model.gguf()).unwrap();
    let prompt = tok.encode(PROMPT, true).unwrap();
    let mut session = Session::new(
        &model,
        &SessionParams {
            n_ctx: Some(256),
            n_threads: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let params = GenerateParams {
        max_tokens: TOKENS,
        sampler: SamplerParams {
            // Sampling, not greedy: the whole chain runs (top-k, top-p, min-p, the draw).
            temperature: 0.7,
            repeat_penalty: 1.1,
            seed: 3,
            ..SamplerParams::default()
        },
    };
    let mut readings = Vec::with_capacity(2 * TOKENS);
    let generation = generate(&mut session, &tok, &prompt, &params, |_piece| {
        readings.push(allocations());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(generation.stop, StopReason::MaxTokens, "{generation:?}");
    assert_steady_state_allocates_nothing("Rust API", &readings);
}

/// The C callback: records the allocation count at every piece.
unsafe extern "C" fn record(_piece: *const c_char, _len: usize, user_data: *mut c_void) -> bool {
    // SAFETY: user_data is the Vec the test passed, alive and unshared during the generation.
    let readings = unsafe { &mut *user_data.cast::<Vec<u64>>() };
    // Within the capacity reserved below, so recording does not allocate either.
    readings.push(allocations());
    true
}

#[cfg(feature = "capi")]
#[test]
fn c_api_decodes_without_allocating() {
    use retort::capi::*;

    let _counting = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let path = std::ffi::CString::new(
        support::model_path("smollm2-135m-instruct-q4_1")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let mut model = std::ptr::null_mut();
    let mut session = std::ptr::null_mut();
    // SAFETY: valid pointers to live locals, handles used as the header documents.
    unsafe {
        assert_eq!(retort_model_open(path.as_ptr(), &mut model), ErrorCode::Ok);
        let mut sp = retort_session_default_params();
        sp.n_ctx = 256;
        sp.n_threads = 2;
        assert_eq!(retort_session_new(model, sp, &mut session), ErrorCode::Ok);
        let mut ids = vec![0u32; 64];
        let mut n_ids = 0;
        assert_eq!(
            retort_tokenize(
                model,
                PROMPT.as_ptr().cast(),
                PROMPT.len(),
                true,
                ids.as_mut_ptr(),
                ids.len(),
                &mut n_ids
            ),
            ErrorCode::Ok
        );
        let mut gp = retort_generate_default_params();
        gp.max_tokens = TOKENS as u32;
        gp.sampler.temperature = 0.7;
        gp.sampler.repeat_penalty = 1.1;
        gp.sampler.seed = 3;
        let mut readings: Vec<u64> = Vec::with_capacity(2 * TOKENS);
        let mut gen = std::mem::MaybeUninit::<retort_generation>::uninit();
        let status = retort_generate(
            session,
            ids.as_ptr(),
            n_ids,
            gp,
            Some(record),
            (&mut readings as *mut Vec<u64>).cast(),
            gen.as_mut_ptr(),
        );
        assert_eq!(status, ErrorCode::Ok);
        assert_eq!(gen.assume_init().stop_reason, retort_stop_reason::MaxTokens);
        retort_session_free(session);
        retort_model_free(model);
        assert_steady_state_allocates_nothing("C API", &readings);
    }
}
