//! The GGUF reader against malformed files: synthetic files written by `gguf_support::writer`,
//! wrong in exactly one place, and real model headers cut short, patched or randomly mutated.
//!
//! Every case runs the parser in this process, so a panic fails the test. Each named defect must
//! come back as its own `GgufError` variant, pointing at the right key or tensor and byte offset,
//! and saying so in its message.

mod gguf_support;
mod support;

use std::sync::OnceLock;

use gguf_support::writer::{enc_array, enc_nested_array, enc_str, ty, Built, GgufSpec, Kv, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retort::gguf::{GgufError, GgufFile, MetaArray, MetaValue, MAX_ARRAY_NESTING};
use retort_kernels::GgmlType;

// ---------------------------------------------------------------------------------------------
// Harness

fn open(bytes: Vec<u8>) -> Result<GgufFile, GgufError> {
    GgufFile::from_bytes(bytes)
}

/// The error opening `bytes` must give.
fn error_of(bytes: Vec<u8>) -> GgufError {
    match open(bytes) {
        Ok(f) => panic!("a malformed file opened: {f:?}"),
        Err(e) => e,
    }
}

fn error_of_spec(spec: &GgufSpec) -> GgufError {
    error_of(spec.build().bytes)
}

/// The error's message contains every needle.
fn assert_says(err: &GgufError, needles: &[&str]) {
    let msg = err.to_string();
    for n in needles {
        assert!(msg.contains(n), "message {msg:?} does not mention {n:?}");
    }
}

/// What a loader does with an opened file: read every tensor slice and every metadata value.
fn touch(file: &GgufFile) -> u64 {
    let mut sum = 0u64;
    for t in file.tensors() {
        let data = file.tensor_data(t);
        assert_eq!(data.len() as u64, t.bytes);
        sum = data.iter().fold(sum, |s, &b| s.wrapping_add(b as u64));
        sum = sum.wrapping_add(t.n_elements() ^ t.row_bytes() ^ t.n_rows());
    }
    for (key, value) in file.metadata().iter() {
        // Compared by address: a NaN value is not equal to itself.
        assert!(std::ptr::eq(file.get(key).unwrap(), value));
        sum = sum.wrapping_add(value.to_string().len() as u64);
        if let MetaValue::Array(a) = value {
            sum = sum.wrapping_add(array_weight(a));
        }
    }
    sum
}

fn array_weight(a: &MetaArray) -> u64 {
    match a {
        MetaArray::String(v) => v.iter().map(|s| s.len() as u64).sum(),
        MetaArray::Array(v) => v.iter().map(array_weight).sum(),
        other => other.len() as u64,
    }
}

/// The error of a file that ends too soon: a read past the end (`Truncated`), a count that the
/// remaining bytes cannot hold (`CountTooLarge`), or tensor data past the end
/// (`TensorOutOfBounds`). Whichever, it must describe a file of exactly `len` bytes.
fn assert_ran_out(err: &GgufError, len: u64, context: &str) {
    match *err {
        GgufError::Truncated {
            offset,
            wanted,
            available,
            ..
        } => {
            assert_eq!(offset + available, len, "{context}: {err}");
            assert!(wanted > available, "{context}: {err}");
        }
        GgufError::CountTooLarge {
            offset,
            count,
            max,
            available,
            ..
        } => {
            assert_eq!(offset + 8 + available, len, "{context}: {err}");
            assert!(count > max, "{context}: {err}");
        }
        GgufError::TensorOutOfBounds { end, file_len, .. } => {
            assert_eq!(file_len, len, "{context}: {err}");
            assert!(end > len as u128, "{context}: {err}");
        }
        _ => panic!("{context}: expected an end-of-file error, got {err:?}"),
    }
}

/// The first tensor in table order whose data ends past `len` (the one the reader reports).
fn first_out_of_bounds(built: &Built, spec: &GgufSpec, len: usize) -> Option<String> {
    built
        .tensors
        .iter()
        .zip(&spec.tensors)
        .find_map(|(pos, t)| {
            let end = built.data_offset as u64 + pos.data_rel + pos.data_len;
            (end > len as u64).then(|| String::from_utf8(t.name.clone()).unwrap())
        })
}

fn patch_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn patch_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------
// The synthetic baseline

#[test]
fn valid_synthetic_file_reads_back() {
    let spec = GgufSpec::valid();
    let built = spec.build();
    let f = open(built.bytes.clone()).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.alignment(), 32);
    assert_eq!(f.data_offset() as usize, built.data_offset);
    assert_eq!(f.len() as usize, built.bytes.len());

    let m = f.metadata();
    assert_eq!(m.len(), spec.kvs.len());
    assert_eq!(m.get_str("general.architecture").unwrap(), "test");
    assert_eq!(m.get_u32("test.block_count").unwrap(), 2);
    assert_eq!(m.get_f32("test.rope.freq_base").unwrap(), 10_000.0);
    assert!(m.get_bool("test.flag").unwrap());
    assert_eq!(f.get("test.u8"), Some(&MetaValue::U8(200)));
    assert_eq!(f.get("test.i8"), Some(&MetaValue::I8(-5)));
    assert_eq!(f.get("test.u16"), Some(&MetaValue::U16(65_000)));
    assert_eq!(f.get("test.i16"), Some(&MetaValue::I16(-30_000)));
    assert_eq!(m.get_i32("test.i32").unwrap(), -7);
    assert_eq!(m.get_u64("test.u64").unwrap(), 1 << 40);
    assert_eq!(f.get("test.i64"), Some(&MetaValue::I64(-(1 << 40))));
    assert_eq!(f.get("test.f64"), Some(&MetaValue::F64(0.25)));
    assert_eq!(
        m.get_str_array("tokenizer.ggml.tokens").unwrap(),
        ["<s>", "a", "b", "é", ""]
    );
    assert_eq!(
        m.get_i32_array("tokenizer.ggml.token_type").unwrap(),
        [3, 1, 1, 1, 1]
    );
    assert_eq!(
        m.get_f32_array("tokenizer.ggml.scores").unwrap(),
        [0.0, -1.0, -2.0, -3.0, -4.0]
    );
    assert_eq!(
        m.get_array("test.nested").unwrap(),
        &MetaArray::Array(vec![MetaArray::U8(vec![1, 2]), MetaArray::U8(vec![3])])
    );
    assert!(m.get_array("test.empty").unwrap().is_empty());
    let keys: Vec<&str> = m.iter().map(|(k, _)| k).collect();
    let written: Vec<String> = spec
        .kvs
        .iter()
        .map(|kv| String::from_utf8(kv.key.clone()).unwrap())
        .collect();
    assert_eq!(keys, written, "file order");

    assert_eq!(f.tensors().len(), spec.tensors.len());
    for ((t, pos), written) in f.tensors().iter().zip(&built.tensors).zip(&spec.tensors) {
        assert_eq!(t.name.as_bytes(), written.name);
        assert_eq!(t.shape, written.dims);
        assert_eq!(t.ty.id(), written.type_id);
        assert_eq!(t.offset, (built.data_offset as u64) + pos.data_rel);
        assert_eq!(t.bytes, pos.data_len);
        assert_eq!(t.info_offset as usize, pos.start);
        assert_eq!(
            f.tensor_data(t),
            &built.bytes[t.offset as usize..(t.offset + t.bytes) as usize]
        );
    }
    let odd = f.require_tensor("blk.0.odd.weight").unwrap();
    assert_eq!((odd.row_len(), odd.n_rows(), odd.row_bytes()), (3, 5, 6));
    let rank4 = f.require_tensor("blk.0.rank4").unwrap();
    assert_eq!(
        (rank4.n_elements(), rank4.n_rows(), rank4.bytes),
        (120, 60, 240)
    );
    touch(&f);
}

#[test]
fn minimal_and_version_2_files_open() {
    let spec = GgufSpec {
        kvs: vec![],
        tensors: vec![],
        ..GgufSpec::valid()
    };
    let f = open(spec.build().bytes).unwrap();
    assert!(f.tensors().is_empty() && f.metadata().is_empty());

    let v2 = GgufSpec {
        version: 2,
        ..GgufSpec::valid()
    };
    assert_eq!(open(v2.build().bytes).unwrap().version(), 2);
}

// ---------------------------------------------------------------------------------------------
// Truncation

#[test]
fn truncated_at_every_section_boundary() {
    let spec = GgufSpec::valid();
    let built = spec.build();
    let header_end = built.tensors.last().unwrap().end;
    // Every header section boundary, plus the empty file, the padding and each tensor's end.
    let mut cuts: Vec<(String, usize)> = vec![("empty".into(), 0)];
    cuts.extend(built.boundaries.iter().cloned());
    assert!(
        cuts.iter().any(|(w, _)| w == "kv 16") && cuts.iter().any(|(w, _)| w == "tensor info 5")
    );
    for (what, cut) in cuts {
        if cut >= built.bytes.len() {
            continue;
        }
        let context = format!("cut after {what} at byte {cut}");
        let err = error_of(built.truncated(cut));
        assert_ran_out(&err, cut as u64, &context);
        if cut >= header_end {
            // The header is whole: the first tensor whose data is missing is named.
            let name = first_out_of_bounds(&built, &spec, cut).unwrap();
            assert!(
                matches!(&err, GgufError::TensorOutOfBounds { tensor, .. } if *tensor == name),
                "{context}: {err:?}"
            );
            assert_says(&err, &[&name, &cut.to_string()]);
        }
    }
    // Named reads at the first boundaries.
    let err = error_of(built.truncated(4));
    assert!(matches!(&err, GgufError::Truncated { what, offset: 4, .. } if what == "version"));
    assert_says(&err, &["version", "byte 4"]);
    let err = error_of(built.truncated(2));
    assert!(
        matches!(&err, GgufError::Truncated { what, offset: 0, wanted: 4, available: 2 } if what == "magic")
    );
}

#[test]
fn truncated_inside_a_value_names_the_key() {
    let spec = GgufSpec::valid();
    let built = spec.build();
    // Cut one byte into the last kv's value: the counts still fit, the value does not.
    let last = built.kvs.len() - 1;
    let cut = built.kvs[last].value_at + 1;
    let mut bytes = built.truncated(cut);
    // Shrink the counts so that they fit the shorter file and the value read is what fails.
    patch_u64(&mut bytes, 8, 0);
    let err = error_of(bytes);
    match &err {
        GgufError::Truncated { what, offset, .. } => {
            assert!(what.contains("test.empty"), "{err}");
            assert_eq!(*offset as usize, built.kvs[last].value_at);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    assert_says(
        &err,
        &[
            "'test.empty'",
            &format!("byte {}", built.kvs[last].value_at),
        ],
    );
}

#[test]
fn truncated_at_every_byte_of_a_synthetic_file() {
    let spec = GgufSpec::valid();
    let built = spec.build();
    for cut in 0..built.bytes.len() {
        let err = error_of(built.truncated(cut));
        assert_ran_out(&err, cut as u64, &format!("cut at {cut}"));
    }
    open(built.bytes.clone()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Real headers: the first `data_offset` bytes of the catalog models, cut, patched and mutated

struct RealHeader {
    /// The whole file, mapped.
    file: GgufFile,
    /// Its first `data_offset` bytes.
    header: Vec<u8>,
    /// Where each metadata entry starts, in file order, and where the kv section ends.
    kv_starts: Vec<usize>,
    kv_end: usize,
}

/// Encoded size of a metadata value (without its type field).
fn encoded_len(v: &MetaValue) -> usize {
    match v {
        MetaValue::U8(_) | MetaValue::I8(_) | MetaValue::Bool(_) => 1,
        MetaValue::U16(_) | MetaValue::I16(_) => 2,
        MetaValue::U32(_) | MetaValue::I32(_) | MetaValue::F32(_) => 4,
        MetaValue::U64(_) | MetaValue::I64(_) | MetaValue::F64(_) => 8,
        MetaValue::String(s) => 8 + s.len(),
        MetaValue::Array(a) => encoded_array_len(a),
    }
}

fn encoded_array_len(a: &MetaArray) -> usize {
    12 + match a {
        MetaArray::U8(v) => v.len(),
        MetaArray::I8(v) => v.len(),
        MetaArray::Bool(v) => v.len(),
        MetaArray::U16(v) => 2 * v.len(),
        MetaArray::I16(v) => 2 * v.len(),
        MetaArray::U32(v) => 4 * v.len(),
        MetaArray::I32(v) => 4 * v.len(),
        MetaArray::F32(v) => 4 * v.len(),
        MetaArray::U64(v) => 8 * v.len(),
        MetaArray::I64(v) => 8 * v.len(),
        MetaArray::F64(v) => 8 * v.len(),
        MetaArray::String(v) => v.iter().map(|s| 8 + s.len()).sum(),
        MetaArray::Array(v) => v.iter().map(encoded_array_len).sum(),
    }
}

fn real_header(name: &str) -> RealHeader {
    let path = support::model_path(name);
    let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = file.bytes()[..file.data_offset() as usize].to_vec();
    let mut kv_starts = Vec::new();
    let mut at = 24;
    for (key, value) in file.metadata().iter() {
        kv_starts.push(at);
        at += 8 + key.len() + 4 + encoded_len(value);
    }
    // The sizes add up to where the tensor table starts.
    assert_eq!(
        at as u64,
        file.tensors()[0].info_offset,
        "{name}: kv section size"
    );
    RealHeader {
        file,
        header,
        kv_starts,
        kv_end: at,
    }
}

fn smollm2() -> &'static RealHeader {
    static H: OnceLock<RealHeader> = OnceLock::new();
    H.get_or_init(|| real_header("smollm2-135m-instruct-q4_1"))
}

fn gemma3() -> &'static RealHeader {
    static H: OnceLock<RealHeader> = OnceLock::new();
    H.get_or_init(|| real_header("gemma3-270m-q4_k_m"))
}

/// Where the tensor table of a real header ends.
fn tensor_table_end(h: &RealHeader) -> usize {
    let t = h.file.tensors().last().unwrap();
    t.info_offset as usize + 8 + t.name.len() + 4 + 8 * t.shape.len() + 4 + 8
}

/// A real header made small: every metadata entry re-encoded with arrays cut to 16 elements,
/// and the real tensor table (names, shapes, types, offsets) unchanged, so it parses up to the
/// tensor data, which it lacks. Fast enough to truncate at every boundary and mutate thousands
/// of times.
fn compact_real_header(h: &RealHeader) -> Built {
    fn cut_array(a: &MetaArray) -> (u32, u64, Vec<u8>) {
        fn le<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
            v.iter().take(16).flat_map(|&x| f(x)).collect()
        }
        let n = a.len().min(16) as u64;
        let (t, body) = match a {
            MetaArray::U8(v) => (ty::U8, le(v, |x| [x])),
            MetaArray::I8(v) => (ty::I8, le(v, i8::to_le_bytes)),
            MetaArray::U16(v) => (ty::U16, le(v, u16::to_le_bytes)),
            MetaArray::I16(v) => (ty::I16, le(v, i16::to_le_bytes)),
            MetaArray::U32(v) => (ty::U32, le(v, u32::to_le_bytes)),
            MetaArray::I32(v) => (ty::I32, le(v, i32::to_le_bytes)),
            MetaArray::F32(v) => (ty::F32, le(v, f32::to_le_bytes)),
            MetaArray::Bool(v) => (ty::BOOL, le(v, |x| [x as u8])),
            MetaArray::U64(v) => (ty::U64, le(v, u64::to_le_bytes)),
            MetaArray::I64(v) => (ty::I64, le(v, i64::to_le_bytes)),
            MetaArray::F64(v) => (ty::F64, le(v, f64::to_le_bytes)),
            MetaArray::String(v) => (ty::STRING, v.iter().take(16).flat_map(enc_str).collect()),
            MetaArray::Array(v) => (
                ty::ARRAY,
                v.iter()
                    .take(16)
                    .flat_map(|a| {
                        let (t, n, body) = cut_array(a);
                        enc_array(t, n, &body)
                    })
                    .collect(),
            ),
        };
        (t, n, body)
    }
    let kvs = h
        .file
        .metadata()
        .iter()
        .map(|(key, v)| match v {
            MetaValue::U8(x) => Kv::u8(key, *x),
            MetaValue::I8(x) => Kv::i8(key, *x),
            MetaValue::U16(x) => Kv::u16(key, *x),
            MetaValue::I16(x) => Kv::i16(key, *x),
            MetaValue::U32(x) => Kv::u32(key, *x),
            MetaValue::I32(x) => Kv::i32(key, *x),
            MetaValue::F32(x) => Kv::f32(key, *x),
            MetaValue::Bool(x) => Kv::bool(key, *x),
            MetaValue::String(x) => Kv::string(key, x),
            MetaValue::U64(x) => Kv::u64(key, *x),
            MetaValue::I64(x) => Kv::i64(key, *x),
            MetaValue::F64(x) => Kv::f64(key, *x),
            MetaValue::Array(a) => {
                let (t, n, body) = cut_array(a);
                Kv::raw(key, ty::ARRAY, enc_array(t, n, &body))
            }
        })
        .collect();
    let tensors = h
        .file
        .tensors()
        .iter()
        .map(|t| Tensor {
            name: t.name.as_bytes().to_vec(),
            dims: t.shape.clone(),
            type_id: t.ty.id(),
            offset: Some(t.offset - h.file.data_offset()),
        })
        .collect();
    GgufSpec {
        kvs,
        tensors,
        data_len: Some(0),
        ..GgufSpec::valid()
    }
    .build()
}

/// Every section boundary of a real header: after magic, version, counts, each kv, each tensor
/// info.
fn real_boundaries(h: &RealHeader) -> Vec<usize> {
    let mut cuts = vec![4, 8, 16, 24];
    cuts.extend(h.kv_starts.iter().skip(1));
    cuts.push(h.kv_end);
    cuts.extend(
        h.file
            .tensors()
            .iter()
            .skip(1)
            .map(|t| t.info_offset as usize),
    );
    cuts.push(tensor_table_end(h));
    cuts
}

fn check_real_truncations(h: &RealHeader, random_cuts: usize, seed: u64) {
    // The whole header is slow to parse: its kv boundaries, a sample of its tensor-table
    // boundaries and random points here; every boundary of the compact header below.
    let all = real_boundaries(h);
    let n_kv = h.kv_starts.len() + 4;
    let mut cuts: Vec<usize> = all[..n_kv].to_vec();
    cuts.extend(all[n_kv..].iter().step_by(40).chain(all.last()));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    cuts.extend((0..random_cuts).map(|_| rng.random_range(0..h.header.len())));
    for cut in cuts {
        let err = error_of(h.header[..cut].to_vec());
        assert_ran_out(&err, cut as u64, &format!("real header cut at {cut}"));
    }

    let compact = compact_real_header(h);
    let opened = error_of(compact.bytes.clone());
    assert!(
        matches!(&opened, GgufError::TensorOutOfBounds { tensor, .. } if *tensor == h.file.tensors()[0].name),
        "{opened:?}"
    );
    for (what, cut) in &compact.boundaries {
        let err = error_of(compact.truncated(*cut));
        assert_ran_out(
            &err,
            *cut as u64,
            &format!("compact header cut after {what} at {cut}"),
        );
    }
}

#[test]
fn smollm2_header_truncated_at_boundaries_and_200_random_points() {
    check_real_truncations(smollm2(), 200, 0x5eed_0001);
}

#[test]
fn gemma3_header_truncated_at_boundaries_and_random_points() {
    check_real_truncations(gemma3(), 30, 0x5eed_0002);
}

#[test]
fn real_header_after_the_tensor_table_names_the_first_tensor() {
    let h = smollm2();
    let cut = tensor_table_end(h);
    let err = error_of(h.header[..cut].to_vec());
    let first = &h.file.tensors()[0];
    assert!(
        matches!(&err, GgufError::TensorOutOfBounds { tensor, .. } if *tensor == first.name),
        "{err:?}"
    );
}

#[test]
fn real_file_with_short_tensor_data() {
    let h = smollm2();
    let f = &h.file;
    let tensors = f.tensors();
    let first = &tensors[0];
    let first_end = (first.offset + first.bytes) as usize;
    let last_end = tensors.iter().map(|t| t.offset + t.bytes).max().unwrap() as usize;
    let cuts = [
        f.data_offset() as usize,
        f.data_offset() as usize + 1,
        f.data_offset() as usize + first.bytes as usize / 2,
        first_end - 1,
        first_end,
        first_end + 1,
        last_end - 1,
    ];
    for cut in cuts {
        let err = error_of(f.bytes()[..cut].to_vec());
        // The reader checks tensors in table order: the first one not wholly inside is named.
        let expected = tensors
            .iter()
            .find(|t| t.offset + t.bytes > cut as u64)
            .unwrap();
        match &err {
            GgufError::TensorOutOfBounds {
                tensor,
                start,
                end,
                file_len,
            } => {
                assert_eq!(tensor, &expected.name, "cut {cut}");
                assert_eq!(*start, expected.offset as u128);
                assert_eq!(*end, (expected.offset + expected.bytes) as u128);
                assert_eq!(*file_len, cut as u64);
            }
            other => panic!("cut {cut}: expected TensorOutOfBounds, got {other:?}"),
        }
        assert_says(&err, &[&expected.name, &cut.to_string()]);
    }
    // Whole: opens.
    open(f.bytes()[..last_end].to_vec()).unwrap();
}

/// The first index of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)))
}

#[test]
fn real_header_patched_in_one_place() {
    let h = smollm2();
    let f = &h.file;
    let keys: Vec<&str> = f.metadata().iter().map(|(k, _)| k).collect();
    let kv_index = |key: &str| keys.iter().position(|k| *k == key).unwrap();

    // Tensor 0's type → an unknown number.
    let t0 = &f.tensors()[0];
    let type_at = t0.info_offset as usize + 8 + t0.name.len() + 4 + 8 * t0.shape.len();
    let mut bytes = h.header.clone();
    patch_u32(&mut bytes, type_at, 99);
    let err = error_of(bytes);
    assert!(
        matches!(&err, GgufError::UnknownTensorType { tensor, type_id: 99, offset }
            if *tensor == t0.name && *offset as usize == type_at),
        "{err:?}"
    );
    assert_says(&err, &[&t0.name, "99", &format!("byte {type_at}")]);

    // Tensor 0's data offset → misaligned.
    let mut bytes = h.header.clone();
    patch_u64(&mut bytes, type_at + 4, 8);
    let err = error_of(bytes);
    assert!(
        matches!(&err, GgufError::MisalignedTensor { tensor, offset: 8, alignment: 32 } if *tensor == t0.name),
        "{err:?}"
    );

    // Tensor 1's dimension count → 5.
    let t1 = &f.tensors()[1];
    let dims_at = t1.info_offset as usize + 8 + t1.name.len();
    let mut bytes = h.header.clone();
    patch_u32(&mut bytes, dims_at, 5);
    let err = error_of(bytes);
    assert!(
        matches!(&err, GgufError::BadDimCount { tensor, n_dims: 5, offset }
            if *tensor == t1.name && *offset as usize == dims_at),
        "{err:?}"
    );
    assert_says(&err, &[&t1.name, &format!("byte {dims_at}")]);

    // "blk.1.ffn_down.weight" renamed "blk.0.ffn_down.weight": a duplicate tensor.
    let dup = f.require_tensor("blk.1.ffn_down.weight").unwrap();
    let mut bytes = h.header.clone();
    bytes[dup.info_offset as usize + 8 + 4] = b'0';
    let err = error_of(bytes);
    assert!(
        matches!(&err, GgufError::DuplicateTensor { tensor, offset }
            if tensor == "blk.0.ffn_down.weight" && *offset == dup.info_offset),
        "{err:?}"
    );
    assert_says(
        &err,
        &["blk.0.ffn_down.weight", &dup.info_offset.to_string()],
    );

    // "general.name" renamed "general.type": a duplicate key, reported where the second starts.
    let name_at = h.kv_starts[kv_index("general.name")];
    let mut bytes = h.header.clone();
    bytes[name_at + 8..name_at + 8 + 12].copy_from_slice(b"general.type");
    let err = error_of(bytes);
    assert!(
        matches!(&err, GgufError::DuplicateKey { key, offset }
            if key == "general.type" && *offset as usize == name_at),
        "{err:?}"
    );
    assert_says(&err, &["general.type", &format!("byte {name_at}")]);

    // A bool of 2.
    let i = kv_index("tokenizer.ggml.add_bos_token");
    let value_at = h.kv_starts[i] + 8 + keys[i].len() + 4;
    let mut bytes = h.header.clone();
    assert_eq!(bytes[value_at], 0);
    bytes[value_at] = 2;
    let err = error_of(bytes);
    assert!(
        matches!(&err, GgufError::BadBool { key, value: 2, offset }
            if key == "tokenizer.ggml.add_bos_token" && *offset as usize == value_at),
        "{err:?}"
    );

    // An invalid UTF-8 byte inside a token.
    let tokens_at = h.kv_starts[kv_index("tokenizer.ggml.tokens")];
    let im_end = tokens_at + find(&h.header[tokens_at..], b"<|im_end|>");
    let mut bytes = h.header.clone();
    bytes[im_end + 2] = 0xff;
    let err = error_of(bytes);
    assert!(
        matches!(&err, GgufError::BadUtf8 { what, offset }
            if what.contains("tokenizer.ggml.tokens") && *offset as usize == im_end),
        "{err:?}"
    );
    assert_says(&err, &["tokenizer.ggml.tokens", &format!("byte {im_end}")]);

    // The vocabulary's element type → unknown.
    let i = kv_index("tokenizer.ggml.tokens");
    let array_at = h.kv_starts[i] + 8 + keys[i].len() + 4;
    let mut bytes = h.header.clone();
    patch_u32(&mut bytes, array_at, 13);
    let err = error_of(bytes);
    assert!(
        matches!(&err, GgufError::UnknownValueType { key, type_id: 13, offset }
            if key == "tokenizer.ggml.tokens" && *offset as usize == array_at),
        "{err:?}"
    );

    // The vocabulary's length → 2^60.
    let mut bytes = h.header.clone();
    patch_u64(&mut bytes, array_at + 4, 1 << 60);
    let err = error_of(bytes);
    assert!(
        matches!(&err, GgufError::CountTooLarge { what, offset, count, .. }
            if what.contains("tokenizer.ggml.tokens") && *offset as usize == array_at + 4 && *count == 1 << 60),
        "{err:?}"
    );
}

/// Mutates `header` `n` times (1–4 random byte changes each, a quarter of them anywhere and
/// the rest in `hot`), opens each mutant and reads whatever opened; returns how many opened.
fn mutate_and_open(header: &[u8], hot: &[std::ops::Range<usize>], n: usize, seed: u64) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut opened = 0;
    for _ in 0..n {
        let mut bytes = header.to_vec();
        for _ in 0..rng.random_range(1..=4) {
            let range = match rng.random_range(0..4) {
                0 => 0..header.len(),
                i => hot[i % hot.len()].clone(),
            };
            let at = rng.random_range(range);
            if rng.random_bool(0.5) {
                bytes[at] ^= 1 << rng.random_range(0..8);
            } else {
                bytes[at] = rng.random();
            }
        }
        match open(bytes) {
            Ok(f) => {
                touch(&f);
                opened += 1;
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    opened
}

#[test]
fn random_byte_flips_over_real_headers() {
    // The whole SmolLM2 header (slow to parse, so a few hundred mutants), flips aimed at the
    // structure-dense parts: the counts and small kvs before the vocabulary, and the tensor table.
    let h = smollm2();
    let vocab_at = h.kv_starts[h
        .file
        .metadata()
        .iter()
        .position(|(k, _)| k == "tokenizer.ggml.tokens")
        .unwrap()];
    mutate_and_open(
        &h.header,
        &[0..vocab_at, h.kv_end..h.header.len()],
        200,
        0xf11b_0001,
    );

    // Thousands over the compact headers of both models (same structure, short arrays).
    for (h, seed) in [(smollm2(), 0xf11b_0002), (gemma3(), 0xf11b_0003)] {
        let compact = compact_real_header(h);
        let table = compact.tensors[0].start..compact.bytes.len();
        mutate_and_open(&compact.bytes, &[0..table.start, table], 2000, seed);
    }
}

#[test]
fn random_byte_flips_over_a_synthetic_file() {
    let built = GgufSpec::valid().build();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0003);
    let mut opened = 0;
    for _ in 0..5000 {
        let mut bytes = built.bytes.clone();
        for _ in 0..rng.random_range(1..=3) {
            let at = rng.random_range(0..built.data_offset);
            bytes[at] ^= 1 << rng.random_range(0..8);
        }
        if let Ok(f) = open(bytes) {
            touch(&f);
            opened += 1;
        }
    }
    // Flips inside values (numbers, token text) leave valid files: the Ok path is exercised too.
    assert!(opened > 0);
}

// ---------------------------------------------------------------------------------------------
// Header fields

#[test]
fn bad_magic() {
    for magic in [*b"GGUG", *b"FUGG", *b"ggjt", [0; 4]] {
        let err = error_of_spec(&GgufSpec {
            magic,
            ..GgufSpec::valid()
        });
        assert!(
            matches!(err, GgufError::BadMagic { found } if found == magic),
            "{err:?}"
        );
        assert_says(&err, &["magic", "byte 0"]);
    }
}

#[test]
fn unsupported_versions() {
    for version in [0, 1, 4, 0x0300_0000, u32::MAX] {
        let err = error_of_spec(&GgufSpec {
            version,
            ..GgufSpec::valid()
        });
        assert!(
            matches!(err, GgufError::UnsupportedVersion { version: v } if v == version),
            "{err:?}"
        );
        assert_says(&err, &[&version.to_string(), "byte 4"]);
    }
}

#[test]
fn absurd_tensor_and_kv_counts() {
    for (n_tensors, n_kv, what, offset) in [
        (Some(1u64 << 62), None, "tensor count", 8u64),
        (Some(u64::MAX), None, "tensor count", 8),
        (None, Some(1u64 << 62), "metadata entry count", 16),
        (None, Some(u64::MAX), "metadata entry count", 16),
    ] {
        let spec = GgufSpec {
            n_tensors,
            n_kv,
            ..GgufSpec::valid()
        };
        let err = error_of_spec(&spec);
        let count = n_tensors.or(n_kv).unwrap();
        assert!(
            matches!(&err, GgufError::CountTooLarge { what: w, offset: o, count: c, .. }
                if w == what && *o == offset && *c == count),
            "{err:?}"
        );
        assert_says(&err, &[what, &format!("byte {offset}"), &count.to_string()]);
    }
}

#[test]
fn counts_that_disagree_with_the_entries() {
    // One tensor more than written: the reader reads padding and data as a tensor record.
    for extra in [1u64, 2, 100] {
        let spec = GgufSpec::valid();
        let spec = GgufSpec {
            n_tensors: Some(spec.tensors.len() as u64 + extra),
            ..spec
        };
        error_of_spec(&spec);
        let spec = GgufSpec::valid();
        let spec = GgufSpec {
            n_kv: Some(spec.kvs.len() as u64 + extra),
            ..spec
        };
        error_of_spec(&spec);
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata

/// The valid file with its kvs replaced by `kvs` and no tensors (so the kvs alone decide).
fn with_kvs(kvs: Vec<Kv>) -> GgufSpec {
    GgufSpec {
        kvs,
        tensors: vec![],
        ..GgufSpec::valid()
    }
}

/// The valid file with one more kv at the end.
fn with_extra_kv(kv: Kv) -> GgufSpec {
    let mut spec = GgufSpec::valid();
    spec.kvs.push(kv);
    spec
}

#[test]
fn absurd_string_and_array_lengths() {
    let huge = 1u64 << 62;
    // A key 2^62 bytes long.
    let mut spec = with_extra_kv(Kv::u8("x", 1));
    let built = spec.build();
    let at = built.kvs.last().unwrap().start;
    let mut bytes = built.bytes.clone();
    patch_u64(&mut bytes, at, huge);
    let err = error_of(bytes);
    let n = spec.kvs.len() - 1;
    assert!(
        matches!(&err, GgufError::CountTooLarge { what, offset, count, .. }
            if *what == format!("length of key of metadata entry {n}") && *offset as usize == at && *count == huge),
        "{err:?}"
    );
    assert_says(&err, &[&format!("entry {n}"), &format!("byte {at}")]);

    // A string value 2^62 bytes long.
    spec.kvs.pop();
    spec.kvs.push(Kv::raw(
        "big.string",
        ty::STRING,
        huge.to_le_bytes().to_vec(),
    ));
    let built = spec.build();
    let value_at = built.kvs.last().unwrap().value_at;
    let err = error_of(built.bytes);
    assert!(
        matches!(&err, GgufError::CountTooLarge { what, offset, count, .. }
            if what.contains("'big.string'") && *offset as usize == value_at && *count == huge),
        "{err:?}"
    );
    assert_says(&err, &["big.string", &format!("byte {value_at}")]);

    // Arrays of 2^60 elements, of every element type (nested ones too).
    for elem in 0..=12u32 {
        let spec = with_extra_kv(Kv::raw(
            "big.array",
            ty::ARRAY,
            enc_array(elem, 1 << 60, &[]),
        ));
        let built = spec.build();
        let value_at = built.kvs.last().unwrap().value_at;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::CountTooLarge { what, offset, count, .. }
                if what.contains("'big.array' array length") && *offset as usize == value_at + 4
                    && *count == 1 << 60),
            "element type {elem}: {err:?}"
        );
        assert_says(&err, &["big.array", &format!("byte {}", value_at + 4)]);
    }
    // A 2^60-element array inside an array.
    let inner = enc_array(ty::U32, 1 << 60, &[]);
    let spec = with_extra_kv(Kv::raw(
        "nested.big",
        ty::ARRAY,
        enc_array(ty::ARRAY, 1, &inner),
    ));
    let built = spec.build();
    let value_at = built.kvs.last().unwrap().value_at;
    let err = error_of(built.bytes);
    assert!(
        matches!(&err, GgufError::CountTooLarge { offset, .. } if *offset as usize == value_at + 12 + 4),
        "{err:?}"
    );

    // A tensor name 2^62 bytes long.
    let built = GgufSpec::valid().build();
    let at = built.tensors[2].start;
    let mut bytes = built.bytes.clone();
    patch_u64(&mut bytes, at, huge);
    let err = error_of(bytes);
    assert!(
        matches!(&err, GgufError::CountTooLarge { what, offset, .. }
            if what == "length of name of tensor 2" && *offset as usize == at),
        "{err:?}"
    );
}

#[test]
fn unknown_value_types() {
    for type_id in [13, 14, 255, 0x8000_0009, u32::MAX] {
        let built = with_extra_kv(Kv::raw("odd.type", type_id, vec![0; 16])).build();
        let type_at = built.kvs.last().unwrap().type_at;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::UnknownValueType { key, type_id: t, offset }
                if key == "odd.type" && *t == type_id && *offset as usize == type_at),
            "{err:?}"
        );
        assert_says(
            &err,
            &["odd.type", &type_id.to_string(), &format!("byte {type_at}")],
        );

        // As an array's element type, at the top level and nested.
        let built = with_extra_kv(Kv::raw(
            "odd.array",
            ty::ARRAY,
            enc_array(type_id, 1, &[0; 16]),
        ))
        .build();
        let value_at = built.kvs.last().unwrap().value_at;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::UnknownValueType { key, type_id: t, offset }
                if key == "odd.array" && *t == type_id && *offset as usize == value_at),
            "{err:?}"
        );
        let inner = enc_array(type_id, 1, &[0; 16]);
        let built = with_extra_kv(Kv::raw(
            "odd.nested",
            ty::ARRAY,
            enc_array(ty::ARRAY, 1, &inner),
        ))
        .build();
        let value_at = built.kvs.last().unwrap().value_at;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::UnknownValueType { key, offset, .. }
                if key == "odd.nested" && *offset as usize == value_at + 12),
            "{err:?}"
        );
    }
}

#[test]
fn duplicate_keys() {
    let mut spec = GgufSpec::valid();
    spec.kvs.push(Kv::u32("test.block_count", 3));
    let built = spec.build();
    let second = built.kvs.last().unwrap().start;
    let err = error_of(built.bytes);
    assert!(
        matches!(&err, GgufError::DuplicateKey { key, offset }
            if key == "test.block_count" && *offset as usize == second),
        "{err:?}"
    );
    assert_says(&err, &["test.block_count", &format!("byte {second}")]);

    // Same key, different type: still a duplicate.
    let err = error_of_spec(&with_kvs(vec![
        Kv::string("a", "x"),
        Kv::f32("b", 1.0),
        Kv::str_array("a", &["y"]),
    ]));
    assert!(
        matches!(&err, GgufError::DuplicateKey { key, .. } if key == "a"),
        "{err:?}"
    );
}

#[test]
fn bad_alignment_values() {
    let cases: Vec<(Kv, &str)> = vec![
        (Kv::u32("general.alignment", 0), "0"),
        (Kv::u32("general.alignment", 3), "3"),
        (Kv::u32("general.alignment", 48), "48"),
        (Kv::u64("general.alignment", 1 << 40), "1099511627776"),
        (Kv::i32("general.alignment", -32), "-32"),
        (Kv::f32("general.alignment", 32.0), "f32"),
        (Kv::string("general.alignment", "32"), "string"),
        (Kv::bool("general.alignment", true), "bool"),
        (
            Kv::raw(
                "general.alignment",
                ty::ARRAY,
                enc_array(ty::U32, 1, &32u32.to_le_bytes()),
            ),
            "array<u32>",
        ),
    ];
    for (kv, shown) in cases {
        let err = error_of_spec(&with_extra_kv(kv.clone()));
        assert!(
            matches!(&err, GgufError::BadAlignment { .. }),
            "{kv:?}: {err:?}"
        );
        assert_says(&err, &["general.alignment", shown]);
    }
}

#[test]
fn good_alignment_values_are_honoured() {
    for (kv, alignment) in [
        (Kv::u8("general.alignment", 16), 16u64),
        (Kv::u32("general.alignment", 64), 64),
        (Kv::i32("general.alignment", 128), 128),
        (Kv::u64("general.alignment", 1), 1),
    ] {
        let spec = GgufSpec {
            alignment,
            ..with_extra_kv(kv)
        };
        let built = spec.build();
        let f = open(built.bytes.clone()).unwrap();
        assert_eq!(f.alignment(), alignment);
        assert_eq!(f.data_offset() as usize, built.data_offset);
        assert_eq!(f.data_offset() % alignment, 0);
        for t in f.tensors() {
            assert_eq!((t.offset - f.data_offset()) % alignment, 0, "{}", t.name);
        }
        touch(&f);
    }
}

#[test]
fn array_nesting_limit() {
    // As deep as allowed: opens.
    let ok = with_extra_kv(Kv::raw(
        "deep",
        ty::ARRAY,
        enc_nested_array(MAX_ARRAY_NESTING),
    ));
    let f = open(ok.build().bytes).unwrap();
    let mut depth = 0;
    let mut v = f.metadata().get_array("deep").unwrap();
    while let MetaArray::Array(inner) = v {
        depth += 1;
        v = &inner[0];
    }
    assert_eq!(
        (depth + 1, v),
        (MAX_ARRAY_NESTING, &MetaArray::U8(vec![7, 8]))
    );

    // One deeper, and far deeper (no stack overflow): refused where the limit is crossed.
    for depth in [MAX_ARRAY_NESTING + 1, MAX_ARRAY_NESTING + 2, 100_000] {
        let built = with_extra_kv(Kv::raw("deep", ty::ARRAY, enc_nested_array(depth))).build();
        let value_at = built.kvs.last().unwrap().value_at;
        let err = error_of(built.bytes);
        let at = value_at + 12 * MAX_ARRAY_NESTING;
        assert!(
            matches!(&err, GgufError::NestingTooDeep { key, limit, offset }
                if key == "deep" && *limit == MAX_ARRAY_NESTING && *offset as usize == at),
            "depth {depth}: {err:?}"
        );
        assert_says(&err, &["'deep'", &format!("byte {at}")]);
    }
}

#[test]
fn invalid_utf8() {
    for bad in [
        &b"\xff"[..],
        b"ab\xc3",
        b"\xc0\x80",
        b"\xed\xa0\x80",
        b"ok\x80",
    ] {
        // In a key.
        let mut spec = GgufSpec::valid();
        spec.kvs.insert(3, Kv::raw(bad, ty::U8, vec![1]));
        let built = spec.build();
        let at = built.kvs[3].start + 8;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::BadUtf8 { what, offset }
                if what == "key of metadata entry 3" && *offset as usize == at),
            "{bad:?}: {err:?}"
        );
        assert_says(&err, &["key of metadata entry 3", &format!("byte {at}")]);

        // In a string value.
        let built = with_extra_kv(Kv::raw("s", ty::STRING, enc_str(bad))).build();
        let at = built.kvs.last().unwrap().value_at + 8;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::BadUtf8 { what, offset } if what.contains("'s'") && *offset as usize == at),
            "{err:?}"
        );

        // In the second string of an array.
        let elems = [enc_str("fine"), enc_str(bad)].concat();
        let built =
            with_extra_kv(Kv::raw("arr", ty::ARRAY, enc_array(ty::STRING, 2, &elems))).build();
        let at = built.kvs.last().unwrap().value_at + 12 + 12 + 8;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::BadUtf8 { what, offset } if what.contains("'arr'") && *offset as usize == at),
            "{err:?}"
        );
        assert_says(&err, &["'arr'", &format!("byte {at}")]);

        // In a tensor name.
        let mut spec = GgufSpec::valid();
        spec.tensors[1].name = bad.to_vec();
        let built = spec.build();
        let at = built.tensors[1].start + 8;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::BadUtf8 { what, offset } if what == "name of tensor 1" && *offset as usize == at),
            "{err:?}"
        );
    }
}

#[test]
fn booleans_other_than_0_and_1() {
    for value in [2u8, 3, 0x80, 0xff] {
        let built = with_extra_kv(Kv::raw("flag", ty::BOOL, vec![value])).build();
        let at = built.kvs.last().unwrap().value_at;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::BadBool { key, value: v, offset }
                if key == "flag" && *v == value && *offset as usize == at),
            "{err:?}"
        );
        assert_says(&err, &["'flag'", &value.to_string(), &format!("byte {at}")]);

        let built = with_extra_kv(Kv::raw(
            "flags",
            ty::ARRAY,
            enc_array(ty::BOOL, 3, &[1, 0, value]),
        ))
        .build();
        let at = built.kvs.last().unwrap().value_at + 12 + 2;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::BadBool { key, offset, .. } if key == "flags" && *offset as usize == at),
            "{err:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tensor table

/// The valid file with tensor `i` replaced.
fn with_tensor(i: usize, t: Tensor) -> GgufSpec {
    let mut spec = GgufSpec::valid();
    spec.tensors[i] = t;
    spec
}

#[test]
fn unknown_tensor_types() {
    // 4 and 5 were removed from ggml; 16.. are types this reader does not support.
    for type_id in [4, 5, 16, 20, 39, 1000, u32::MAX] {
        let mut t = Tensor::new("blk.0.weird", GgmlType::F32, &[32, 2]);
        t.type_id = type_id;
        let built = with_tensor(2, t).build();
        let at = built.tensors[2].type_at;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::UnknownTensorType { tensor, type_id: t, offset }
                if tensor == "blk.0.weird" && *t == type_id && *offset as usize == at),
            "{err:?}"
        );
        assert_says(
            &err,
            &["blk.0.weird", &type_id.to_string(), &format!("byte {at}")],
        );
    }
}

#[test]
fn dimension_counts_0_and_5() {
    for n_dims in [0usize, 5, 6] {
        let t = Tensor::new("bad.dims", GgmlType::F32, &vec![2; n_dims]);
        let built = with_tensor(1, t).build();
        let at = built.tensors[1].dims_at;
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::BadDimCount { tensor, n_dims: n, offset }
                if tensor == "bad.dims" && *n as usize == n_dims && *offset as usize == at),
            "{err:?}"
        );
        assert_says(
            &err,
            &[
                "bad.dims",
                &format!("{n_dims} dimensions"),
                &format!("byte {at}"),
            ],
        );
    }
    // A dimension count of u32::MAX must not drive an allocation.
    let built = GgufSpec::valid().build();
    let mut bytes = built.bytes.clone();
    patch_u32(&mut bytes, built.tensors[0].dims_at, u32::MAX);
    assert!(matches!(
        error_of(bytes),
        GgufError::BadDimCount {
            n_dims: u32::MAX,
            ..
        }
    ));
}

#[test]
fn zero_dimensions() {
    for (dims, index) in [
        (&[0u64][..], 0),
        (&[32, 0], 1),
        (&[32, 2, 3, 0], 3),
        (&[0, 0], 0),
    ] {
        let built = with_tensor(4, Tensor::new("zero", GgmlType::F32, dims)).build();
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::ZeroDim { tensor, index: i, shape }
                if tensor == "zero" && *i == index && shape == dims),
            "{err:?}"
        );
        assert_says(&err, &["'zero'", &format!("dimension {index}")]);
    }
}

#[test]
fn sizes_that_overflow() {
    let big = 1u64 << 32;
    for (ty, dims) in [
        (GgmlType::F32, vec![big, big, big]),
        (GgmlType::F32, vec![1 << 62]),
        (GgmlType::F32, vec![1 << 31, 1 << 31]),
        (GgmlType::Q4_0, vec![1 << 40, 1 << 30]),
        (GgmlType::Q6_K, vec![u64::MAX - 255, 2]),
        (GgmlType::F16, vec![u64::MAX, u64::MAX, u64::MAX, u64::MAX]),
    ] {
        let mut t = Tensor::new("huge", ty, &dims);
        t.offset = Some(0);
        let built = with_tensor(0, t).build();
        let err = error_of(built.bytes);
        assert!(
            matches!(&err, GgufError::SizeOverflow { tensor, shape } if tensor == "huge" && *shape == dims),
            "{ty} {dims:?}: {err:?}"
        );
        assert_says(&err, &["'huge'", "overflows"]);
    }
}

#[test]
fn rows_that_are_not_whole_blocks() {
    for (ty, row) in [
        (GgmlType::Q4_K, 100u64),
        (GgmlType::Q8_0, 33),
        (GgmlType::Q6_K, 128),
    ] {
        let mut t = Tensor::new("ragged", GgmlType::F32, &[row, 2]);
        t.type_id = ty.id();
        t.offset = Some(0);
        let err = error_of_spec(&with_tensor(3, t));
        assert!(
            matches!(&err, GgufError::NotWholeBlocks { tensor, ty: t, row: r, block }
                if tensor == "ragged" && *t == ty && *r == row && *block == ty.block_size()),
            "{err:?}"
        );
        assert_says(&err, &["'ragged'", &row.to_string(), ty.name()]);
    }
}

#[test]
fn tensor_offsets_misaligned_past_the_end_or_overflowing() {
    let spec = GgufSpec::valid();
    let built = spec.build();
    let data_offset = built.data_offset as u64;
    let data_len = built.bytes.len() as u64 - data_offset;
    let t2_len = built.tensors[2].data_len;

    // Misaligned.
    for offset in [1u64, 16, 31, 33] {
        let mut spec = GgufSpec::valid();
        spec.tensors[2].offset = Some(offset);
        let err = error_of_spec(&spec);
        assert!(
            matches!(&err, GgufError::MisalignedTensor { tensor, offset: o, alignment: 32 }
                if tensor == "output_norm.weight" && *o == offset),
            "{err:?}"
        );
        assert_says(&err, &["output_norm.weight", &offset.to_string(), "32"]);
    }

    // Past the end (aligned), ending one block past the end, and overflowing 64 bits.
    let past = data_len.div_ceil(32) * 32;
    let last_fit = (data_len - t2_len) / 32 * 32;
    for offset in [past, past + 32 * 1000, last_fit + 32, !31u64, 1 << 63] {
        let mut spec = GgufSpec::valid();
        spec.tensors[2].offset = Some(offset);
        spec.data_len = Some(data_len);
        let built = spec.build();
        let file_len = built.bytes.len() as u64;
        let err = error_of(built.bytes);
        let start = data_offset as u128 + offset as u128;
        match &err {
            GgufError::TensorOutOfBounds {
                tensor,
                start: s,
                end,
                file_len: l,
            } => {
                assert_eq!(tensor, "output_norm.weight");
                assert_eq!((*s, *end, *l), (start, start + t2_len as u128, file_len));
            }
            other => panic!("offset {offset}: expected TensorOutOfBounds, got {other:?}"),
        }
        assert_says(
            &err,
            &[
                "output_norm.weight",
                &start.to_string(),
                &file_len.to_string(),
            ],
        );
    }

    // The last aligned offset that still fits opens.
    let mut spec = GgufSpec::valid();
    spec.tensors[2].offset = Some(last_fit);
    spec.data_len = Some(data_len);
    open(spec.build().bytes).unwrap();
}

#[test]
fn short_data_section() {
    let spec = GgufSpec::valid();
    let built = spec.build();
    let needed = (built.bytes.len() - built.data_offset) as u64;
    for data_len in [0, 1, needed / 2, needed - 1] {
        let short = GgufSpec {
            data_len: Some(data_len),
            ..spec.clone()
        };
        let bytes = short.build().bytes;
        let len = bytes.len();
        let err = error_of(bytes);
        let name = first_out_of_bounds(&built, &spec, len).unwrap();
        assert!(
            matches!(&err, GgufError::TensorOutOfBounds { tensor, file_len, .. }
                if *tensor == name && *file_len as usize == len),
            "data {data_len}: {err:?}"
        );
    }
}

#[test]
fn duplicate_tensor_names() {
    let mut spec = GgufSpec::valid();
    spec.tensors[4].name = spec.tensors[1].name.clone();
    let built = spec.build();
    let second = built.tensors[4].start;
    let err = error_of(built.bytes);
    assert!(
        matches!(&err, GgufError::DuplicateTensor { tensor, offset }
            if tensor == "blk.0.attn_q.weight" && *offset as usize == second),
        "{err:?}"
    );
    assert_says(&err, &["blk.0.attn_q.weight", &format!("byte {second}")]);
}
