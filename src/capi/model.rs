//! `retort_model`: a loaded model with its tokenizer and chat template, from a file or from a
//! caller's read-only memory region. Immutable and reference-counted: every session holds a
//! reference, so freeing the model while sessions live is safe.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::args::{self, Out};
use crate::error::Error;
use crate::gguf::GgufFile;
use crate::loader::open_model_and_tokenizer;
use crate::model::{LoadParams, Model};
use crate::tokenizer::{ChatTemplate, Tokenizer, TokenizerError};

/// Alignment, in bytes, that `retort_model_open_memory` requires of the region's start: GGUF
/// places tensors at multiples of 32 bytes from the start of the file, and the kernels read
/// them in place. A page-aligned map or flash window qualifies.
pub const RETORT_MODEL_MEMORY_ALIGN: usize = 32;

/// A loaded model: weights (mapped or borrowed, never copied), tokenizer and chat template.
/// Opaque. Made by `retort_model_open` or `retort_model_open_memory`, released by
/// `retort_model_free`. Immutable: any number of threads may use one model at the same time,
/// to tokenize, apply the chat template and create sessions.
pub struct retort_model {
    pub(crate) model: Model,
    pub(crate) tokenizer: Tokenizer,
    /// The compiled chat template, or why there is none (told when a chat call needs it).
    pub(crate) chat: Result<ChatTemplate, String>,
    architecture: CString,
}

impl retort_model {
    fn build(model: Model) -> Result<retort_model, Error> {
        let tokenizer = Tokenizer::from_gguf(model.gguf())?;
        retort_model::with_tokenizer(model, tokenizer)
    }

    fn with_tokenizer(model: Model, tokenizer: Tokenizer) -> Result<retort_model, Error> {
        let chat = ChatTemplate::for_tokenizer(&tokenizer, Some(&model.hparams.arch))
            .map_err(|e| e.to_string());
        // Metadata strings are checked UTF-8 but may hold a NUL; such a name is cut there.
        let arch = model.hparams.arch.split('\0').next().unwrap_or_default();
        Ok(retort_model {
            architecture: CString::new(arch).unwrap_or_default(),
            model,
            tokenizer,
            chat,
        })
    }

    /// The chat template, or the reason the model has none.
    pub(crate) fn chat_template(&self) -> Result<&ChatTemplate, Error> {
        self.chat
            .as_ref()
            .map_err(|reason| TokenizerError::Template(reason.clone()).into())
    }

    /// The handle a C caller receives: one strong count of the `Arc`, released by
    /// `retort_model_free`.
    fn into_raw(self) -> *mut retort_model {
        Arc::into_raw(Arc::new(self)).cast_mut()
    }

    /// Borrows a handle a caller passed.
    ///
    /// # Safety
    /// A non-null `p` must come from `into_raw` and not have been freed.
    pub(crate) unsafe fn from_handle<'a>(
        p: *const retort_model,
        name: &'static str,
    ) -> Result<&'a retort_model, Error> {
        // SAFETY: forwarded contract; the handle stays alive while the caller uses it.
        unsafe { args::reference(p, name) }
    }

    /// A new strong reference to the model behind a handle, for a session to hold.
    ///
    /// # Safety
    /// `model` must be a live handle from `into_raw`.
    pub(crate) unsafe fn share(model: &retort_model) -> Arc<retort_model> {
        let p: *const retort_model = model;
        // SAFETY: `p` came from Arc::into_raw and the caller's count keeps it alive while we
        // add one of our own.
        unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        }
    }
}

/// The caller's memory region: a GGUF image the library reads in place and never copies.
struct CallerRegion {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the region is read-only for its whole life (the caller's contract in
// `retort_model_open_memory`), so sharing and sending a view of it across threads is sound.
unsafe impl Send for CallerRegion {}
// SAFETY: as above.
unsafe impl Sync for CallerRegion {}

impl AsRef<[u8]> for CallerRegion {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: non-null, `len` readable bytes that stay valid and unchanged until the model
        // and all its sessions are freed (checked at open / the caller's contract).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Opens the GGUF model at `path`: maps the file read-only, validates every tensor, builds the
/// tokenizer and chat template.
///
/// - `path`: NUL-terminated UTF-8; borrowed for the call only.
/// - `out_model`: receives the new handle on success (left untouched on failure). The caller
///   owns it and releases it with `retort_model_free`. The file must not be modified while the
///   model is open (it is mapped, not read).
///
/// Any thread; concurrent calls are independent.
///
/// Errors: `RETORT_STATUS_GGUF` (missing, unreadable or malformed file),
/// `RETORT_STATUS_MODEL` (unsupported architecture or shapes), `RETORT_STATUS_TOKENIZER`,
/// `RETORT_STATUS_INVALID_ARGUMENT` (NULL or non-UTF-8 `path`, NULL `out_model`).
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string; `out_model` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_model_open(
    path: *const c_char,
    out_model: *mut *mut retort_model,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (path, mut out) = unsafe {
            (
                args::c_str(path, "path")?,
                Out::new(out_model, "out_model")?,
            )
        };
        let (model, tokenizer) = open_model_and_tokenizer(path, &LoadParams::default())?;
        let model = retort_model::with_tokenizer(model, tokenizer)?;
        out.write(model.into_raw());
        Ok(())
    })
}

/// Opens a GGUF model held in the caller's memory (a flash window the firmware mapped, a
/// buffer it filled), reading it in place: the library never copies the region.
///
/// - `data`: the first byte of the GGUF image, aligned to `RETORT_MODEL_MEMORY_ALIGN` (32)
///   bytes; `len` its size in bytes.
/// - Lifetime: the region is borrowed, not owned. It must stay readable and unchanged until
///   the model AND every session created from it have been freed (a session keeps the model
///   alive after `retort_model_free`). The library never writes to it.
/// - `out_model`: receives the new handle on success; release it with `retort_model_free`.
///
/// Any thread; concurrent calls are independent.
///
/// Errors: as `retort_model_open`; `RETORT_STATUS_INVALID_ARGUMENT` for a NULL or misaligned
/// `data`.
///
/// # Safety
/// `data` must point at `len` readable bytes that stay valid and unchanged as stated above;
/// `out_model` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_model_open_memory(
    data: *const c_void,
    len: usize,
    out_model: *mut *mut retort_model,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let mut out = unsafe { Out::new(out_model, "out_model")? };
        if data.is_null() {
            return Err(Error::InvalidArgument {
                name: "data",
                reason: "is NULL".into(),
            });
        }
        if !(data as usize).is_multiple_of(RETORT_MODEL_MEMORY_ALIGN) {
            return Err(Error::InvalidArgument {
                name: "data",
                reason: format!(
                    "address {data:p} is not aligned to {RETORT_MODEL_MEMORY_ALIGN} bytes"
                ),
            });
        }
        if len > isize::MAX as usize {
            return Err(Error::InvalidArgument {
                name: "len",
                reason: format!("{len} bytes is larger than memory"),
            });
        }
        let region = CallerRegion {
            ptr: data.cast(),
            len,
        };
        let model = Model::from_gguf(GgufFile::from_bytes(region)?)?;
        out.write(retort_model::build(model)?.into_raw());
        Ok(())
    })
}

/// Releases the caller's reference to a model. Sessions created from it keep it alive until
/// they are freed too. NULL is ignored.
///
/// Call it once per handle, when no other call is using that handle on another thread.
///
/// # Safety
/// `model` must be NULL or a handle from `retort_model_open*` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn retort_model_free(model: *mut retort_model) {
    ffi_guard!(or (); {
        if !model.is_null() {
            // SAFETY: the handle came from Arc::into_raw and this releases its count once.
            drop(unsafe { Arc::from_raw(model.cast_const()) });
        }
    })
}

/// What a model is.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct retort_model_info {
    /// `general.architecture` ("llama", "qwen2", "gemma3", ...), NUL-terminated; owned by the
    /// model and valid as long as it is.
    pub architecture: *const c_char,
    /// Tokens in the vocabulary.
    pub n_vocab: u32,
    /// The context length the model was trained with (the largest `n_ctx` a session may ask).
    pub n_ctx_train: u32,
    /// Width of the hidden state.
    pub n_embd: u32,
    /// Transformer blocks.
    pub n_layer: u32,
    /// The first byte of the GGUF image the weights are read from, in place: the caller's
    /// region for `retort_model_open_memory` (never a copy of it), the file's read-only map
    /// for `retort_model_open`. Valid as long as the model is.
    pub data: *const c_void,
    /// Bytes of the GGUF image (mapped or borrowed; not counted as heap).
    pub file_bytes: u64,
}

/// Describes `model` into `*out_info`.
///
/// Any thread, any time the model is alive.
///
/// # Safety
/// `model` must be NULL or a live model handle; `out_info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn retort_model_get_info(
    model: *const retort_model,
    out_info: *mut retort_model_info,
) -> crate::error::ErrorCode {
    ffi_guard!({
        // SAFETY: the caller's contract above.
        let (m, mut out) = unsafe {
            (
                retort_model::from_handle(model, "model")?,
                Out::new(out_info, "out_info")?,
            )
        };
        let hp = &m.model.hparams;
        out.write(retort_model_info {
            architecture: m.architecture.as_ptr(),
            n_vocab: args::saturating_u32(hp.n_vocab),
            n_ctx_train: args::saturating_u32(hp.n_ctx_train),
            n_embd: args::saturating_u32(hp.n_embd),
            n_layer: args::saturating_u32(hp.n_layer),
            data: m.model.gguf().bytes().as_ptr().cast(),
            file_bytes: m.model.gguf().len(),
        });
        Ok(())
    })
}
