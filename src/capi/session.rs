//! `retort_session`: one conversation over a shared model (KV cache, scratch buffers, worker
//! threads), guarded so that one call at a time uses it.

use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use super::args::{self, Out};
use super::model::retort_model;
use crate::error::Error;
use crate::kv_cache::KvCacheType;
use crate::model::OutputHead;
use crate::session::{Session, SessionParams};

/// The element type of a session's KV cache (`retort_session_params.kv_cache`, an `int32_t`
/// holding one of these).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum retort_kv_cache_type {
    /// IEEE half precision, 2 bytes an element: half of F32's memory; the default.
    F16 = 0,
    /// 32-bit floats, 4 bytes an element.
    F32 = 1,
    /// ggml's Q8_0, 34 bytes per 32 elements (about a quarter of F32); less exact.
    Q8_0 = 2,
}

impl From<KvCacheType> for retort_kv_cache_type {
    fn from(t: KvCacheType) -> Self {
        match t {
            KvCacheType::F16 => retort_kv_cache_type::F16,
            KvCacheType::F32 => retort_kv_cache_type::F32,
            KvCacheType::Q8_0 => retort_kv_cache_type::Q8_0,
        }
    }
}

/// The cache type a C caller's `int32_t` names (the inverse of the mapping above, so the two
/// cannot disagree).
fn kv_cache_type(v: i32) -> Result<KvCacheType, Error> {
    KvCacheType::ALL
        .into_iter()
        .find(|&t| retort_kv_cache_type::from(t) as i32 == v)
        .ok_or_else(|| Error::InvalidArgument {
            name: "params.kv_cache",
            reason: format!("is {v}, not a retort_kv_cache_type (0 F16, 1 F32, 2 Q8_0)"),
        })
}

/// How a session is sized. Get one from `retort_session_default_params()`, change what you
/// need, pass it by value.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct retort_session_params {
    /// Positions the session holds (prompt and generated tokens together); 0 means the model's
    /// training context. The KV cache is reserved for all of them but becomes resident only as
    /// positions are used. Default 0.
    pub n_ctx: u32,
    /// Worker threads for the matrix products; 0 means one per core. Default 0.
    pub n_threads: u32,
    /// Largest number of prompt tokens processed in one batch. Default 64.
    pub max_batch: u32,
    /// Compute the logits with activations quantized once, like every other projection (as
    /// llama.cpp does), instead of refining near-ties with the quantized residual. Default
    /// false (the precise head).
    pub quantized_head: bool,
    /// The KV cache's element type, a `retort_kv_cache_type`; any other value makes
    /// `retort_session_new` fail with `RETORT_STATUS_INVALID_ARGUMENT`. Default
    /// `RETORT_KV_CACHE_TYPE_F16`.
    pub kv_cache: i32,
}

impl From<&SessionParams> for retort_session_params {
    fn from(p: &SessionParams) -> Self {
        retort_session_params {
            n_ctx: p.n_ctx.map_or(0, args::saturating_u32),
            n_threads: p.n_threads.map_or(0, args::saturating_u32),
            max_batch: args::saturating_u32(p.max_batch),
            quantized_head: p.output_head == OutputHead::Quantized,
            kv_cache: retort_kv_cache_type::from(p.kv_cache) as i32,
        }
    }
}

impl TryFrom<retort_session_params> for SessionParams {
    type Error = Error;

    fn try_from(p: retort_session_params) -> Result<Self, Error> {
        let positive = |v: u32| (v != 0).then_some(v as usize);
        Ok(SessionParams {
            n_ctx: positive(p.n_ctx),
            n_threads: positive(p.n_threads),
            max_batch: p.max_batch as usize,
            output_head: if p.quantized_head {
                OutputHead::Quantized
            } else {
                OutputHead::Precise
            },
            kv_cache: kv_cache_type(p.kv_cache)?,
        })
    }
}

/// The defaults, as `SessionParams::default()` has them (a test checks that they agree).
const SESSION_DEFAULTS: retort_session_params = retort_session_params {
    n_ctx: 0,
    n_threads: 0,
    max_batch: 64,
    quantized_head: false,
    kv_cache: retort_kv_cache_type::F16 as i32,
};

/// The defaults of every session parameter. Any thread, any time.
#[no_mangle]
pub extern "C" fn retort_session_default_params() -> retort_session_params {
    ffi_guard!(or SESSION_DEFAULTS; { SESSION_DEFAULTS })
}

/// What a session's calls work on, behind its lock.
pub(crate) struct SessionState {
    pub(crate) session: Session<'static>,
    /// Where a generated piece is copied to be handed to C NUL-terminated; sized when the
    /// session is made so that generating never allocates.
    pub(crate) piece: Vec<u8>,
}

/// One conversation with a model: its KV cache, scratch buffers and worker threads, allocated
/// when it is made. Opaque. Made by `retort_session_new`, released by `retort_session_free`.
///
/// A session runs one call at a time: a call made while another is running on the same
/// session (from another thread, or from inside a generation callback) fails with
/// `RETORT_STATUS_INVALID_ARGUMENT` instead of waiting. Different sessions, of one model or
/// of several, may run at the same time on different threads.
pub struct retort_session {
    // Declared before `model`, so it is dropped first: the session borrows the model.
    state: Mutex<SessionState>,
    model: Arc<retort_model>,
}

impl retort_session {
    /// Locks a handle a caller passed, without waiting.
    ///
    /// # Safety
    /// A non-null `p` must be a live handle from `retort_session_new`.
    pub(crate) unsafe fn lock<'a>(
        p: *const retort_session,
        name: &'static str,
    ) -> Result<(&'a retort_session, MutexGuard<'a, SessionState>), Error> {
        // SAFETY: forwarded contract.
        let s = unsafe { args::reference(p, name) }?;
        match s.state.try_lock() {
            Ok(guard) => Ok((s, guard)),
            Err(TryLockError::WouldBlock) => Err(Error::InvalidArgument {
                name,
                reason: "is in use by another call (a session runs one call at a time)".into(),
            }),
            Err(TryLockError::Poisoned(_)) => Err(Error::Panic(
                "an earlier call panicked inside this session and may have left it \
                 inconsistent; free it and create a new one"
                    .into(),
            )),
        }
    }

    /// The model this session runs.
    pub(crate) fn model(&self) -> &retort_model {
        &self.model
    }
}

/// Creates a session over `model`, allocating its KV cache and scratch buffers and starting
/// its worker threads.
///
/// - `model`: borrowed for the call; the session takes its own reference, so the model may be
///   freed before the session.
/// - `params`: by value (start from `retort_session_default_params()`).
/// - `out_session`: receives the new handle on success (untouched on failure); release it
///   with `retort_session_free`.
///
/// Any thread; any number of sessions may be created from one model concurrently.
///
/// Errors: `RETORT_STATUS_MODEL` (an `n_ctx` beyond the model's training context, 0 threads
/// that cannot start, a batch of 0), `RETORT_STATUS_INVALID_ARGUMENT` (NULL handles).
///
/// # Safety
/// `model` must be NULL or a live model handle; `out_session` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_session_new(
    model: *const retort_model,
    params: retort_session_params,
    out_session: *mut *mut retort_session,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (m, mut out) = unsafe {
            (
                retort_model::from_handle(model, "model")?,
                Out::new(out_session, "out_session")?,
            )
        };
        // SAFETY: `m` is a live handle; `share` adds the session's own reference.
        let model = unsafe { retort_model::share(m) };
        // SAFETY: the `Arc` keeps the model at a fixed address until the session handle is
        // dropped, and `state` (the only holder of this reference) is dropped before `model`
        // (field order), so the extended lifetime never outlives the model.
        let borrowed: &'static retort_model = unsafe { &*Arc::as_ptr(&model) };
        let session = Session::new(&borrowed.model, &SessionParams::try_from(params)?)?;
        // The longest piece, each byte possibly turned into a 3-byte U+FFFD, a held-back
        // incomplete character, and the NUL.
        let piece = Vec::with_capacity(3 * (borrowed.tokenizer.max_piece_len() + 3) + 1);
        let handle = Box::new(retort_session {
            state: Mutex::new(SessionState { session, piece }),
            model,
        });
        out.write(Box::into_raw(handle));
        Ok(())
    })
}

/// Releases a session: its KV cache, buffers and worker threads, and its reference to the
/// model. NULL is ignored.
///
/// Call it once per handle, when no other call is using the session (not from inside its
/// own generation callback).
///
/// # Safety
/// `session` must be NULL or a handle from `retort_session_new` not yet freed, in use by no
/// other call.
#[no_mangle]
pub unsafe extern "C" fn retort_session_free(session: *mut retort_session) {
    ffi_guard!(or (); {
        if !session.is_null() {
            // SAFETY: the handle came from Box::into_raw and is released once, unused.
            drop(unsafe { Box::from_raw(session) });
        }
    })
}

/// Forgets the conversation: the next generation starts at position 0. Buffers are kept.
///
/// One call at a time per session (see `retort_session`).
///
/// # Safety
/// `session` must be NULL or a live session handle.
#[no_mangle]
pub unsafe extern "C" fn retort_session_reset(
    session: *mut retort_session,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (_, mut state) = unsafe { retort_session::lock(session, "session")? };
        state.session.reset();
        Ok(())
    })
}

/// The state of a session.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct retort_session_info {
    /// Positions the session holds.
    pub n_ctx: u32,
    /// Positions used so far (prompt and generated tokens since the last reset).
    pub n_pos: u32,
    /// Worker threads.
    pub n_threads: u32,
    /// Bytes of KV cache and scratch the session reserved (resident only as used).
    pub memory_bytes: u64,
}

/// Describes `session` into `*out_info`.
///
/// One call at a time per session (see `retort_session`).
///
/// # Safety
/// `session` must be NULL or a live session handle; `out_info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_session_get_info(
    session: *const retort_session,
    out_info: *mut retort_session_info,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let ((_, state), mut out) = unsafe {
            (
                retort_session::lock(session, "session")?,
                Out::new(out_info, "out_info")?,
            )
        };
        let s = &state.session;
        out.write(retort_session_info {
            n_ctx: args::saturating_u32(s.n_ctx()),
            n_pos: args::saturating_u32(s.pos()),
            n_threads: args::saturating_u32(s.n_threads()),
            memory_bytes: s.memory_bytes() as u64,
        });
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_defaults_are_the_rust_defaults() {
        let rust = SessionParams::default();
        assert_eq!(retort_session_default_params(), (&rust).into());
        let back = SessionParams::try_from(retort_session_default_params()).unwrap();
        assert_eq!(
            (
                back.n_ctx,
                back.n_threads,
                back.max_batch,
                back.output_head,
                back.kv_cache
            ),
            (
                rust.n_ctx,
                rust.n_threads,
                rust.max_batch,
                rust.output_head,
                rust.kv_cache
            )
        );
    }

    #[test]
    fn every_kv_cache_type_round_trips_and_others_are_refused() {
        for ty in KvCacheType::ALL {
            let c = retort_kv_cache_type::from(ty) as i32;
            assert_eq!(kv_cache_type(c).unwrap(), ty);
        }
        for bad in [-1, 3, i32::MAX] {
            let err = kv_cache_type(bad).unwrap_err().to_string();
            assert!(err.contains("params.kv_cache"), "{err}");
        }
    }
}
