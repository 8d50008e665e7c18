//! Real weights: rows of real GGUF tensors (Gemma 3 270M Q4_K_M: Q4_K, Q6_K, Q5_0, Q8_0;
//! SmolLM2 135M: Q4_1) dequantized through `ops::dequantize_row`, compared bit for bit with the
//! values Python's `gguf` package computes for the same bytes.
//!
//! The rows and values live in small committed files written by `golden/make_golden.py` (layout
//! documented there), so this test needs no model download.

use retort_kernels::ops;
use retort_kernels::GgmlType;

const GOLDEN: &[(&str, &[u8])] = &[
    (
        "gemma-3-270m-q4_k_m.Q4_K",
        include_bytes!("golden/gemma-3-270m-q4_k_m.Q4_K.golden"),
    ),
    (
        "gemma-3-270m-q4_k_m.Q6_K",
        include_bytes!("golden/gemma-3-270m-q4_k_m.Q6_K.golden"),
    ),
    (
        "gemma-3-270m-q4_k_m.Q5_0",
        include_bytes!("golden/gemma-3-270m-q4_k_m.Q5_0.golden"),
    ),
    (
        "gemma-3-270m-q4_k_m.Q8_0",
        include_bytes!("golden/gemma-3-270m-q4_k_m.Q8_0.golden"),
    ),
    (
        "SmolLM2-135M-Instruct.Q4_1",
        include_bytes!("golden/SmolLM2-135M-Instruct.Q4_1.Q4_1.golden"),
    ),
];

/// One golden file, parsed.
struct Golden {
    ty: GgmlType,
    tensor: String,
    rows: usize,
    n_per_row: usize,
    row_bytes: usize,
    raw: Vec<u8>,
    values: Vec<f32>,
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

fn parse(file: &str, b: &[u8]) -> Golden {
    assert_eq!(&b[..8], b"RTGOLD1\0", "{file}: bad magic");
    let id = u32_at(b, 8) as u32;
    let ty = GgmlType::from_u32(id).unwrap_or_else(|| panic!("{file}: unknown type {id}"));
    let (rows, n_per_row, row_bytes, name_len) =
        (u32_at(b, 12), u32_at(b, 16), u32_at(b, 20), u32_at(b, 24));
    let mut at = 28;
    let tensor = String::from_utf8(b[at..at + name_len].to_vec()).unwrap();
    at += name_len;
    let raw = b[at..at + rows * row_bytes].to_vec();
    at += rows * row_bytes;
    let values: Vec<f32> = b[at..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(values.len(), rows * n_per_row, "{file}: value count");
    Golden {
        ty,
        tensor,
        rows,
        n_per_row,
        row_bytes,
        raw,
        values,
    }
}

#[test]
fn real_rows_dequantize_like_gguf_py() {
    for (file, bytes) in GOLDEN {
        let g = parse(file, bytes);
        assert_eq!(
            g.ty.row_bytes(g.n_per_row as u64),
            Some(g.row_bytes as u64),
            "{file}: row size"
        );
        for r in 0..g.rows {
            // Copy the row into u32 storage: block structs need 2- or 4-byte alignment.
            let mut storage = vec![0u32; g.row_bytes.div_ceil(4)];
            let row: &mut [u8] = &mut bytemuck::cast_slice_mut(&mut storage)[..g.row_bytes];
            row.copy_from_slice(&g.raw[r * g.row_bytes..(r + 1) * g.row_bytes]);
            let mut got = vec![0.0f32; g.n_per_row];
            ops::dequantize_row(g.ty, row, &mut got)
                .unwrap_or_else(|e| panic!("{file} ({}) row {r}: {e}", g.tensor));
            let want = &g.values[r * g.n_per_row..(r + 1) * g.n_per_row];
            for (i, (a, b)) in got.iter().zip(want).enumerate() {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "{file} ({} {}) row {r} value {i}: ours {a:e}, gguf-py {b:e}",
                    g.tensor,
                    g.ty
                );
            }
        }
    }
}
