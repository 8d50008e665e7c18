//! The panic boundary and the thread's last error.
//!
//! Every entry point's body runs inside [`ffi_guard!`]: a body's [`Error`] becomes its status
//! code and the calling thread's last-error message; a panic (a bug) is caught before it can
//! unwind into C, where unwinding is undefined behaviour, and becomes
//! [`ErrorCode::Panic`]. The library must be built with `panic = "unwind"` (Cargo's default)
//! for the catch to work; with `panic = "abort"` a bug aborts the process instead.

use std::cell::RefCell;
use std::ffi::c_char;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorCode};

/// Wraps an entry point's body. `ffi_guard!({ ... })` runs a body that evaluates to
/// `Result<(), Error>` and returns the status; `ffi_guard!(or FALLBACK; { ... })` runs a body
/// that cannot fail and returns its value, or `FALLBACK` after a panic.
macro_rules! ffi_guard {
    (or $fallback:expr; $body:block) => {
        $crate::capi::guard::infallible($fallback, || $body)
    };
    ($body:block) => {
        $crate::capi::guard::fallible(|| $body)
    };
}

thread_local! {
    /// The last error's message on this thread, NUL-terminated (empty until an error).
    static LAST_ERROR: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs a fallible body; see [`ffi_guard!`].
pub(crate) fn fallible(body: impl FnOnce() -> Result<(), Error>) -> ErrorCode {
    // The handles a body touches are either left consistent on every path or, for a session,
    // locked by a mutex that a panic poisons, so asserting unwind safety is sound.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ErrorCode::Ok,
        Ok(Err(e)) => record(&e),
        Err(payload) => record(&Error::Panic(panic_message(payload.as_ref()))),
    }
}

/// Runs a body that cannot fail; see [`ffi_guard!`].
pub(crate) fn infallible<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            record(&Error::Panic(panic_message(payload.as_ref())));
            fallback
        }
    }
}

/// Stores `e`'s message as this thread's last error and returns its code.
pub(crate) fn record(e: &Error) -> ErrorCode {
    LAST_ERROR.with(|last| {
        // A message that cannot be stored is not worth a second failure.
        if let Ok(mut text) = last.try_borrow_mut() {
            text.clear();
            let _ = write!(text, "{e}");
            // A NUL inside the message (from a file's metadata) would cut it short in C.
            for b in text.iter_mut() {
                if *b == 0 {
                    *b = b'?';
                }
            }
            text.push(0);
        }
    });
    e.code()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    format!("a bug in retort (a panic, caught at the C boundary): {what}")
}

/// The message of the last error on the calling thread, as NUL-terminated UTF-8; an empty
/// string when no call on this thread has failed yet.
///
/// Read it right after a call returned something other than `RETORT_STATUS_OK`: a successful
/// call leaves it unchanged and the next failing call replaces it. The library owns the text;
/// it stays valid until the next `retort_*` call on the same thread. Each thread has its own.
#[no_mangle]
pub extern "C" fn retort_last_error() -> *const c_char {
    ffi_guard!(or c"".as_ptr(); {
        LAST_ERROR.with(|last| match last.try_borrow() {
            // The buffer lives as long as the thread and is changed only by a later call.
            Ok(text) if !text.is_empty() => text.as_ptr().cast(),
            _ => c"".as_ptr(),
        })
    })
}

/// The name of a status code as this header spells it (`"RETORT_STATUS_GGUF"`), or
/// `"RETORT_STATUS_UNKNOWN"` for a value that is not a code. A static string: never free it.
/// Any thread, any time.
#[no_mangle]
pub extern "C" fn retort_status_name(status: i32) -> *const c_char {
    ffi_guard!(or c"RETORT_STATUS_UNKNOWN".as_ptr(); {
        match ErrorCode::ALL.iter().find(|c| **c as i32 == status) {
            Some(code) => code.c_name().as_ptr(),
            None => c"RETORT_STATUS_UNKNOWN".as_ptr(),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    fn last_error() -> String {
        // SAFETY: retort_last_error returns a NUL-terminated string valid until the next call.
        unsafe { CStr::from_ptr(retort_last_error()) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = ffi_guard!({
            let v: Vec<u32> = Vec::new();
            // An out-of-bounds index: a bug's typical panic.
            let _ = v[usize::from(v.is_empty())];
            Ok(())
        });
        assert_eq!(status, ErrorCode::Panic);
        let message = last_error();
        assert!(message.contains("panic"), "{message}");
        assert!(message.contains("index out of bounds"), "{message}");
    }

    #[test]
    fn an_infallible_body_that_panics_gives_its_fallback() {
        let value = ffi_guard!(or 7u32; {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            1
        });
        assert_eq!(value, 7);
        assert!(last_error().contains("boom"));
    }

    #[test]
    fn an_error_is_recorded_without_nuls() {
        let status = ffi_guard!({
            Err(Error::InvalidArgument {
                name: "text",
                reason: "has a \0 inside".into(),
            })
        });
        assert_eq!(status, ErrorCode::InvalidArgument);
        assert_eq!(last_error(), "invalid argument `text`: has a ? inside");
    }

    #[test]
    fn status_names_cover_every_code() {
        for code in ErrorCode::ALL {
            // SAFETY: retort_status_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(retort_status_name(code as i32)) };
            assert_eq!(name.to_str().unwrap(), code.name());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(retort_status_name(-3)) };
        assert_eq!(unknown.to_str().unwrap(), "RETORT_STATUS_UNKNOWN");
    }
}
