#!/usr/bin/env python3
"""Writes the golden rows that kernels/tests/golden_rows.rs checks the dequantizers against.

For the first tensor of each listed type in a real model (file order), the first two rows: their
raw bytes as stored in the GGUF file and the values Python's `gguf` package dequantizes them to
(`gguf.quants.dequantize`, numpy, float32). The files are small (< 64 KiB each) and committed;
run this again only to regenerate them:

    python3 kernels/tests/golden/make_golden.py            # models from $RETORT_HOME/models

File layout (little-endian):
    8 bytes  magic b"RTGOLD1\\0"
    u32      ggml type id
    u32      rows
    u32      values per row
    u32      bytes per row
    u32      length of the tensor name, then the name (UTF-8)
    rows * bytes-per-row     raw row bytes
    rows * values-per-row    f32 values
"""

import os
import struct
import sys
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType
from gguf.quants import dequantize

ROWS = 2
MAX_FILE = 64 * 1024

# model file -> types to take one tensor of
WANTED = {
    "gemma-3-270m-q4_k_m.gguf": ["Q4_K", "Q6_K", "Q5_0", "Q8_0"],
    "SmolLM2-135M-Instruct.Q4_1.gguf": ["Q4_1"],
}


def retort_home() -> Path:
    if os.environ.get("RETORT_HOME"):
        return Path(os.environ["RETORT_HOME"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "retort"


def write_golden(out_dir: Path, model: str, tensor, qtype: GGMLQuantizationType) -> Path:
    raw = np.asarray(tensor.data)[:ROWS]  # (rows, bytes per row), uint8
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    values = dequantize(raw, qtype).astype(np.float32)  # (rows, values per row)
    n_per_row = int(tensor.shape[0])
    assert values.shape == (ROWS, n_per_row), (values.shape, n_per_row)
    name = tensor.name.encode()
    blob = b"RTGOLD1\0" + struct.pack(
        "<5I", int(qtype), ROWS, n_per_row, raw.shape[1], len(name)
    ) + name + raw.tobytes() + values.astype("<f4").tobytes()
    assert len(blob) < MAX_FILE, f"{tensor.name}: {len(blob)} bytes"
    path = out_dir / f"{Path(model).stem}.{qtype.name}.golden"
    path.write_bytes(blob)
    return path


def main() -> int:
    out_dir = Path(__file__).resolve().parent
    models = retort_home() / "models"
    for model, types in WANTED.items():
        path = models / model
        if not path.exists():
            print(f"missing model {path}; pull it with `retort pull` first", file=sys.stderr)
            return 1
        reader = GGUFReader(path)
        for type_name in types:
            qtype = GGMLQuantizationType[type_name]
            tensor = next(t for t in reader.tensors if t.tensor_type == qtype)
            written = write_golden(out_dir, model, tensor, qtype)
            print(f"{written.name}: {tensor.name} {list(map(int, tensor.shape))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
