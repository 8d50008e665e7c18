//! The GGUF reader on the real catalog models: tensor tables, hyper-parameters, typed accessor
//! errors, data slices, and a header-only copy that must fail cleanly.
//!
//! The expected counts and offsets were read from the same files with the Python `gguf` package
//! (an independent parser). The models come through the catalog (`tests/support`): a missing model
//! is pulled, and the test fails if it cannot be.

mod support;

use std::collections::BTreeMap;

use retort::gguf::{GgufError, GgufFile, MetaArray, MetaValue, StringArray};
use retort_kernels::blocks::{BlockQ4_1, BlockQ8_0};
use retort_kernels::GgmlType;

const SMOLLM2: &str = "smollm2-135m-instruct-q4_1";
const GEMMA3: &str = "gemma3-270m-q4_k_m";

fn open(name: &str) -> GgufFile {
    let path = support::model_path(name);
    GgufFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Tensor count per type, by ggml's type name.
fn type_histogram(file: &GgufFile) -> BTreeMap<&'static str, usize> {
    let mut h = BTreeMap::new();
    for t in file.tensors() {
        *h.entry(t.ty.name()).or_insert(0) += 1;
    }
    h
}

fn histogram(pairs: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    pairs.iter().copied().collect()
}

#[test]
fn smollm2_tensor_table() {
    let f = open(SMOLLM2);
    assert_eq!(f.version(), 3);
    assert_eq!(f.alignment(), 32);
    assert_eq!(f.data_offset(), 1_785_664);
    assert_eq!(f.metadata().len(), 33);
    assert_eq!(f.tensors().len(), 272);
    assert_eq!(
        type_histogram(&f),
        histogram(&[("Q4_1", 210), ("F32", 61), ("Q8_0", 1)])
    );
    let embd = f.require_tensor("token_embd.weight").unwrap();
    assert_eq!(embd.ty, GgmlType::Q8_0);
    assert_eq!(embd.shape, [576, 49_152]);
    assert_eq!(
        embd.offset,
        f.data_offset(),
        "first tensor starts the data section"
    );
    assert_eq!(embd.bytes, 49_152 * (576 / 32) * 34);
    let q = f.require_tensor("blk.29.attn_q.weight").unwrap();
    assert_eq!(
        (q.ty, q.shape.as_slice()),
        (GgmlType::Q4_1, &[576u64, 576][..])
    );
}

#[test]
fn gemma3_tensor_table() {
    let f = open(GEMMA3);
    assert_eq!(f.version(), 3);
    assert_eq!(f.alignment(), 32);
    assert_eq!(f.data_offset(), 6_525_120);
    assert_eq!(f.metadata().len(), 33);
    assert_eq!(f.tensors().len(), 236);
    assert_eq!(
        type_histogram(&f),
        histogram(&[
            ("F32", 109),
            ("Q5_0", 81),
            ("Q4_K", 27),
            ("Q8_0", 10),
            ("Q6_K", 9)
        ])
    );
    let first = &f.tensors()[0];
    assert_eq!(first.name, "output_norm.weight");
    assert_eq!(
        (first.ty, first.shape.as_slice()),
        (GgmlType::F32, &[640u64][..])
    );
    assert_eq!(first.bytes, 2560);
    let embd = f.require_tensor("token_embd.weight").unwrap();
    assert_eq!(embd.shape, [640, 262_144]);
}

#[test]
fn smollm2_hyper_parameters() {
    let f = open(SMOLLM2);
    let m = f.metadata();
    assert_eq!(m.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(m.get_u32("llama.block_count").unwrap(), 30);
    assert_eq!(m.get_u32("llama.embedding_length").unwrap(), 576);
    assert_eq!(m.get_u32("llama.feed_forward_length").unwrap(), 1536);
    assert_eq!(m.get_u32("llama.attention.head_count").unwrap(), 9);
    assert_eq!(m.get_u32("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(m.get_u64("llama.context_length").unwrap(), 8192);
    assert_eq!(m.get_f32("llama.rope.freq_base").unwrap(), 100_000.0);
    assert_eq!(
        m.get_f32("llama.attention.layer_norm_rms_epsilon").unwrap(),
        1e-5
    );
    assert!(!m.get_bool("tokenizer.ggml.add_bos_token").unwrap());
    assert_eq!(m.get_str("tokenizer.ggml.model").unwrap(), "gpt2");
    let tokens = m.get_str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 49_152);
    assert_eq!(
        m.get_u32("llama.vocab_size").unwrap() as usize,
        tokens.len()
    );
    assert_eq!(
        m.get_i32_array("tokenizer.ggml.token_type").unwrap().len(),
        49_152
    );
    assert_eq!(
        m.get_str_array("tokenizer.ggml.merges").unwrap().len(),
        48_900
    );
    let eos = m.get_u32("tokenizer.ggml.eos_token_id").unwrap() as usize;
    assert_eq!(&tokens[eos], "<|im_end|>");
    assert_eq!(
        f.get("general.languages"),
        Some(&MetaValue::Array(MetaArray::String(
            StringArray::from_iter(["en"])
        )))
    );
    // File order is kept.
    let keys: Vec<&str> = m.iter().map(|(k, _)| k).take(2).collect();
    assert_eq!(keys, ["general.architecture", "general.type"]);
}

#[test]
fn gemma3_hyper_parameters() {
    let f = open(GEMMA3);
    let m = f.metadata();
    assert_eq!(m.get_str("general.architecture").unwrap(), "gemma3");
    assert_eq!(m.get_u32("gemma3.block_count").unwrap(), 18);
    assert_eq!(m.get_u32("gemma3.embedding_length").unwrap(), 640);
    assert_eq!(m.get_u32("gemma3.attention.head_count").unwrap(), 4);
    assert_eq!(m.get_u32("gemma3.attention.head_count_kv").unwrap(), 1);
    assert_eq!(m.get_u32("gemma3.attention.key_length").unwrap(), 256);
    assert_eq!(m.get_u32("gemma3.attention.sliding_window").unwrap(), 512);
    assert_eq!(m.get_f32("gemma3.rope.freq_base").unwrap(), 1_000_000.0);
    assert!(m.get_bool("tokenizer.ggml.add_bos_token").unwrap());
    assert_eq!(m.get_str("tokenizer.ggml.model").unwrap(), "llama");
    assert_eq!(
        m.get_str_array("tokenizer.ggml.tokens").unwrap().len(),
        262_144
    );
    assert_eq!(
        m.get_f32_array("tokenizer.ggml.scores").unwrap().len(),
        262_144
    );
    assert_eq!(
        m.get_array("tokenizer.ggml.token_type").unwrap().len(),
        262_144
    );
    assert_eq!(
        m.get_str_array("general.tags").unwrap(),
        ["gemma3", "gemma", "google", "text-generation"]
    );
    // Gemma has no vocab_size key: an optional read says so without an error.
    assert!(m
        .opt("gemma3.vocab_size", |m, k| m.get_u32(k))
        .unwrap()
        .is_none());
}

#[test]
fn typed_accessors_fail_with_the_key() {
    let f = open(SMOLLM2);
    let m = f.metadata();

    let err = m.get_u32("llama.no_such_key").unwrap_err();
    assert!(
        matches!(&err, GgufError::MissingKey { key } if key == "llama.no_such_key"),
        "{err:?}"
    );
    assert!(err.to_string().contains("'llama.no_such_key'"), "{err}");
    assert!(matches!(
        m.get_str_array("tokenizer.ggml.scores").unwrap_err(),
        GgufError::MissingKey { .. }
    ));

    // (accessor result, key, expected, found)
    let cases: Vec<(GgufError, &str, &str, &str)> = vec![
        (
            m.get_str("llama.block_count").unwrap_err(),
            "llama.block_count",
            "string",
            "u32",
        ),
        (
            m.get_u32("general.architecture").unwrap_err(),
            "general.architecture",
            "an integer that fits in u32",
            "string",
        ),
        (
            m.get_f32("llama.block_count").unwrap_err(),
            "llama.block_count",
            "a float",
            "u32",
        ),
        (
            m.get_u32("llama.rope.freq_base").unwrap_err(),
            "llama.rope.freq_base",
            "an integer that fits in u32",
            "f32",
        ),
        (
            m.get_bool("tokenizer.ggml.model").unwrap_err(),
            "tokenizer.ggml.model",
            "bool",
            "string",
        ),
        (
            m.get_str_array("tokenizer.ggml.token_type").unwrap_err(),
            "tokenizer.ggml.token_type",
            "array<string>",
            "array<i32>",
        ),
        (
            m.get_i32_array("tokenizer.ggml.tokens").unwrap_err(),
            "tokenizer.ggml.tokens",
            "array<i32>",
            "array<string>",
        ),
        (
            m.get_f32_array("tokenizer.ggml.tokens").unwrap_err(),
            "tokenizer.ggml.tokens",
            "array<f32>",
            "array<string>",
        ),
        (
            m.get_array("llama.vocab_size").unwrap_err(),
            "llama.vocab_size",
            "array",
            "u32",
        ),
    ];
    for (err, key, expected, found) in cases {
        match &err {
            GgufError::WrongType {
                key: k,
                expected: e,
                found: fnd,
            } => {
                assert_eq!((k.as_str(), *e, fnd.as_str()), (key, expected, found));
            }
            other => panic!("{key}: expected WrongType, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains(key) && msg.contains(expected) && msg.contains(found),
            "{msg}"
        );
    }

    // An optional read of a present key with the wrong type is still an error.
    assert!(matches!(
        m.opt("llama.block_count", |m, k| m.get_str(k)),
        Err(GgufError::WrongType { .. })
    ));
    assert_eq!(
        m.opt("llama.block_count", |m, k| m.get_i32(k)).unwrap(),
        Some(30)
    );

    let err = f.require_tensor("blk.30.attn_q.weight").unwrap_err();
    assert!(
        matches!(&err, GgufError::MissingTensor { name } if name == "blk.30.attn_q.weight"),
        "{err:?}"
    );
    assert!(err.to_string().contains("blk.30.attn_q.weight"));
}

/// Every tensor's slice has the length its type and shape say, lies aligned inside the data
/// section, and no two overlap.
fn check_data_slices(f: &GgufFile) {
    let mut spans = Vec::new();
    for t in f.tensors() {
        let data = f.tensor_data(t);
        let row_bytes = t.ty.row_bytes(t.shape[0]).expect("whole blocks");
        assert_eq!(data.len() as u64, t.bytes, "{}", t.name);
        assert_eq!(t.bytes, row_bytes * t.n_rows(), "{}", t.name);
        assert_eq!(t.row_bytes(), row_bytes, "{}", t.name);
        assert_eq!(t.n_elements(), t.shape.iter().product::<u64>());
        assert!(t.offset >= f.data_offset(), "{}", t.name);
        assert_eq!(
            (t.offset - f.data_offset()) % f.alignment(),
            0,
            "{}",
            t.name
        );
        assert_eq!(data.as_ptr(), f.bytes()[t.offset as usize..].as_ptr());
        spans.push((t.offset, t.offset + t.bytes, &t.name));
    }
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "{} overlaps {}", w[0].2, w[1].2);
    }
    let last_end = spans.last().unwrap().1;
    assert!(last_end <= f.len() && f.len() - last_end < f.alignment());
}

#[test]
fn smollm2_data_slices() {
    let f = open(SMOLLM2);
    check_data_slices(&f);

    let embd = f.require_tensor("token_embd.weight").unwrap();
    let blocks: &[BlockQ8_0] = f.tensor_blocks(embd).unwrap();
    assert_eq!(blocks.len() as u64, embd.n_elements() / 32);
    let q = f.require_tensor("blk.0.attn_q.weight").unwrap();
    let blocks: &[BlockQ4_1] = f.tensor_blocks(q).unwrap();
    assert_eq!(blocks.len(), 576 * 576 / 32);
    assert!(blocks
        .iter()
        .all(|b| b.d.to_f32().is_finite() && b.m.to_f32().is_finite()));

    let norm = f.require_tensor("output_norm.weight").unwrap();
    let w: &[f32] = f.tensor_blocks(norm).unwrap();
    assert_eq!(w.len(), 576);
    assert!(w.iter().all(|x| x.is_finite()) && w.iter().any(|&x| x != 0.0));

    // A view whose block size is not the tensor type's is refused with the tensor's name, not
    // mis-sliced.
    let err = f.tensor_blocks::<BlockQ8_0>(norm).unwrap_err();
    assert!(
        matches!(&err, GgufError::BadView { tensor, offset, .. }
            if tensor == "output_norm.weight" && *offset == norm.offset),
        "{err:?}"
    );
    assert!(err.to_string().contains("output_norm.weight"));
    // Even when the byte count happens to divide: 20-byte Q4_1 data is not Q4_K (144 bytes).
    let q = f.require_tensor("blk.0.ffn_up.weight").unwrap();
    assert!(f.tensor_blocks::<BlockQ4_1>(q).is_ok());
    let err = f
        .tensor_blocks::<retort_kernels::blocks::BlockQ4K>(q)
        .unwrap_err();
    assert!(
        err.to_string().contains("Q4_1 blocks are 20 bytes"),
        "{err}"
    );
}

#[test]
fn gemma3_data_slices() {
    let f = open(GEMMA3);
    check_data_slices(&f);
    let norm = f.require_tensor("output_norm.weight").unwrap();
    let w: &[f32] = f.tensor_blocks(norm).unwrap();
    assert_eq!(w.len(), 640);
    assert!(w.iter().all(|x| x.is_finite()));
}

/// Page advice (give back, prefer and avoid huge pages) changes no byte a reader sees, whether
/// the pages are mapped yet or not; a caller's buffer takes no advice.
#[test]
fn page_advice_leaves_the_bytes_as_they_were() {
    let f = open(GEMMA3);
    let whole = 0..f.bytes().len();
    let before = blake3::hash(f.bytes());
    let head = f.require_tensor("token_embd.weight").unwrap();
    let head = head.offset as usize..(head.offset + head.bytes) as usize;
    assert!(f.avoid_huge_pages(whole.clone()) > 0 || !cfg!(target_os = "linux"));
    assert!(f.prefer_huge_pages(head.clone()) > 0 || !cfg!(target_os = "linux"));
    assert_eq!(blake3::hash(f.bytes()), before);
    assert!(f.release(whole.clone()) > 0 || !cfg!(unix));
    assert!(f.prefer_huge_pages(whole.clone()) > 0 || !cfg!(target_os = "linux"));
    assert_eq!(blake3::hash(f.bytes()), before);
    // Out of range or empty: nothing advised.
    assert_eq!(f.prefer_huge_pages(0..whole.end + 1), 0);
    assert_eq!(f.avoid_huge_pages(5..5), 0);

    let copy = GgufFile::from_bytes(f.bytes().to_vec()).unwrap();
    assert_eq!(copy.prefer_huge_pages(head.clone()), 0);
    assert_eq!(copy.avoid_huge_pages(head.clone()), 0);
    assert_eq!(copy.release(head), 0);
}

/// The header alone, copied into a Vec, parses up to the tensor table and then fails on the first
/// tensor, whose data is absent.
fn header_only_fails(name: &str) {
    let f = open(name);
    let header = f.bytes()[..f.data_offset() as usize].to_vec();
    let first = f.tensors()[0].clone();
    let err = GgufFile::from_bytes(header).unwrap_err();
    match &err {
        GgufError::TensorOutOfBounds {
            tensor,
            start,
            end,
            file_len,
        } => {
            assert_eq!(tensor, &first.name);
            assert_eq!(*start, first.offset as u128);
            assert_eq!(*end, (first.offset + first.bytes) as u128);
            assert_eq!(*file_len, f.data_offset());
        }
        other => panic!("expected TensorOutOfBounds, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&first.name) && msg.contains(&first.offset.to_string()),
        "{msg}"
    );

    // The whole file copied into a Vec opens as the map did.
    let copy = GgufFile::from_bytes(f.bytes().to_vec()).unwrap();
    assert_eq!(copy.tensors(), f.tensors());
    assert_eq!(copy.data_offset(), f.data_offset());
}

#[test]
fn smollm2_header_only_copy_fails_cleanly() {
    header_only_fails(SMOLLM2);
}

#[test]
fn gemma3_header_only_copy_fails_cleanly() {
    header_only_fails(GEMMA3);
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let path = std::env::temp_dir().join("retort-no-such-model.gguf");
    let err = GgufFile::open(&path).unwrap_err();
    assert!(
        matches!(&err, GgufError::Io { path: p, .. } if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains("retort-no-such-model.gguf"));
}
