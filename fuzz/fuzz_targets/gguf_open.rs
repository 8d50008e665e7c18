//! Fuzzes the GGUF reader: any input must either fail with an error value or open to a file whose
//! every tensor slice and metadata value can be read. A panic, an out-of-bounds read, or an
//! allocation far beyond the input is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retort::gguf::{GgufFile, MetaArray, MetaValue};

fuzz_target!(|data: &[u8]| {
    match GgufFile::from_bytes(data.to_vec()) {
        Ok(file) => touch_file(&file),
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
});

fn touch_file(file: &GgufFile) {
    let mut sum = 0u64;
    for t in file.tensors() {
        let data = file.tensor_data(t);
        assert_eq!(data.len() as u64, t.bytes, "{}", t.name);
        assert!(t.offset >= file.data_offset() && t.offset + t.bytes <= file.len());
        sum = data.iter().fold(sum, |s, &b| s.wrapping_add(b as u64));
        sum = sum
            .wrapping_add(t.n_elements())
            .wrapping_add(t.n_rows())
            .wrapping_add(t.row_bytes())
            .wrapping_add(t.row_len());
        // Names are unique, so a lookup by name finds this very tensor.
        assert_eq!(file.tensor(&t.name), Some(t));
    }
    let m = file.metadata();
    for (key, value) in m.iter() {
        // The lookup finds this very entry (compared by address: NaN values are not equal to
        // themselves).
        assert!(std::ptr::eq(file.get(key).unwrap(), value));
        sum = sum.wrapping_add(touch_value(value));
        std::hint::black_box(value.to_string());
        // Every typed accessor either reads the value or says why not.
        let accessors = (
            m.get_u32(key).map_err(|e| e.to_string()),
            m.get_u64(key).map_err(|e| e.to_string()),
            m.get_i32(key).map_err(|e| e.to_string()),
            m.get_f32(key).map_err(|e| e.to_string()),
            m.get_bool(key).map_err(|e| e.to_string()),
            m.get_str(key).map_err(|e| e.to_string()),
            m.get_array(key).map(|a| a.len()).map_err(|e| e.to_string()),
            m.get_str_array(key)
                .map(|a| a.len())
                .map_err(|e| e.to_string()),
            m.get_i32_array(key)
                .map(|a| a.len())
                .map_err(|e| e.to_string()),
            m.get_f32_array(key)
                .map(|a| a.len())
                .map_err(|e| e.to_string()),
        );
        std::hint::black_box(format!("{accessors:?}"));
    }
    std::hint::black_box(sum);
}

fn touch_value(v: &MetaValue) -> u64 {
    match v {
        MetaValue::String(s) => s.len() as u64,
        MetaValue::Array(a) => touch_array(a),
        other => other.as_i128().map_or(0, |i| i as u64) ^ other.as_f64().map_or(0, f64::to_bits),
    }
}

fn touch_array(a: &MetaArray) -> u64 {
    let n = a.len() as u64;
    n ^ match a {
        MetaArray::U8(v) => v.iter().map(|&x| x as u64).sum(),
        MetaArray::I8(v) => v.iter().map(|&x| x as u64).fold(0, u64::wrapping_add),
        MetaArray::U16(v) => v.iter().map(|&x| x as u64).sum(),
        MetaArray::I16(v) => v.iter().map(|&x| x as u64).fold(0, u64::wrapping_add),
        MetaArray::U32(v) => v.iter().map(|&x| x as u64).sum(),
        MetaArray::I32(v) => v.iter().map(|&x| x as u64).fold(0, u64::wrapping_add),
        MetaArray::F32(v) => v.iter().map(|x| x.to_bits() as u64).sum(),
        MetaArray::Bool(v) => v.iter().filter(|&&b| b).count() as u64,
        MetaArray::String(v) => v.iter().map(|s| s.len() as u64).sum(),
        MetaArray::Array(v) => v.iter().map(touch_array).fold(0, u64::wrapping_add),
        MetaArray::U64(v) => v.iter().copied().fold(0, u64::wrapping_add),
        MetaArray::I64(v) => v.iter().map(|&x| x as u64).fold(0, u64::wrapping_add),
        MetaArray::F64(v) => v.iter().map(|x| x.to_bits()).fold(0, u64::wrapping_add),
    }
}
