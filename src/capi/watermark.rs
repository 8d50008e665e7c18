//! `retort_watermark`: a keyed watermark loaded from a key file (`retort keygen`), for marking
//! generations (`retort_generate_params.watermark`) and for verifying a text from the text alone
//! (`retort_verify`): the verifier needs the key and the model's vocabulary, never its weights.

use std::ffi::{c_char, CString};

use super::args::{self, Out};
use super::model::retort_model;
use crate::error::Error;
use crate::watermark::{Detector, DetectorParams, KeyFile, Watermark};

/// A watermark key with its scheme and parameters, checked against a model's vocabulary.
/// Opaque. Made by `retort_watermark_load`, released by `retort_watermark_free`. Immutable: any
/// number of threads may use one at the same time, to generate and to verify.
pub struct retort_watermark {
    pub(crate) watermark: Watermark,
    key_id: CString,
    scheme: CString,
}

impl retort_watermark {
    /// Borrows a handle a caller passed.
    ///
    /// # Safety
    /// A non-null `p` must be a live handle from `retort_watermark_load`.
    pub(crate) unsafe fn from_handle<'a>(
        p: *const retort_watermark,
        name: &'static str,
    ) -> Result<&'a retort_watermark, Error> {
        // SAFETY: forwarded contract.
        unsafe { args::reference(p, name) }
    }
}

/// Loads the key file at `path` (NUL-terminated UTF-8) and checks that it fits `model`'s
/// vocabulary (a key bound to another vocabulary is refused).
///
/// - `model`: borrowed for the call only; the watermark does not keep it.
/// - `out_watermark`: receives a new handle, owned by the caller (`retort_watermark_free`).
///
/// Key files hold a secret: keep them readable by their owner only (`retort keygen` writes them
/// with mode 0600).
///
/// Errors: `RETORT_STATUS_WATERMARK` (the file is missing, unreadable, truncated, not a key file,
/// of an unknown scheme, or bound to another vocabulary), `RETORT_STATUS_INVALID_ARGUMENT`
/// (NULL or non-UTF-8 arguments).
///
/// # Safety
/// `model` must be NULL or a live model handle; `path` NULL or a NUL-terminated string;
/// `out_watermark` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_watermark_load(
    model: *const retort_model,
    path: *const c_char,
    out_watermark: *mut *mut retort_watermark,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (m, path, mut out) = unsafe {
            (
                retort_model::from_handle(model, "model")?,
                args::c_str(path, "path")?,
                Out::new(out_watermark, "out_watermark")?,
            )
        };
        let watermark = Watermark::new(KeyFile::load(path)?)?;
        watermark.check_tokenizer(&m.tokenizer)?;
        let handle = retort_watermark {
            key_id: CString::new(watermark.key_id().as_str()).unwrap_or_default(),
            scheme: CString::new(watermark.scheme().kind().name()).unwrap_or_default(),
            watermark,
        };
        out.write(Box::into_raw(Box::new(handle)));
        Ok(())
    })
}

/// Releases a watermark. NULL is ignored. Call it once per handle, when no generation or
/// verification is using it.
///
/// # Safety
/// `watermark` must be NULL or a handle from `retort_watermark_load` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn retort_watermark_free(watermark: *mut retort_watermark) {
    ffi_guard!(or (); {
        if !watermark.is_null() {
            // SAFETY: the handle came from Box::into_raw and is released once.
            drop(unsafe { Box::from_raw(watermark) });
        }
    })
}

/// What a watermark is.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct retort_watermark_info {
    /// The key id (a hash of the key, not the key), NUL-terminated; owned by the handle and
    /// valid until `retort_watermark_free`.
    pub key_id: *const c_char,
    /// The scheme, `"green"` or `"distortion-free"`, NUL-terminated; owned by the handle.
    pub scheme: *const c_char,
}

/// Describes a watermark into `out_info`.
///
/// # Safety
/// `watermark` must be NULL or a live handle; `out_info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_watermark_get_info(
    watermark: *const retort_watermark,
    out_info: *mut retort_watermark_info,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (w, mut out) = unsafe {
            (
                retort_watermark::from_handle(watermark, "watermark")?,
                Out::new(out_info, "out_info")?,
            )
        };
        out.write(retort_watermark_info {
            key_id: w.key_id.as_ptr(),
            scheme: w.scheme.as_ptr(),
        });
        Ok(())
    })
}

/// How `retort_verify` decides. Get one from `retort_verify_default_params()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct retort_verify_params {
    /// The false-positive rate the verdict is decided at, in (0, 1): watermarked when the
    /// p-value is at most this. Default 1e-6.
    pub fpr: f64,
    /// Also look for the most significant span of this many tokens (a watermarked passage
    /// pasted inside other text), its p-value corrected for the spans tried; 0 scores the
    /// whole text only. Default 0.
    pub window: u32,
}

/// The defaults, as `DetectorParams::default()` has them (a test checks that they agree).
const VERIFY_DEFAULTS: retort_verify_params = retort_verify_params {
    fpr: 1e-6,
    window: 0,
};

/// The defaults of every verification parameter. Any thread, any time.
#[no_mangle]
pub extern "C" fn retort_verify_default_params() -> retort_verify_params {
    ffi_guard!(or VERIFY_DEFAULTS; { VERIFY_DEFAULTS })
}

impl From<retort_verify_params> for DetectorParams {
    fn from(p: retort_verify_params) -> Self {
        DetectorParams {
            fpr: p.fpr,
            window: (p.window != 0).then_some(p.window as usize),
        }
    }
}

/// What the verifier found in a text.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct retort_verdict {
    /// Whether the text carries the watermark at the chosen false-positive rate
    /// (`p_value <= fpr`).
    pub watermarked: bool,
    /// The p-value the verdict is decided on (exact under the null hypothesis; with a window,
    /// the corrected minimum over the spans and the whole text).
    pub p_value: f64,
    /// The whole text's exact p-value.
    pub text_p_value: f64,
    /// The statistic: green positions (green list) or the sum of -ln(1 - r) (distortion-free).
    pub score: f64,
    /// The statistic's mean without the key.
    pub expected_score: f64,
    /// (score - expected) / standard deviation under the null; NaN when nothing was scored.
    pub z: f64,
    /// Tokens in the text.
    pub tokens: u64,
    /// Positions counted (the leading ones without a full context and repeated (context,
    /// token) pairs are not).
    pub scored_tokens: u64,
    /// With a window: the most significant span's first token and one past its last (indices
    /// into the text's tokens); both 0 without a window.
    pub window_start: u64,
    /// See `window_start`.
    pub window_end: u64,
}

/// Verifies `text` (`len` bytes of UTF-8, no terminator needed) under `watermark`: tokenizes it
/// with `model`'s tokenizer (the weights are not read) and scores every position.
///
/// - `model`, `watermark`, `text`: borrowed for the call.
/// - `out_verdict`: receives the verdict.
///
/// An empty or one-token text is not an error: it is scored (nothing to count) and is not
/// watermarked. Any thread, any time: the model and the watermark are only read.
///
/// Errors: `RETORT_STATUS_WATERMARK` (a parameter out of range: `fpr` not in (0, 1)),
/// `RETORT_STATUS_TOKENIZER`, `RETORT_STATUS_INVALID_ARGUMENT` (NULL handles or output, text
/// NULL with a non-zero length, text not UTF-8).
///
/// # Safety
/// `model` and `watermark` must be NULL or live handles; `text` NULL (with `len` 0) or `len`
/// readable bytes; `out_verdict` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_verify(
    model: *const retort_model,
    watermark: *const retort_watermark,
    text: *const c_char,
    len: usize,
    params: retort_verify_params,
    out_verdict: *mut retort_verdict,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (m, w, text, mut out) = unsafe {
            (
                retort_model::from_handle(model, "model")?,
                retort_watermark::from_handle(watermark, "watermark")?,
                args::text(text, len, "text")?,
                Out::new(out_verdict, "out_verdict")?,
            )
        };
        let params = DetectorParams::from(params);
        params.validate()?;
        let ids = m.tokenizer.encode_long(text)?;
        let v = Detector::new(w.watermark.clone(), params)?.score(&ids);
        let (window_start, window_end) = v
            .window
            .as_ref()
            .map_or((0, 0), |s| (s.start as u64, s.end as u64));
        out.write(retort_verdict {
            watermarked: v.watermarked,
            p_value: v.p_value,
            text_p_value: v.text_p_value,
            score: v.score,
            expected_score: v.expected_score,
            z: v.z.unwrap_or(f64::NAN),
            tokens: v.tokens as u64,
            scored_tokens: v.scored_tokens as u64,
            window_start,
            window_end,
        });
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_defaults_are_the_rust_defaults() {
        assert_eq!(
            DetectorParams::from(retort_verify_default_params()),
            DetectorParams::default()
        );
    }
}
