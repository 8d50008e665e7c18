//! A GGUF writer for tests. Every field is written as given (keys need not be UTF-8, counts need
//! not match, types need not exist), so a test can build a valid file, or one that is wrong in
//! exactly one place, and knows the byte offset of every section and field it wrote.

use retort_kernels::GgmlType;

/// GGUF value type numbers.
pub mod ty {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// A GGUF string: u64 length, then the bytes.
pub fn enc_str(s: impl AsRef<[u8]>) -> Vec<u8> {
    let s = s.as_ref();
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(s);
    out
}

/// An array value: element type, element count, then the encoded elements as given.
pub fn enc_array(elem_type: u32, n: u64, elements: &[u8]) -> Vec<u8> {
    let mut out = elem_type.to_le_bytes().to_vec();
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(elements);
    out
}

/// An array value nested `depth` levels deep (`depth >= 1`): one array per level, the innermost
/// an array of two u8. Built flat, so that very deep nests are cheap.
pub fn enc_nested_array(depth: usize) -> Vec<u8> {
    assert!(depth >= 1);
    let mut v = Vec::with_capacity(12 * depth + 2);
    for _ in 1..depth {
        v.extend_from_slice(&ty::ARRAY.to_le_bytes());
        v.extend_from_slice(&1u64.to_le_bytes());
    }
    v.extend_from_slice(&enc_array(ty::U8, 2, &[7, 8]));
    v
}

/// One metadata entry as raw parts.
#[derive(Clone, Debug)]
pub struct Kv {
    /// Key bytes (written as a GGUF string).
    pub key: Vec<u8>,
    /// Value type number.
    pub type_id: u32,
    /// The encoded value.
    pub value: Vec<u8>,
}

impl Kv {
    /// An entry with any type number and any value bytes.
    pub fn raw(key: impl AsRef<[u8]>, type_id: u32, value: Vec<u8>) -> Kv {
        Kv {
            key: key.as_ref().to_vec(),
            type_id,
            value,
        }
    }
    pub fn u8(key: &str, v: u8) -> Kv {
        Kv::raw(key, ty::U8, vec![v])
    }
    pub fn i8(key: &str, v: i8) -> Kv {
        Kv::raw(key, ty::I8, v.to_le_bytes().to_vec())
    }
    pub fn u16(key: &str, v: u16) -> Kv {
        Kv::raw(key, ty::U16, v.to_le_bytes().to_vec())
    }
    pub fn i16(key: &str, v: i16) -> Kv {
        Kv::raw(key, ty::I16, v.to_le_bytes().to_vec())
    }
    pub fn u32(key: &str, v: u32) -> Kv {
        Kv::raw(key, ty::U32, v.to_le_bytes().to_vec())
    }
    pub fn i32(key: &str, v: i32) -> Kv {
        Kv::raw(key, ty::I32, v.to_le_bytes().to_vec())
    }
    pub fn f32(key: &str, v: f32) -> Kv {
        Kv::raw(key, ty::F32, v.to_le_bytes().to_vec())
    }
    pub fn bool(key: &str, v: bool) -> Kv {
        Kv::raw(key, ty::BOOL, vec![v as u8])
    }
    pub fn string(key: &str, v: &str) -> Kv {
        Kv::raw(key, ty::STRING, enc_str(v))
    }
    pub fn u64(key: &str, v: u64) -> Kv {
        Kv::raw(key, ty::U64, v.to_le_bytes().to_vec())
    }
    pub fn i64(key: &str, v: i64) -> Kv {
        Kv::raw(key, ty::I64, v.to_le_bytes().to_vec())
    }
    pub fn f64(key: &str, v: f64) -> Kv {
        Kv::raw(key, ty::F64, v.to_le_bytes().to_vec())
    }
    pub fn str_array(key: &str, items: &[&str]) -> Kv {
        let elems: Vec<u8> = items.iter().flat_map(enc_str).collect();
        Kv::raw(
            key,
            ty::ARRAY,
            enc_array(ty::STRING, items.len() as u64, &elems),
        )
    }
    pub fn i32_array(key: &str, items: &[i32]) -> Kv {
        let elems: Vec<u8> = items.iter().flat_map(|v| v.to_le_bytes()).collect();
        Kv::raw(
            key,
            ty::ARRAY,
            enc_array(ty::I32, items.len() as u64, &elems),
        )
    }
    pub fn f32_array(key: &str, items: &[f32]) -> Kv {
        let elems: Vec<u8> = items.iter().flat_map(|v| v.to_le_bytes()).collect();
        Kv::raw(
            key,
            ty::ARRAY,
            enc_array(ty::F32, items.len() as u64, &elems),
        )
    }
}

/// One tensor-info record as raw parts.
#[derive(Clone, Debug)]
pub struct Tensor {
    /// Name bytes (written as a GGUF string).
    pub name: Vec<u8>,
    /// Dimensions, ggml order; their count is written as `n_dims`.
    pub dims: Vec<u64>,
    /// ggml type number.
    pub type_id: u32,
    /// Data offset relative to the data section; `None` places the tensor after the previous
    /// one, aligned.
    pub offset: Option<u64>,
}

impl Tensor {
    /// A tensor of a known type, placed automatically.
    pub fn new(name: &str, ty: GgmlType, dims: &[u64]) -> Tensor {
        Tensor {
            name: name.as_bytes().to_vec(),
            dims: dims.to_vec(),
            type_id: ty.id(),
            offset: None,
        }
    }

    /// Data bytes its type and shape call for, when that is defined.
    pub fn data_bytes(&self) -> Option<u64> {
        let ty = GgmlType::from_u32(self.type_id)?;
        let first = *self.dims.first()?;
        let rows = self.dims[1..]
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))?;
        ty.row_bytes(first)?.checked_mul(rows)
    }
}

/// Where a field of a written kv entry lies.
#[derive(Clone, Copy, Debug)]
pub struct KvPos {
    /// Start of the key string (its length field).
    pub start: usize,
    /// The value type field.
    pub type_at: usize,
    /// The value.
    pub value_at: usize,
    /// One past the entry.
    pub end: usize,
}

/// Where a field of a written tensor-info record lies.
#[derive(Clone, Copy, Debug)]
pub struct TensorPos {
    /// Start of the name string (its length field).
    pub start: usize,
    /// The `n_dims` field.
    pub dims_at: usize,
    /// The type field.
    pub type_at: usize,
    /// The offset field.
    pub offset_at: usize,
    /// One past the record.
    pub end: usize,
    /// The data offset written, relative to the data section.
    pub data_rel: u64,
    /// The data length its type and shape call for (0 when undefined).
    pub data_len: u64,
}

/// A whole file to write. Start from [`GgufSpec::valid`] and change one thing.
#[derive(Clone, Debug)]
pub struct GgufSpec {
    pub magic: [u8; 4],
    pub version: u32,
    /// Written instead of `tensors.len()` when set.
    pub n_tensors: Option<u64>,
    /// Written instead of `kvs.len()` when set.
    pub n_kv: Option<u64>,
    pub kvs: Vec<Kv>,
    pub tensors: Vec<Tensor>,
    /// Alignment the writer pads the data section and places tensors to (keep it equal to
    /// `general.alignment` when that key is set).
    pub alignment: u64,
    /// Data section length instead of what the tensors need, when set.
    pub data_len: Option<u64>,
}

/// A written file and where everything in it lies.
#[derive(Clone, Debug)]
pub struct Built {
    pub bytes: Vec<u8>,
    /// (what ends here, offset): after magic, version, each count, each kv, each tensor info, the
    /// padding, and each tensor's data.
    pub boundaries: Vec<(String, usize)>,
    pub kvs: Vec<KvPos>,
    pub tensors: Vec<TensorPos>,
    /// Absolute offset of the data section.
    pub data_offset: usize,
}

impl Built {
    /// The file cut to its first `len` bytes.
    pub fn truncated(&self, len: usize) -> Vec<u8> {
        self.bytes[..len].to_vec()
    }

    /// Offset of the boundary called `what`.
    pub fn boundary(&self, what: &str) -> usize {
        self.boundaries
            .iter()
            .find(|(w, _)| w == what)
            .unwrap_or_else(|| panic!("no boundary '{what}'"))
            .1
    }
}

impl GgufSpec {
    /// A valid v3 file with every value type, nested arrays, and tensors of several types and
    /// ranks (one with an odd row length, so padding between tensors is exercised).
    pub fn valid() -> GgufSpec {
        let nested = {
            let inner = [enc_array(ty::U8, 2, &[1, 2]), enc_array(ty::U8, 1, &[3])].concat();
            enc_array(ty::ARRAY, 2, &inner)
        };
        GgufSpec {
            magic: *b"GGUF",
            version: 3,
            n_tensors: None,
            n_kv: None,
            kvs: vec![
                Kv::string("general.architecture", "test"),
                Kv::u32("test.block_count", 2),
                Kv::f32("test.rope.freq_base", 10_000.0),
                Kv::bool("test.flag", true),
                Kv::u8("test.u8", 200),
                Kv::i8("test.i8", -5),
                Kv::u16("test.u16", 65_000),
                Kv::i16("test.i16", -30_000),
                Kv::i32("test.i32", -7),
                Kv::u64("test.u64", 1 << 40),
                Kv::i64("test.i64", -(1 << 40)),
                Kv::f64("test.f64", 0.25),
                Kv::str_array("tokenizer.ggml.tokens", &["<s>", "a", "b", "é", ""]),
                Kv::i32_array("tokenizer.ggml.token_type", &[3, 1, 1, 1, 1]),
                Kv::f32_array("tokenizer.ggml.scores", &[0.0, -1.0, -2.0, -3.0, -4.0]),
                Kv::raw("test.nested", ty::ARRAY, nested),
                Kv::raw("test.empty", ty::ARRAY, enc_array(ty::STRING, 0, &[])),
            ],
            tensors: vec![
                Tensor::new("token_embd.weight", GgmlType::Q8_0, &[64, 5]),
                Tensor::new("blk.0.attn_q.weight", GgmlType::Q4_K, &[256, 2]),
                Tensor::new("output_norm.weight", GgmlType::F32, &[64]),
                Tensor::new("blk.0.odd.weight", GgmlType::F16, &[3, 5]),
                Tensor::new("blk.0.ffn_down.weight", GgmlType::Q6_K, &[256]),
                Tensor::new("blk.0.rank4", GgmlType::BF16, &[2, 3, 4, 5]),
            ],
            alignment: 32,
            data_len: None,
        }
    }

    /// Writes the file.
    pub fn build(&self) -> Built {
        let mut b = Vec::new();
        let mut boundaries: Vec<(String, usize)> = Vec::new();
        b.extend_from_slice(&self.magic);
        boundaries.push(("magic".into(), b.len()));
        b.extend_from_slice(&self.version.to_le_bytes());
        boundaries.push(("version".into(), b.len()));
        let n_tensors = self.n_tensors.unwrap_or(self.tensors.len() as u64);
        b.extend_from_slice(&n_tensors.to_le_bytes());
        boundaries.push(("tensor count".into(), b.len()));
        let n_kv = self.n_kv.unwrap_or(self.kvs.len() as u64);
        b.extend_from_slice(&n_kv.to_le_bytes());
        boundaries.push(("kv count".into(), b.len()));

        let mut kvs = Vec::new();
        for (i, kv) in self.kvs.iter().enumerate() {
            let start = b.len();
            b.extend_from_slice(&enc_str(&kv.key));
            let type_at = b.len();
            b.extend_from_slice(&kv.type_id.to_le_bytes());
            let value_at = b.len();
            b.extend_from_slice(&kv.value);
            kvs.push(KvPos {
                start,
                type_at,
                value_at,
                end: b.len(),
            });
            boundaries.push((format!("kv {i}"), b.len()));
        }

        let align = |x: u64| x.div_ceil(self.alignment) * self.alignment;
        let mut next = 0u64;
        let mut tensors = Vec::new();
        for (i, t) in self.tensors.iter().enumerate() {
            let data_len = t.data_bytes().unwrap_or(0);
            let data_rel = t.offset.unwrap_or(align(next));
            if t.offset.is_none() {
                next = data_rel + data_len.max(1);
            }
            let start = b.len();
            b.extend_from_slice(&enc_str(&t.name));
            let dims_at = b.len();
            b.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                b.extend_from_slice(&d.to_le_bytes());
            }
            let type_at = b.len();
            b.extend_from_slice(&t.type_id.to_le_bytes());
            let offset_at = b.len();
            b.extend_from_slice(&data_rel.to_le_bytes());
            tensors.push(TensorPos {
                start,
                dims_at,
                type_at,
                offset_at,
                end: b.len(),
                data_rel,
                data_len,
            });
            boundaries.push((format!("tensor info {i}"), b.len()));
        }

        let data_offset = align(b.len() as u64) as usize;
        b.resize(data_offset, 0);
        boundaries.push(("padding".into(), b.len()));
        let needed = tensors
            .iter()
            .map(|t| t.data_rel.saturating_add(t.data_len))
            .max()
            .unwrap_or(0);
        let data_len = self.data_len.unwrap_or(needed) as usize;
        // A pattern, so that a slice at the wrong offset shows.
        b.extend((0..data_len).map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8));
        for (i, t) in tensors.iter().enumerate() {
            let end = (data_offset as u64)
                .saturating_add(t.data_rel)
                .saturating_add(t.data_len);
            if t.data_len > 0 && end <= b.len() as u64 {
                boundaries.push((format!("tensor data {i}"), end as usize));
            }
        }
        Built {
            bytes: b,
            boundaries,
            kvs,
            tensors,
            data_offset,
        }
    }
}
