//! What a benchmarked model is: the columns people compare before any timing (file size,
//! parameters, quantization), read from the GGUF header alone.

use std::collections::HashMap;

use retort_kernels::GgmlType;
use serde::Serialize;

use crate::gguf::GgufFile;

/// A model file's description.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelInfo {
    /// `general.architecture` (llama, gemma3, qwen2, ...).
    pub arch: String,
    /// The file's quantization as llama.cpp names it (`general.file_type`: Q4_1, Q4_K_M, ...),
    /// or the type holding most of the weight bytes when the key is absent or unknown.
    pub file_type: String,
    /// Bytes of the file.
    pub size_bytes: u64,
    /// Parameters: elements of every tensor.
    pub n_params: u64,
}

impl ModelInfo {
    /// Reads the description of an opened file.
    pub fn of(file: &GgufFile) -> ModelInfo {
        let md = file.metadata();
        let arch = md
            .get_str("general.architecture")
            .unwrap_or("unknown")
            .to_owned();
        let named = md
            .get("general.file_type")
            .and_then(|v| v.as_i128())
            .and_then(file_type_name);
        let file_type = named.map_or_else(|| dominant_type(file), str::to_owned);
        ModelInfo {
            arch,
            file_type,
            size_bytes: file.len(),
            n_params: file.tensors().iter().map(|t| t.n_elements()).sum(),
        }
    }

    /// "135M", "1.5B": the parameter count as model names give it.
    pub fn params_label(&self) -> String {
        let n = self.n_params as f64;
        if n >= 1e9 {
            format!("{:.2}B", n / 1e9)
        } else {
            format!("{:.0}M", n / 1e6)
        }
    }
}

/// llama.cpp's `llama_ftype` names (the `general.file_type` values in use).
fn file_type_name(v: i128) -> Option<&'static str> {
    Some(match v {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        32 => "BF16",
        _ => return None,
    })
}

/// The tensor type holding the most bytes.
fn dominant_type(file: &GgufFile) -> String {
    let mut bytes: HashMap<GgmlType, u64> = HashMap::new();
    for t in file.tensors() {
        *bytes.entry(t.ty).or_default() += t.bytes;
    }
    bytes
        .into_iter()
        .max_by_key(|&(ty, b)| (b, ty.to_string()))
        .map_or_else(|| "none".to_owned(), |(ty, _)| ty.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let info = |n| ModelInfo {
            arch: "llama".into(),
            file_type: "Q4_1".into(),
            size_bytes: 0,
            n_params: n,
        };
        assert_eq!(info(134_515_008).params_label(), "135M");
        assert_eq!(info(1_543_714_304).params_label(), "1.54B");
        assert_eq!(file_type_name(15), Some("Q4_K_M"));
        assert_eq!(file_type_name(1000), None);
    }
}
