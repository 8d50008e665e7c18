"""A small GGUF reader: metadata as plain Python values, tensors as memory-mapped byte rows.

`gguf.GGUFReader` builds a numpy view per array element, which takes ~17 s of CPU for Gemma 3's
262,144-token vocabulary; this reader parses the same header in well under a second. Dequantization
still goes through `gguf.quants.dequantize`, and block sizes come from `gguf.GGML_QUANT_SIZES`.
`python3 gguf_file.py MODEL.gguf` cross-checks this reader against `gguf.GGUFReader`.
"""

import struct
import sys

import numpy as np

import gguf

# GGUF value types -> struct format (scalars).
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_NUMPY = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8", 11: "<i8", 12: "<f8"}
_STRING, _ARRAY = 8, 9


class TensorInfo:
    """One tensor: name, ggml dims (ne0 first), type, and its bytes as (rows, row_bytes) uint8."""

    def __init__(self, name, ne, qtype, data):
        self.name = name
        self.ne = ne
        self.tensor_type = qtype
        self.data = data


class GgufFile:
    """Parsed header of a GGUF file; `fields` maps key -> value, `tensors` lists TensorInfo."""

    def __init__(self, path):
        self.path = path
        self.buf = np.memmap(path, dtype=np.uint8, mode="r")
        mv = memoryview(self.buf)
        self._mv = mv
        self._pos = 0
        magic = bytes(mv[0:4])
        if magic != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file (magic {magic!r})")
        self._pos = 4
        version = self._u32()
        if version not in (2, 3):
            raise ValueError(f"{path}: unsupported GGUF version {version}")
        n_tensors = self._u64()
        n_kv = self._u64()
        self.fields = {}
        for _ in range(n_kv):
            key = self._str()
            vtype = self._u32()
            self.fields[key] = self._value(vtype)
        infos = []
        for _ in range(n_tensors):
            name = self._str()
            n_dims = self._u32()
            ne = [self._u64() for _ in range(n_dims)]
            qtype = gguf.GGMLQuantizationType(self._u32())
            offset = self._u64()
            infos.append((name, ne, qtype, offset))
        align = int(self.fields.get("general.alignment", 32))
        data_start = (self._pos + align - 1) // align * align
        self.tensors = []
        for name, ne, qtype, offset in infos:
            block, type_size = gguf.GGML_QUANT_SIZES[qtype]
            if ne[0] % block:
                raise ValueError(f"{name}: ne0 {ne[0]} not a multiple of block {block}")
            row_bytes = ne[0] // block * type_size
            n_rows = 1
            for d in ne[1:]:
                n_rows *= d
            start = data_start + offset
            end = start + row_bytes * n_rows
            if end > len(self.buf):
                raise ValueError(f"{name}: data [{start}, {end}) past the end of the file")
            data = self.buf[start:end].reshape(n_rows, row_bytes)
            self.tensors.append(TensorInfo(name, ne, qtype, data))

    def _take(self, n):
        p = self._pos
        if p + n > len(self.buf):
            raise ValueError(f"{self.path}: header truncated at byte {p}")
        self._pos = p + n
        return p

    def _u32(self):
        return struct.unpack_from("<I", self._mv, self._take(4))[0]

    def _u64(self):
        return struct.unpack_from("<Q", self._mv, self._take(8))[0]

    def _str(self):
        n = self._u64()
        p = self._take(n)
        return bytes(self._mv[p : p + n]).decode("utf-8", errors="replace")

    def _value(self, vtype):
        if vtype == _STRING:
            return self._str()
        if vtype == _ARRAY:
            etype = self._u32()
            count = self._u64()
            if etype == _STRING:
                return [self._str() for _ in range(count)]
            if etype == _ARRAY:
                return [self._value(_ARRAY) for _ in range(count)]
            dt = np.dtype(_NUMPY[etype])
            p = self._take(dt.itemsize * count)
            arr = np.frombuffer(self._mv, dtype=dt, count=count, offset=p)
            return [bool(x) for x in arr] if etype == 7 else arr.tolist()
        fmt = _SCALAR[vtype]
        return struct.unpack_from(fmt, self._mv, self._take(struct.calcsize(fmt)))[0]


def _cross_check(path):
    """Compare every key and tensor with gguf.GGUFReader; print mismatches, return their count."""
    ours = GgufFile(path)
    ref = gguf.GGUFReader(path)
    bad = 0
    for key, f in ref.fields.items():
        if key.startswith("GGUF."):
            continue
        v = f.contents()
        w = ours.fields.get(key)
        same = (np.allclose(v, w) if isinstance(v, float) else v == w)
        if not same:
            print(f"field {key}: gguf {str(v)[:80]} ours {str(w)[:80]}")
            bad += 1
    if len(ref.tensors) != len(ours.tensors):
        print("tensor count differs")
        bad += 1
    for a, b in zip(ref.tensors, ours.tensors):
        if a.name != b.name or a.tensor_type != b.tensor_type or [int(x) for x in a.shape] != b.ne:
            print(f"tensor {a.name}/{b.name} differs")
            bad += 1
        elif not np.array_equal(np.asarray(a.data).view(np.uint8).reshape(b.data.shape), b.data):
            print(f"tensor {a.name} bytes differ")
            bad += 1
    print(f"{path}: {len(ref.fields)} fields, {len(ref.tensors)} tensors, {bad} mismatches")
    return bad


if __name__ == "__main__":
    sys.exit(1 if sum(_cross_check(p) for p in sys.argv[1:]) else 0)
