#!/usr/bin/env bash
# Writes the seed corpus of the `gguf_open` fuzz target into fuzz/corpus/gguf_open/ (gitignored):
#   - the header of each cached model (its first data_offset bytes: metadata and tensor table);
#   - each header with its big arrays cut to a few elements (same structure, small);
#   - that small header with a few tiny tensors of the model's types and their data (opens);
#   - small synthetic files covering every value type, nesting and tensor type.
# Models are read from $RETORT_HOME/models (default $XDG_CACHE_HOME/retort, else ~/.cache/retort);
# none there is fine (the synthetic seeds are still written). Needs python3 with the `gguf` package.
set -euo pipefail
cd "$(dirname "$0")"
home="${RETORT_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/retort}"
out=corpus/gguf_open
mkdir -p "$out"
python3 - "$home/models" "$out" <<'PY'
import os, struct, sys

models, out = sys.argv[1], sys.argv[2]
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
          BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
# ggml type: (block size, bytes per block)
GGML = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
        9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
        14: (256, 210), 15: (256, 292), 30: (1, 2)}

def s(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack("<Q", len(b)) + b

def scalar(t, v):
    return struct.pack(SCALAR[t], v)

def array(t, items):
    body = b"".join(s(x) if t == STRING else x if t == ARRAY else scalar(t, x) for x in items)
    return struct.pack("<IQ", t, len(items)) + body

def gguf(kvs, tensors, alignment=32, version=3):
    """kvs: [(key, type, encoded value)]; tensors: [(name, dims, ggml type)] with data."""
    h = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for k, t, v in kvs:
        h += s(k) + struct.pack("<I", t) + v
    off, datas = 0, []
    for name, dims, gt in tensors:
        bs, ts = GGML[gt]
        n = 1
        for d in dims[1:]:
            n *= d
        size = dims[0] // bs * ts * n
        h += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        h += struct.pack("<IQ", gt, off)
        datas.append((off, bytes((i * 37 + 11) % 251 for i in range(size))))
        off = (off + size + alignment - 1) // alignment * alignment
    h += b"\0" * (-len(h) % alignment)
    data = bytearray(off)
    for o, d in datas:
        data[o:o + len(d)] = d
    return h + bytes(data)

def write(name, blob):
    with open(os.path.join(out, name), "wb") as f:
        f.write(blob)
    print(f"{name}: {len(blob)} bytes")

# Synthetic seeds.
every = [
    ("general.architecture", STRING, s("fuzz")), ("u8", U8, scalar(U8, 7)),
    ("i8", I8, scalar(I8, -7)), ("u16", U16, scalar(U16, 700)), ("i16", I16, scalar(I16, -700)),
    ("u32", U32, scalar(U32, 70000)), ("i32", I32, scalar(I32, -70000)),
    ("f32", F32, scalar(F32, 0.5)), ("bool", BOOL, scalar(BOOL, 1)),
    ("u64", U64, scalar(U64, 1 << 40)), ("i64", I64, scalar(I64, -(1 << 40))),
    ("f64", F64, scalar(F64, 0.25)),
    ("tokens", ARRAY, array(STRING, ["<s>", "a", "é"])),
    ("types", ARRAY, array(I32, [3, 1, 1])), ("scores", ARRAY, array(F32, [0.0, -1.0, -2.0])),
    ("flags", ARRAY, array(BOOL, [0, 1])),
    ("nested", ARRAY, array(ARRAY, [array(U8, [1, 2]), array(ARRAY, [array(U16, [3])])])),
    ("general.alignment", U32, scalar(U32, 32)),
]
types = sorted(GGML)
write("synthetic-empty.gguf", gguf([], []))
write("synthetic-v2.gguf", gguf(every[:3], [("t", [32], 0)], version=2))
write("synthetic-every-value.gguf", gguf(every, []))
write("synthetic-every-type.gguf",
      gguf(every[:1], [(f"t{gt}", [GGML[gt][0] * 2, 3], gt) for gt in types]))
write("synthetic-ranks.gguf",
      gguf(every[:1], [("r1", [256], 12), ("r2", [32, 2], 8), ("r3", [2, 3, 4], 0),
                       ("r4", [1, 2, 3, 4], 1)]))
write("synthetic-align64.gguf",
      gguf([("general.alignment", U32, scalar(U32, 64))], [("a", [3], 1), ("b", [5], 0)], 64))

# Real headers, whole and shrunk.
if os.path.isdir(models):
    from gguf import GGUFReader
    for fn in sorted(os.listdir(models)):
        if not fn.endswith(".gguf"):
            continue
        r = GGUFReader(os.path.join(models, fn))
        stem = fn[:-5]
        with open(os.path.join(models, fn), "rb") as f:
            write(f"real-{stem}-header.gguf", f.read(r.data_offset))
        kvs = []
        for k, field in r.fields.items():
            if k.startswith("GGUF."):
                continue
            t = int(field.types[0])
            # Only the first few parts: contents() of a whole vocabulary is slow.
            items = [field.parts[i] for i in field.data[:8]]
            if t == ARRAY:
                et = int(field.types[1])
                if et == ARRAY:
                    continue
                if et == STRING:
                    kvs.append((k, ARRAY, array(STRING, [bytes(x) for x in items])))
                else:
                    kvs.append((k, ARRAY, array(et, [x.tolist()[0] for x in items])))
            elif t == STRING:
                kvs.append((k, STRING, s(bytes(items[0])[:256].decode("utf-8", "ignore"))))
            else:
                kvs.append((k, t, scalar(t, items[0].tolist()[0])))
        blob = gguf(kvs, [])
        # The real tensor table, with offsets as in the file: parses, then fails on bounds.
        tinfo = b""
        for t in r.tensors:
            dims = [int(d) for d in t.shape]
            tinfo += s(t.name) + struct.pack("<I", len(dims))
            tinfo += b"".join(struct.pack("<Q", d) for d in dims)
            tinfo += struct.pack("<IQ", int(t.tensor_type), int(t.data_offset) - r.data_offset)
        head = b"GGUF" + struct.pack("<IQQ", 3, len(r.tensors), len(kvs))
        body = blob[24:]
        table = head + body + tinfo
        write(f"real-{stem}-small-header.gguf", table + b"\0" * (-len(table) % 32))
        # A few tiny tensors of the model's types, with data: opens.
        seen = []
        for t in r.tensors:
            gt = int(t.tensor_type)
            if gt in GGML and gt not in [x[2] for x in seen]:
                seen.append((t.name, [GGML[gt][0], 2], gt))
        write(f"real-{stem}-small.gguf", gguf(kvs, seen[:4]))
PY
echo "seed corpus in $(pwd)/$out: $(ls "$out" | wc -l) files"
