//! The C ABI, called as C calls it (raw pointers, caller buffers, callbacks) on the default
//! model: results equal the Rust API's, buffers are sized by asking, bad arguments are errors
//! that name the parameter, a model in caller memory is read in place, one model serves
//! sessions on several threads, a session runs one call at a time.
#![cfg(feature = "capi")]

mod support;

use std::ffi::{c_char, c_void, CStr, CString};
use std::ops::ControlFlow;
use std::ptr;

use retort::capi::*;
use retort::generate::{generate, GenerateParams};
use retort::model::Model;
use retort::sampling::SamplerParams;
use retort::session::{Session, SessionParams};
use retort::tokenizer::{ChatMessage, ChatTemplate, ChatTemplateParams, Tokenizer};
use retort::watermark::{
    Detector, DetectorParams, KeyFile, Scheme, SchemeKind, SecretKey, VocabularyId, Watermark,
};

const MODEL: &str = "smollm2-135m-instruct-q4_1";

/// A model handle, freed on drop.
struct CModel(*mut retort_model);

impl CModel {
    fn open() -> CModel {
        let path = CString::new(support::model_path(MODEL).to_str().unwrap()).unwrap();
        let mut model = ptr::null_mut();
        // SAFETY: a NUL-terminated path and a writable out-pointer.
        let status = unsafe { retort_model_open(path.as_ptr(), &mut model) };
        assert_ok(status);
        CModel(model)
    }

    fn info(&self) -> retort_model_info {
        let mut info = std::mem::MaybeUninit::uninit();
        // SAFETY: a live handle and a writable out-pointer.
        assert_ok(unsafe { retort_model_get_info(self.0, info.as_mut_ptr()) });
        // SAFETY: written by the successful call.
        unsafe { info.assume_init() }
    }

    fn session(&self, n_ctx: u32) -> CSession {
        let mut params = retort_session_default_params();
        params.n_ctx = n_ctx;
        params.n_threads = 2;
        let mut session = ptr::null_mut();
        // SAFETY: a live handle and a writable out-pointer.
        assert_ok(unsafe { retort_session_new(self.0, params, &mut session) });
        CSession(session)
    }
}

impl Drop for CModel {
    fn drop(&mut self) {
        // SAFETY: the handle is freed once, here.
        unsafe { retort_model_free(self.0) }
    }
}

/// A session handle, freed on drop.
struct CSession(*mut retort_session);

// SAFETY: the C API lets any thread call a session; calls that overlap fail instead of racing.
unsafe impl Send for CSession {}
// SAFETY: as above.
unsafe impl Sync for CSession {}

impl Drop for CSession {
    fn drop(&mut self) {
        // SAFETY: the handle is freed once, here.
        unsafe { retort_session_free(self.0) }
    }
}

fn last_error() -> String {
    // SAFETY: NUL-terminated, valid until the next call on this thread.
    unsafe { CStr::from_ptr(retort_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn assert_ok(status: ErrorCode) {
    assert_eq!(status, ErrorCode::Ok, "{}", last_error());
}

fn assert_error(status: ErrorCode, expected: ErrorCode, message_part: &str) {
    assert_eq!(status, expected, "last error: {}", last_error());
    let message = last_error();
    assert!(
        message.contains(message_part),
        "{message:?} should mention {message_part:?}"
    );
}

fn tokenize(model: &CModel, text: &str, add_special: bool) -> Vec<u32> {
    let mut n = 0;
    // SAFETY: `text` is live; a zero capacity writes nothing but the count.
    let status = unsafe {
        retort_tokenize(
            model.0,
            text.as_ptr().cast(),
            text.len(),
            add_special,
            ptr::null_mut(),
            0,
            &mut n,
        )
    };
    assert_eq!(status, ErrorCode::BufferTooSmall, "{}", last_error());
    let mut ids = vec![0u32; n];
    // SAFETY: `ids` holds `n` elements.
    assert_ok(unsafe {
        retort_tokenize(
            model.0,
            text.as_ptr().cast(),
            text.len(),
            add_special,
            ids.as_mut_ptr(),
            ids.len(),
            &mut n,
        )
    });
    assert_eq!(n, ids.len());
    ids
}

fn chat_ids(model: &CModel, prompt: &CStr) -> Vec<u32> {
    let messages = [retort_chat_message {
        role: c"user".as_ptr(),
        content: prompt.as_ptr(),
    }];
    let params = retort_chat_default_params();
    let mut ids = vec![0u32; 256];
    let mut n = 0;
    // SAFETY: live messages and a buffer of `ids.len()` elements.
    assert_ok(unsafe {
        retort_chat_tokenize(
            model.0,
            messages.as_ptr(),
            1,
            params,
            ids.as_mut_ptr(),
            ids.len(),
            &mut n,
        )
    });
    ids.truncate(n);
    ids
}

/// What the collecting callback saw.
#[derive(Default)]
struct Pieces {
    text: String,
    count: usize,
    /// Stop after this many pieces (0: never).
    stop_after: usize,
    /// Every piece was NUL-terminated right after its `len` bytes.
    all_terminated: bool,
    /// What a call on the same session returned from inside the callback.
    reentrant: Option<(ErrorCode, String)>,
    session: Option<*mut retort_session>,
}

unsafe extern "C" fn collect(piece: *const c_char, len: usize, user_data: *mut c_void) -> bool {
    // SAFETY: user_data is the test's `Pieces`, live and unshared during the generation;
    // `piece` holds `len` bytes and a NUL.
    let (p, bytes, nul) = unsafe {
        (
            &mut *user_data.cast::<Pieces>(),
            std::slice::from_raw_parts(piece.cast::<u8>(), len),
            *piece.add(len),
        )
    };
    p.text
        .push_str(std::str::from_utf8(bytes).expect("pieces are UTF-8"));
    p.all_terminated = (p.count == 0 || p.all_terminated) && nul == 0;
    p.count += 1;
    if let (Some(session), None) = (p.session, &p.reentrant) {
        // SAFETY: a live session handle (busy: this is its own callback).
        let status = unsafe { retort_session_reset(session) };
        p.reentrant = Some((status, last_error()));
    }
    p.stop_after == 0 || p.count < p.stop_after
}

fn run(
    session: &CSession,
    ids: &[u32],
    params: retort_generate_params,
    pieces: &mut Pieces,
) -> (ErrorCode, retort_generation) {
    let mut gen = std::mem::MaybeUninit::<retort_generation>::zeroed();
    // SAFETY: live handles and buffers; `pieces` outlives the call.
    let status = unsafe {
        retort_generate(
            session.0,
            ids.as_ptr(),
            ids.len(),
            params,
            Some(collect),
            (pieces as *mut Pieces).cast(),
            gen.as_mut_ptr(),
        )
    };
    // SAFETY: zeroed is a valid retort_generation (stop reason 0 exists).
    (status, unsafe { gen.assume_init() })
}

fn greedy(max_tokens: u32) -> retort_generate_params {
    let mut params = retort_generate_default_params();
    params.max_tokens = max_tokens;
    params.sampler.temperature = 0.0;
    params
}

#[test]
fn tokenize_and_detokenize_size_their_buffers_and_match_the_rust_api() {
    let model = CModel::open();
    let tok =
        Tokenizer::from_gguf(Model::open(support::model_path(MODEL)).unwrap().gguf()).unwrap();
    let text = "Hello, world! Ünïcödé and <|im_start|> too.";
    let ids = tokenize(&model, text, true);
    assert_eq!(ids, tok.encode(text, true).unwrap());

    let mut len = 0;
    let mut small = [0 as c_char; 4];
    // SAFETY: live buffers of the given sizes.
    let status = unsafe {
        retort_detokenize(
            model.0,
            ids.as_ptr(),
            ids.len(),
            true,
            small.as_mut_ptr(),
            small.len(),
            &mut len,
        )
    };
    assert_error(status, ErrorCode::BufferTooSmall, "`text` too small");
    let expected = tok.decode(&ids, true).unwrap();
    assert_eq!(
        len,
        expected.len(),
        "the length is reported when it does not fit"
    );
    let mut buf = vec![0x55 as c_char; len + 1];
    // SAFETY: as above.
    assert_ok(unsafe {
        retort_detokenize(
            model.0,
            ids.as_ptr(),
            ids.len(),
            true,
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        )
    });
    // SAFETY: the call wrote a NUL-terminated string into `buf`.
    let text_out = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
    assert_eq!(text_out, expected);
    assert_eq!(
        text_out, text,
        "render_special round-trips the control token"
    );

    let info = model.info();
    // SAFETY: owned by the model, NUL-terminated.
    assert_eq!(
        unsafe { CStr::from_ptr(info.architecture) }
            .to_str()
            .unwrap(),
        "llama"
    );
    assert_eq!(info.n_vocab as usize, tok.n_vocab());
}

#[test]
fn bad_arguments_are_errors_that_name_the_parameter() {
    let model = CModel::open();
    let mut n = 0usize;
    let mut ids = [0u32; 8];
    // SAFETY: every call below passes live buffers or deliberately bad pointers that the
    // library must refuse before touching them.
    unsafe {
        let mut out = ptr::null_mut();
        assert_error(
            retort_model_open(ptr::null(), &mut out),
            ErrorCode::InvalidArgument,
            "`path`: is NULL",
        );
        assert_error(
            retort_model_open(c"/x".as_ptr(), ptr::null_mut()),
            ErrorCode::InvalidArgument,
            "`out_model`",
        );
        assert!(out.is_null(), "nothing is written on failure");
        let bad_utf8 = b"/tmp/\xff.gguf\0";
        assert_error(
            retort_model_open(bad_utf8.as_ptr().cast(), &mut out),
            ErrorCode::InvalidArgument,
            "not UTF-8",
        );
        assert_error(
            retort_tokenize(
                ptr::null(),
                c"hi".as_ptr(),
                2,
                true,
                ids.as_mut_ptr(),
                8,
                &mut n,
            ),
            ErrorCode::InvalidArgument,
            "`model`: is NULL",
        );
        assert_error(
            retort_tokenize(
                model.0,
                b"\xc3(".as_ptr().cast(),
                2,
                true,
                ids.as_mut_ptr(),
                8,
                &mut n,
            ),
            ErrorCode::InvalidArgument,
            "`text`: is not UTF-8 (byte 0 of 2)",
        );
        assert_error(
            retort_tokenize(model.0, ptr::null(), 5, true, ids.as_mut_ptr(), 8, &mut n),
            ErrorCode::InvalidArgument,
            "`text`: is NULL",
        );
        let misaligned = ids.as_mut_ptr().cast::<u8>().add(1).cast::<u32>();
        assert_error(
            retort_tokenize(model.0, c"hi".as_ptr(), 2, true, misaligned, 4, &mut n),
            ErrorCode::InvalidArgument,
            "`ids`: address",
        );
        assert_error(
            retort_tokenize(
                model.0,
                c"hi".as_ptr(),
                2,
                true,
                ids.as_mut_ptr(),
                8,
                ptr::null_mut(),
            ),
            ErrorCode::InvalidArgument,
            "`n_ids`",
        );
        let huge = u32::MAX;
        let mut text = [0 as c_char; 8];
        assert_error(
            retort_detokenize(model.0, &huge, 1, false, text.as_mut_ptr(), 8, &mut n),
            ErrorCode::Tokenizer,
            "token id 4294967295 is out of range",
        );
        let session = model.session(64);
        let params = greedy(4);
        let mut gen = std::mem::MaybeUninit::uninit();
        assert_error(
            retort_generate(
                session.0,
                ids.as_ptr(),
                0,
                params,
                None,
                ptr::null_mut(),
                gen.as_mut_ptr(),
            ),
            ErrorCode::InvalidArgument,
            "`n_prompt`: is 0",
        );
        assert_error(
            retort_generate(
                ptr::null_mut(),
                ids.as_ptr(),
                1,
                params,
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            ),
            ErrorCode::InvalidArgument,
            "`session`: is NULL",
        );
        let mut bad = params;
        bad.sampler.temperature = -1.0;
        assert_error(
            retort_generate(
                session.0,
                ids.as_ptr(),
                1,
                bad,
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            ),
            ErrorCode::Sampling,
            "temperature",
        );
        let mut sp = retort_session_default_params();
        sp.n_ctx = model.info().n_ctx_train + 1;
        let mut s = ptr::null_mut();
        assert_error(
            retort_session_new(model.0, sp, &mut s),
            ErrorCode::Model,
            "context size",
        );
        assert!(s.is_null());
        // NULL handles are ignored by the free calls.
        retort_session_free(ptr::null_mut());
        retort_model_free(ptr::null_mut());
    }
}

#[test]
fn a_malformed_file_is_a_gguf_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gguf");
    std::fs::write(&path, b"GGUF\x03\x00\x00\x00 not really").unwrap();
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let mut model = ptr::null_mut();
    // SAFETY: a NUL-terminated path and a writable out-pointer.
    let status = unsafe { retort_model_open(c_path.as_ptr(), &mut model) };
    assert_error(status, ErrorCode::Gguf, "");
    assert!(!last_error().is_empty());
    assert!(model.is_null());
}

#[test]
fn chat_calls_match_the_rust_api() {
    let model = CModel::open();
    let tok =
        Tokenizer::from_gguf(Model::open(support::model_path(MODEL)).unwrap().gguf()).unwrap();
    let template = ChatTemplate::for_tokenizer(&tok, Some("llama")).unwrap();
    let messages = [
        retort_chat_message {
            role: c"system".as_ptr(),
            content: c"Be brief.".as_ptr(),
        },
        retort_chat_message {
            role: c"user".as_ptr(),
            content: c"Name a colour.".as_ptr(),
        },
    ];
    let params = retort_chat_default_params();
    let mut len = 0;
    // SAFETY: live messages; a zero capacity writes only the length.
    let status = unsafe {
        retort_chat_apply(
            model.0,
            messages.as_ptr(),
            2,
            params,
            ptr::null_mut(),
            0,
            &mut len,
        )
    };
    assert_eq!(status, ErrorCode::BufferTooSmall);
    let mut buf = vec![0 as c_char; len + 1];
    // SAFETY: `buf` holds len + 1 bytes.
    assert_ok(unsafe {
        retort_chat_apply(
            model.0,
            messages.as_ptr(),
            2,
            params,
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        )
    });
    // SAFETY: NUL-terminated by the call.
    let rendered = unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned();
    let expected = template
        .render(
            &[
                ChatMessage::new("system", "Be brief."),
                ChatMessage::new("user", "Name a colour."),
            ],
            &ChatTemplateParams {
                add_generation_prompt: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(rendered, expected);
    let one = [ChatMessage::new("user", "Name a colour.")];
    let options = ChatTemplateParams {
        add_generation_prompt: true,
        ..Default::default()
    };
    assert_eq!(
        chat_ids(&model, c"Name a colour."),
        template.encode(&tok, &one, &options).unwrap()
    );

    let mut bad = params;
    bad.tools_json = c"{not json".as_ptr();
    // SAFETY: as above.
    let status = unsafe {
        retort_chat_apply(
            model.0,
            messages.as_ptr(),
            2,
            bad,
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        )
    };
    assert_error(status, ErrorCode::Tokenizer, "tools JSON");
    let no_role = [retort_chat_message {
        role: ptr::null(),
        content: c"x".as_ptr(),
    }];
    // SAFETY: as above; the NULL role must be refused.
    let status = unsafe {
        retort_chat_apply(
            model.0,
            no_role.as_ptr(),
            1,
            params,
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        )
    };
    assert_error(
        status,
        ErrorCode::InvalidArgument,
        "`messages[].role`: is NULL",
    );
}

#[test]
fn generation_streams_the_same_text_as_the_rust_api_and_can_be_stopped() {
    let model = CModel::open();
    let ids = chat_ids(&model, c"Write one sentence about the sea.");

    let rust_model = Model::open(support::model_path(MODEL)).unwrap();
    let tok = Tokenizer::from_gguf(rust_model.gguf()).unwrap();
    let mut rust_session = Session::new(
        &rust_model,
        &SessionParams {
            n_ctx: Some(256),
            n_threads: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let rust = generate(
        &mut rust_session,
        &tok,
        &ids,
        &GenerateParams {
            max_tokens: 24,
            sampler: SamplerParams {
                temperature: 0.0,
                ..Default::default()
            },
        },
        |_| ControlFlow::Continue(()),
    )
    .unwrap();

    let session = model.session(256);
    let mut pieces = Pieces::default();
    let (status, gen) = run(&session, &ids, greedy(24), &mut pieces);
    assert_ok(status);
    assert_eq!(pieces.text, rust.text);
    assert!(pieces.all_terminated, "every piece is NUL-terminated");
    assert_eq!(gen.n_generated_tokens as usize, rust.generated_ids.len());
    assert_eq!(gen.n_prompt_tokens as usize, ids.len());
    assert_eq!(gen.stop_reason, retort_stop_reason::from(rust.stop));
    assert!(gen.prompt_ms > 0.0 && gen.generate_ms > 0.0);

    // The conversation continues, then a reset starts it over: the same greedy reply again.
    let mut info = std::mem::MaybeUninit::uninit();
    // SAFETY: a live session and a writable out-pointer.
    assert_ok(unsafe { retort_session_get_info(session.0, info.as_mut_ptr()) });
    // SAFETY: written by the call.
    let info = unsafe { info.assume_init() };
    assert_eq!(
        info.n_pos as usize,
        ids.len() + rust.generated_ids.len() - 1,
        "the last token (the 24th or an end of generation) is sampled, not decoded"
    );
    // SAFETY: a live session.
    assert_ok(unsafe { retort_session_reset(session.0) });
    let mut stopped = Pieces {
        stop_after: 3,
        ..Default::default()
    };
    let (status, gen) = run(&session, &ids, greedy(24), &mut stopped);
    assert_ok(status);
    assert_eq!(gen.stop_reason, retort_stop_reason::Callback);
    assert_eq!(stopped.count, 3, "no piece after the callback said stop");
    assert!(
        pieces.text.starts_with(&stopped.text),
        "{:?} / {:?}",
        stopped.text,
        pieces.text
    );
}

#[test]
fn a_session_runs_one_call_at_a_time() {
    let model = CModel::open();
    let session = model.session(128);
    let ids = tokenize(&model, "The capital of France is", true);
    let mut pieces = Pieces {
        session: Some(session.0),
        stop_after: 2,
        ..Default::default()
    };
    let (status, _) = run(&session, &ids, greedy(8), &mut pieces);
    assert_ok(status);
    let (status, message) = pieces.reentrant.expect("the callback ran");
    assert_eq!(status, ErrorCode::InvalidArgument);
    assert!(message.contains("in use by another call"), "{message}");
}

#[test]
fn the_context_limits_prompt_and_generation() {
    let model = CModel::open();
    let ids = tokenize(
        &model,
        "The capital of France is Paris, and the capital of Italy is",
        true,
    );
    let tiny = model.session(8);
    let mut pieces = Pieces::default();
    let (status, _) = run(&tiny, &ids, greedy(4), &mut pieces);
    assert_error(status, ErrorCode::ContextFull, "context full");
    let room = model.session(ids.len() as u32 + 3);
    let (status, gen) = run(&room, &ids, greedy(50), &mut pieces);
    assert_ok(status);
    assert_eq!(gen.stop_reason, retort_stop_reason::ContextFull);
    assert_eq!(
        gen.n_generated_tokens, 4,
        "3 decoded positions plus the token sampled after the last"
    );
}

#[test]
fn a_model_in_caller_memory_is_read_in_place() {
    let bytes = std::fs::read(support::model_path(MODEL)).unwrap();
    let layout = std::alloc::Layout::from_size_align(bytes.len() + 64, 64).unwrap();
    // SAFETY: a non-zero size; freed at the end with the same layout.
    let region = unsafe { std::alloc::alloc(layout) };
    assert!(!region.is_null());
    // SAFETY: `region` has room for the file plus 64 bytes.
    unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), region, bytes.len()) };
    drop(bytes);
    let len = layout.size() - 64;

    let mut raw = ptr::null_mut();
    // SAFETY: the region stays valid and unchanged until after the model and session are freed.
    unsafe {
        assert_error(
            retort_model_open_memory(region.add(1).cast(), len - 1, &mut raw),
            ErrorCode::InvalidArgument,
            "not aligned to 32 bytes",
        );
        assert_error(
            retort_model_open_memory(region.cast(), len / 2, &mut raw),
            ErrorCode::Gguf,
            "",
        );
        assert!(raw.is_null());
        assert_ok(retort_model_open_memory(region.cast(), len, &mut raw));
    }
    let from_memory = CModel(raw);
    assert_eq!(
        from_memory.info().data,
        region as *const c_void,
        "weights are read in place, not copied"
    );
    assert_eq!(from_memory.info().file_bytes as usize, len);

    let from_file = CModel::open();
    assert_ne!(from_file.info().data, region as *const c_void);
    let ids = chat_ids(&from_file, c"Say hello.");
    assert_eq!(chat_ids(&from_memory, c"Say hello."), ids);
    let (mut a, mut b) = (Pieces::default(), Pieces::default());
    assert_ok(run(&from_file.session(128), &ids, greedy(12), &mut a).0);
    // The model handle is released before its session: the session keeps it alive.
    let session = from_memory.session(128);
    drop(from_memory);
    assert_ok(run(&session, &ids, greedy(12), &mut b).0);
    assert_eq!(a.text, b.text);
    drop(session);
    // SAFETY: the model and its session are gone; allocated above with this layout.
    unsafe { std::alloc::dealloc(region, layout) };
}

#[test]
fn one_model_serves_sessions_on_several_threads() {
    let model = CModel::open();
    let ids = chat_ids(&model, c"Count to five.");
    let mut alone = Pieces::default();
    assert_ok(run(&model.session(128), &ids, greedy(16), &mut alone).0);
    let sessions = [model.session(128), model.session(128)];
    // Freed while the sessions still run: each holds its own reference.
    drop(model);
    let texts: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .iter()
            .map(|s| {
                let ids = &ids;
                scope.spawn(move || {
                    let mut pieces = Pieces::default();
                    assert_ok(run(s, ids, greedy(16), &mut pieces).0);
                    pieces.text
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(texts, [alone.text.clone(), alone.text]);
}

/// A key file for `scheme`, bound to SmolLM2's vocabulary, in a fresh folder.
fn key_file(dir: &tempfile::TempDir, name: &str, scheme: SchemeKind, bound: bool) -> CString {
    let tok =
        Tokenizer::from_gguf(Model::open(support::model_path(MODEL)).unwrap().gguf()).unwrap();
    let key = SecretKey::from_passphrase(&format!("capi test {name}")).unwrap();
    let vocabulary = bound.then(|| VocabularyId::of(&tok));
    let path = dir.path().join(name);
    KeyFile::new(key, Scheme::default_for(scheme), vocabulary)
        .save(&path)
        .unwrap();
    CString::new(path.to_str().unwrap()).unwrap()
}

/// A watermark handle, freed on drop.
struct CWatermark(*mut retort_watermark);

impl CWatermark {
    fn load(model: &CModel, path: &CStr) -> CWatermark {
        let mut w = ptr::null_mut();
        // SAFETY: live handles, a NUL-terminated path and a writable out-pointer.
        assert_ok(unsafe { retort_watermark_load(model.0, path.as_ptr(), &mut w) });
        CWatermark(w)
    }

    fn verify(
        &self,
        model: &CModel,
        text: &[u8],
        params: retort_verify_params,
    ) -> (ErrorCode, retort_verdict) {
        let mut v = retort_verdict::default();
        // SAFETY: live handles, `text.len()` readable bytes and a writable out-pointer.
        let status = unsafe {
            retort_verify(
                model.0,
                self.0,
                text.as_ptr().cast(),
                text.len(),
                params,
                &mut v,
            )
        };
        (status, v)
    }
}

impl Drop for CWatermark {
    fn drop(&mut self) {
        // SAFETY: the handle is freed once, here.
        unsafe { retort_watermark_free(self.0) }
    }
}

#[test]
fn watermarked_generations_verify_through_the_c_api_as_through_the_rust_api() {
    let model = CModel::open();
    let dir = tempfile::tempdir().unwrap();
    let ids = chat_ids(&model, c"Write a short story about a lighthouse keeper.");
    for scheme in [SchemeKind::GreenList, SchemeKind::DistortionFree] {
        let path = key_file(&dir, scheme.name(), scheme, true);
        let wm = CWatermark::load(&model, &path);
        let mut info = std::mem::MaybeUninit::uninit();
        // SAFETY: a live handle and a writable out-pointer.
        assert_ok(unsafe { retort_watermark_get_info(wm.0, info.as_mut_ptr()) });
        // SAFETY: written by the successful call; its strings live as long as the handle.
        let (key_id, scheme_name) = unsafe {
            let info = info.assume_init();
            (
                CStr::from_ptr(info.key_id).to_str().unwrap().to_owned(),
                CStr::from_ptr(info.scheme).to_str().unwrap().to_owned(),
            )
        };
        assert_eq!(scheme_name, scheme.name());
        let rust_wm = Watermark::load(path.to_str().unwrap()).unwrap();
        assert_eq!(key_id, rust_wm.key_id().as_str());

        let mut texts = Vec::new();
        for marked in [true, false] {
            let session = model.session(512);
            let mut params = retort_generate_default_params();
            params.max_tokens = 200;
            params.sampler.temperature = 1.0;
            params.sampler.top_k = 0;
            params.sampler.top_p = 1.0;
            params.sampler.min_p = 0.0;
            params.sampler.seed = 7;
            if marked {
                params.watermark = wm.0;
            }
            let mut pieces = Pieces::default();
            let (status, gen) = run(&session, &ids, params, &mut pieces);
            assert_ok(status);
            assert_eq!(
                gen.n_watermarked_tokens > 0,
                marked,
                "{scheme:?} marked {}",
                gen.n_watermarked_tokens
            );
            texts.push(pieces.text);
        }
        let (status, v) = wm.verify(&model, texts[0].as_bytes(), retort_verify_default_params());
        assert_ok(status);
        assert!(v.watermarked, "{scheme:?}: {v:?}");
        let (status, v_plain) =
            wm.verify(&model, texts[1].as_bytes(), retort_verify_default_params());
        assert_ok(status);
        assert!(!v_plain.watermarked, "{scheme:?}: {v_plain:?}");

        // The same verdict as the Rust detector on the same tokens.
        let tok =
            Tokenizer::from_gguf(Model::open(support::model_path(MODEL)).unwrap().gguf()).unwrap();
        let rust = Detector::new(rust_wm, DetectorParams::default())
            .unwrap()
            .score(&tok.encode_long(&texts[0]).unwrap());
        assert_eq!(
            (
                v.p_value,
                v.score,
                v.scored_tokens as usize,
                v.tokens as usize
            ),
            (rust.p_value, rust.score, rust.scored_tokens, rust.tokens)
        );

        // A window finds the span, and an empty text is simply not watermarked.
        let params = retort_verify_params {
            window: 50,
            ..retort_verify_default_params()
        };
        let (status, w) = wm.verify(&model, texts[0].as_bytes(), params);
        assert_ok(status);
        assert!(w.window_end > w.window_start, "{w:?}");
        let (status, empty) = wm.verify(&model, b"", retort_verify_default_params());
        assert_ok(status);
        assert!(!empty.watermarked && empty.scored_tokens == 0, "{empty:?}");
    }
}

#[test]
fn bad_watermark_arguments_are_errors_that_name_what_was_wrong() {
    let model = CModel::open();
    let dir = tempfile::tempdir().unwrap();
    let mut w = ptr::null_mut();
    // SAFETY: every pointer is NULL or valid, as each case says.
    unsafe {
        assert_error(
            retort_watermark_load(model.0, ptr::null(), &mut w),
            ErrorCode::InvalidArgument,
            "path",
        );
        assert_error(
            retort_watermark_load(ptr::null(), c"/nonexistent.key".as_ptr(), &mut w),
            ErrorCode::InvalidArgument,
            "model",
        );
        assert_error(
            retort_watermark_load(model.0, c"/nonexistent/retort.key".as_ptr(), &mut w),
            ErrorCode::Watermark,
            "/nonexistent/retort.key",
        );
    }
    // A truncated key file, and a file that is not a key file.
    let good = key_file(&dir, "good.key", SchemeKind::GreenList, true);
    let text = std::fs::read_to_string(good.to_str().unwrap()).unwrap();
    let cut = dir.path().join("cut.key");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let cut = CString::new(cut.to_str().unwrap()).unwrap();
    // SAFETY: as above.
    assert_error(
        unsafe { retort_watermark_load(model.0, cut.as_ptr(), &mut w) },
        ErrorCode::Watermark,
        "cut.key",
    );
    // A key bound to another vocabulary.
    let other = dir.path().join("other.key");
    KeyFile::new(
        SecretKey::from_passphrase("other").unwrap(),
        Scheme::default_for(SchemeKind::GreenList),
        Some(VocabularyId::of_texts(["a", "b", "c"])),
    )
    .save(&other)
    .unwrap();
    let other = CString::new(other.to_str().unwrap()).unwrap();
    // SAFETY: as above.
    assert_error(
        unsafe { retort_watermark_load(model.0, other.as_ptr(), &mut w) },
        ErrorCode::Watermark,
        "vocabulary",
    );

    let wm = CWatermark::load(&model, &good);
    let bad_fpr = retort_verify_params {
        fpr: 2.0,
        ..retort_verify_default_params()
    };
    assert_error(
        wm.verify(&model, b"some text", bad_fpr).0,
        ErrorCode::Watermark,
        "fpr",
    );
    assert_error(
        wm.verify(&model, b"\xff\xfe binary", retort_verify_default_params())
            .0,
        ErrorCode::InvalidArgument,
        "text",
    );
    let mut v = retort_verdict::default();
    // SAFETY: NULL text with a non-zero length must be refused, not read.
    let status = unsafe {
        retort_verify(
            model.0,
            wm.0,
            ptr::null(),
            5,
            retort_verify_default_params(),
            &mut v,
        )
    };
    assert_error(status, ErrorCode::InvalidArgument, "text");
    // SAFETY: a NULL watermark must be refused.
    let status = unsafe {
        retort_verify(
            model.0,
            ptr::null(),
            c"x".as_ptr(),
            1,
            retort_verify_default_params(),
            &mut v,
        )
    };
    assert_error(status, ErrorCode::InvalidArgument, "watermark");
}
