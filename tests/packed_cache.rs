//! The repacked weights kept as a file (`LoadParams::packed_dir`): written by the first load,
//! mapped by the next, the same logits either way; a damaged, cut or foreign copy is repacked
//! and written again; a copy of a model file since rewritten is not used (and is removed); a
//! cache directory that cannot be written is not an error.

mod support;

use std::path::{Path, PathBuf};

use retort::model::{LoadParams, Model, PackedOrigin};
use retort::session::{Session, SessionParams};
use retort_kernels::ggml_type::GgmlType;

const SMOLLM2: &str = "smollm2-135m-instruct-q4_1";

fn load(path: &Path, dir: &Path) -> Model {
    Model::open_with(
        path,
        &LoadParams {
            repack: true,
            packed_dir: Some(dir.to_owned()),
        },
    )
    .unwrap()
}

/// Logits after every token of a short prompt (one batch), then after two decode steps.
fn logits(model: &Model) -> Vec<u32> {
    let params = SessionParams {
        n_ctx: Some(32),
        n_threads: Some(2),
        ..Default::default()
    };
    let mut s = Session::new(model, &params).unwrap();
    let prompt: Vec<u32> = (0..9u32).map(|i| 200 + 91 * i).collect();
    let mut out = Vec::new();
    s.logits_all(&prompt, &mut out).unwrap();
    for t in [17u32, 4000] {
        out.extend_from_slice(s.decode(t).unwrap());
    }
    out.iter().map(|x| x.to_bits()).collect()
}

/// The file a load kept its copy in.
fn kept(model: &Model) -> PathBuf {
    match model.packed_origin() {
        PackedOrigin::Repacked {
            kept: Some(p),
            note: None,
        } => p.clone(),
        other => panic!("expected a copy written for the next load, got {other:?}"),
    }
}

/// Whether this machine's kernel tier repacks SmolLM2's Q4_1 matrices at all; where it does
/// not, nothing is kept and the checks below have nothing to look at.
fn repacks_here(model: &Model) -> bool {
    let x8 = retort_kernels::ops::has_x8(GgmlType::Q4_1);
    if !x8 {
        assert_eq!(model.packed_origin(), &PackedOrigin::None);
    }
    x8
}

#[test]
fn a_kept_copy_is_mapped_by_the_next_load_with_the_same_logits() {
    let path = support::model_path(SMOLLM2);
    let dir = tempfile::tempdir().unwrap();
    let first = load(&path, dir.path());
    if !repacks_here(&first) {
        return;
    }
    let file = kept(&first);
    assert!(file.starts_with(dir.path()), "{}", file.display());
    let len = std::fs::metadata(&file).unwrap().len() as usize;
    assert!(
        len > first.repacked_bytes() && len < first.repacked_bytes() + 64 * 1024,
        "copy of {len} bytes for {} repacked",
        first.repacked_bytes()
    );
    let second = load(&path, dir.path());
    assert_eq!(second.packed_origin(), &PackedOrigin::Reused(file.clone()));
    assert_eq!(second.repacked_bytes(), first.repacked_bytes());
    let plain = Model::open_with(
        &path,
        &LoadParams {
            repack: false,
            packed_dir: Some(dir.path().to_owned()),
        },
    )
    .unwrap();
    assert_eq!(plain.packed_origin(), &PackedOrigin::None);
    let want = logits(&plain);
    assert!(logits(&first) == want, "the repacked model's logits differ");
    assert!(logits(&second) == want, "the mapped copy's logits differ");
    // Nothing but the one copy in the directory (no temporary file left behind).
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

/// Changes the kept copy with `damage`, then checks that the next load repacks and writes it
/// again, whole, and gives the plain logits.
fn damaged(damage: impl Fn(&Path)) {
    let path = support::model_path(SMOLLM2);
    let dir = tempfile::tempdir().unwrap();
    let first = load(&path, dir.path());
    if !repacks_here(&first) {
        return;
    }
    let file = kept(&first);
    let good = std::fs::read(&file).unwrap();
    let want = logits(&first);
    drop(first);
    damage(&file);
    let again = load(&path, dir.path());
    assert_eq!(kept(&again), file, "the damaged copy was used");
    assert!(
        std::fs::read(&file).unwrap() == good,
        "the copy was not rewritten whole"
    );
    assert!(logits(&again) == want);
    assert_eq!(
        load(&path, dir.path()).packed_origin(),
        &PackedOrigin::Reused(file)
    );
}

fn flip_byte(file: &Path, at: impl Fn(usize) -> usize) {
    let mut bytes = std::fs::read(file).unwrap();
    let i = at(bytes.len());
    bytes[i] ^= 0x5a;
    // A new file renamed over the copy, as a writer would (the copy may be mapped elsewhere).
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, &bytes).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

#[test]
fn a_copy_whose_first_stripe_differs_is_written_again() {
    damaged(|f| flip_byte(f, |_| 3));
}

#[test]
fn a_copy_whose_trailer_key_differs_is_written_again() {
    // The key is the trailer's bytes 24..56; the trailer is the file's last 64 bytes.
    damaged(|f| flip_byte(f, |len| len - 64 + 30));
}

#[test]
fn a_cut_copy_is_written_again() {
    damaged(|f| {
        let len = std::fs::metadata(f).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(f)
            .unwrap()
            .set_len(len - 4096)
            .unwrap();
    });
}

#[test]
fn a_copy_of_an_older_version_of_the_file_is_not_used_and_is_removed() {
    let src = support::model_path(SMOLLM2);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("packed");
    let path = dir.path().join("model.gguf");
    std::fs::copy(&src, &path).unwrap();
    let first = load(&path, &cache);
    if !repacks_here(&first) {
        return;
    }
    let old = kept(&first);
    drop(first);
    // The same bytes, a new modification time: the loader cannot tell it is the same content.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let mtime = f.metadata().unwrap().modified().unwrap();
    f.set_modified(mtime + std::time::Duration::from_secs(7))
        .unwrap();
    drop(f);
    let second = load(&path, &cache);
    let new = kept(&second);
    assert_ne!(new, old);
    assert!(!old.exists(), "the stale copy {} was left", old.display());
    assert!(new.exists());
}

#[test]
fn a_cache_directory_that_cannot_be_written_is_not_an_error() {
    let path = support::model_path(SMOLLM2);
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the directory should be.
    let blocked = dir.path().join("not-a-dir");
    std::fs::write(&blocked, b"x").unwrap();
    let model = load(&path, &blocked.join("packed"));
    if !repacks_here(&model) {
        return;
    }
    match model.packed_origin() {
        PackedOrigin::Repacked {
            kept: None,
            note: Some(note),
        } => assert!(note.contains("not-a-dir"), "{note}"),
        other => panic!("{other:?}"),
    }
    assert!(model.repacked_bytes() > 0);
}
