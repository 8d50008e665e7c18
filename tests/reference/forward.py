#!/usr/bin/env python3
"""Independent reference forward pass (numpy) for llama, qwen2 and gemma3 GGUF models.

The header is parsed by gguf_file.py (cross-checked against gguf.GGUFReader, which is too slow on
big vocabularies); weights are dequantized with the `gguf` package (gguf.quants.dequantize), once
per run, to float32;
activations are float32 (RMSNorm sums in float64). No KV quantization, no activation quantization:
this is the "exact" model the quantized weights describe. See README.md for the output format and the
conventions, and arch.py for the per-family options.

Usage:
  forward.py --model PATH (--tokens 1,2,3 | --tokens-file F) [--out FILE] [--top K] [--last N]
             [--generate N] [--stop-eos] [--show-text]
"""

import argparse
import math
import os
import struct
import sys
import time

# Single-threaded BLAS unless the caller says otherwise: these matrices are small, and a threaded
# BLAS spinning on a busy machine (CI, parallel cargo builds) is ten times slower. It also keeps the
# summation order, hence the bits, independent of the machine's core count.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gguf  # noqa: E402

from gguf_file import GgufFile  # noqa: E402
from arch import ROPE_NEOX, ROPE_NORM, spec_from_fields  # noqa: E402
from vocab import Vocab  # noqa: E402

# Rows per dequantization call: keeps the temporaries small (large fresh allocations are slow on
# small VMs) while the per-call overhead stays negligible.
_CHUNK_ELEMS = 1 << 18


class Weights:
    """Tensors of one GGUF file, dequantized to float32 on first use and kept for the run."""

    def __init__(self, tensors):
        self.tensors = {t.name: t for t in tensors}
        self.cache = {}

    def has(self, name):
        return name in self.tensors

    def get(self, name):
        """Dequantized tensor as numpy float32; a matrix is (ne1 rows, ne0 cols) = (out, in)."""
        w = self.cache.get(name)
        if w is not None:
            return w
        t = self.tensors[name]
        shape = tuple(reversed(t.ne))  # numpy order: (ne1, ne0)
        rows = t.data  # (rows, row_bytes) uint8
        n_rows = rows.shape[0]
        w = np.empty((n_rows, t.ne[0]), dtype=np.float32)
        step = max(1, _CHUNK_ELEMS // t.ne[0])
        for i in range(0, n_rows, step):
            w[i : i + step] = gguf.quants.dequantize(np.array(rows[i : i + step]), t.tensor_type)
        w = w.reshape(shape)
        self.cache[name] = w
        return w


class Model:
    """A GGUF model ready for the reference forward pass."""

    def __init__(self, path):
        self.file = GgufFile(path)
        self.w = Weights(self.file.tensors)
        out_name = "output.weight" if self.w.has("output.weight") else "token_embd.weight"
        self.out_name = out_name
        n_vocab = int(self.w.tensors[out_name].ne[1])
        self.spec = spec_from_fields(self.file.fields, n_vocab)
        self._vocab = None

    def load_all(self):
        """Dequantize every tensor now (otherwise each is dequantized on first use)."""
        for name in self.w.tensors:
            self.w.get(name)

    @property
    def vocab(self):
        if self._vocab is None:
            self._vocab = Vocab(self.file.fields)
        return self._vocab

    def new_cache(self):
        """Per-layer K and V (positions, n_head_kv, head_dim), post-rope, float32."""
        s = self.spec
        return [
            [np.zeros((0, s.n_head_kv, s.head_dim), np.float32) for _ in range(2)]
            for _ in range(s.n_layer)
        ]

    def forward(self, tokens, cache, start_pos, want_logits="all"):
        """Run `tokens` at positions start_pos.. ; extends `cache`; returns logits (n, n_vocab) for
        all positions ("all") or only the last one ("last")."""
        s = self.spec
        w = self.w
        tokens = np.asarray(tokens, dtype=np.int64)
        n = len(tokens)
        if n == 0:
            raise ValueError("no tokens")
        if tokens.min() < 0 or tokens.max() >= s.n_vocab:
            raise ValueError(f"token id out of range 0..{s.n_vocab}")
        pos = np.arange(start_pos, start_pos + n)

        emb = w.get("token_embd.weight")  # (n_vocab, d_model)
        x = emb[tokens].astype(np.float32)  # (n, d_model)
        if s.embed_scale != 1.0:
            x = x * np.float32(s.embed_scale)

        for il in range(s.n_layer):
            p = f"blk.{il}."
            h = rms_norm(x, w.get(p + "attn_norm.weight"), s.eps)
            a = self._attention(il, h, pos, cache[il])
            if s.post_norms:
                a = rms_norm(a, w.get(p + "post_attention_norm.weight"), s.eps)
            x = x + a
            h = rms_norm(x, w.get(p + "ffn_norm.weight"), s.eps)
            f = self._ffn(il, h)
            if s.post_norms:
                f = rms_norm(f, w.get(p + "post_ffw_norm.weight"), s.eps)
            x = x + f

        if want_logits == "last":
            x = x[-1:]
        x = rms_norm(x, w.get("output_norm.weight"), s.eps)
        logits = x @ w.get(self.out_name).T  # (n, n_vocab)
        if s.final_softcap:
            cap = np.float32(s.final_softcap)
            logits = np.tanh(logits / cap) * cap
        return logits.astype(np.float32, copy=False)

    def _linear(self, name, x):
        y = x @ self.w.get(name + ".weight").T
        if self.w.has(name + ".bias"):
            y = y + self.w.get(name + ".bias")
        return y

    def _attention(self, il, h, pos, kv):
        s = self.spec
        p = f"blk.{il}."
        n = h.shape[0]
        hd = s.head_dim
        q = self._linear(p + "attn_q", h).reshape(n, s.n_head, hd)
        k = self._linear(p + "attn_k", h).reshape(n, s.n_head_kv, hd)
        v = self._linear(p + "attn_v", h).reshape(n, s.n_head_kv, hd)
        if s.qk_norm:
            q = rms_norm(q, self.w.get(p + "attn_q_norm.weight"), s.eps)
            k = rms_norm(k, self.w.get(p + "attn_k_norm.weight"), s.eps)
        q = rope(q, pos, s.n_rot, s.rope_base[il], s.rope_style)
        k = rope(k, pos, s.n_rot, s.rope_base[il], s.rope_style)
        kv[0] = np.concatenate([kv[0], k.astype(np.float32)], axis=0)
        kv[1] = np.concatenate([kv[1], v.astype(np.float32)], axis=0)
        K, V = kv  # (n_kv_pos, n_head_kv, hd)
        kpos = np.arange(K.shape[0])

        # Causal mask, plus the sliding window: key j is visible from query i when
        # j <= i and (window == 0 or i - j < window).
        allowed = kpos[None, :] <= pos[:, None]
        win = s.window[il]
        if win:
            allowed &= (pos[:, None] - kpos[None, :]) < win

        group = s.n_head // s.n_head_kv
        out = np.empty((n, s.n_head, hd), np.float32)
        scale = np.float32(s.attn_scale)
        for hh in range(s.n_head):
            kh = hh // group  # query head hh reads KV head hh // group
            sc = (q[:, hh, :] @ K[:, kh, :].T) * scale  # (n, n_kv_pos)
            sc = np.where(allowed, sc, np.float32(-np.inf))
            sc = sc - sc.max(axis=1, keepdims=True)
            e = np.exp(sc)
            pr = e / e.sum(axis=1, keepdims=True)
            out[:, hh, :] = pr @ V[:, kh, :]
        return self._linear(p + "attn_output", out.reshape(n, s.n_head * hd))

    def _ffn(self, il, h):
        s = self.spec
        p = f"blk.{il}."
        g = self._linear(p + "ffn_gate", h)
        u = self._linear(p + "ffn_up", h)
        if s.act == "silu":
            a = g / (np.float32(1.0) + np.exp(-g))
        elif s.act == "gelu_tanh":
            c = np.float32(math.sqrt(2.0 / math.pi))
            a = np.float32(0.5) * g * (np.float32(1.0) + np.tanh(c * (g + np.float32(0.044715) * g * g * g)))
        else:
            raise ValueError(s.act)
        return self._linear(p + "ffn_down", a * u)


def rms_norm(x, weight, eps):
    """x / sqrt(mean(x^2) + eps) * weight over the last axis (sum of squares in float64)."""
    ms = np.mean(np.square(x, dtype=np.float64), axis=-1, keepdims=True)
    scale = (1.0 / np.sqrt(ms + eps)).astype(np.float32)
    return (x * scale) * weight


def rope(x, pos, n_rot, base, style):
    """Rotary embedding of x (n, heads, head_dim) at positions pos (n,).

    Pair i (0 <= i < n_rot/2) rotates by angle pos * base^(-2i/n_rot). NORM pairs dims (2i, 2i+1);
    NEOX pairs dims (i, i + n_rot/2). Dims >= n_rot pass through."""
    half = n_rot // 2
    inv = base ** (-2.0 * np.arange(half, dtype=np.float64) / n_rot)  # (half,)
    ang = pos.astype(np.float64)[:, None] * inv[None, :]  # (n, half)
    cos = np.cos(ang).astype(np.float32)[:, None, :]
    sin = np.sin(ang).astype(np.float32)[:, None, :]
    y = x.astype(np.float32, copy=True)
    if style == ROPE_NORM:
        x0 = x[..., 0:n_rot:2]
        x1 = x[..., 1:n_rot:2]
        y[..., 0:n_rot:2] = x0 * cos - x1 * sin
        y[..., 1:n_rot:2] = x0 * sin + x1 * cos
    elif style == ROPE_NEOX:
        x0 = x[..., 0:half]
        x1 = x[..., half:n_rot]
        y[..., 0:half] = x0 * cos - x1 * sin
        y[..., half:n_rot] = x0 * sin + x1 * cos
    else:
        raise ValueError(style)
    return y


def write_logits(path, logits, top):
    """Full: u32 n_pos, u32 n_vocab, f32[n_pos*n_vocab]. Top-K: u32 n_pos, u32 K, then per position
    K records of (u32 id, f32 logit), highest logit first (ties: lower id first). Little-endian."""
    logits = np.ascontiguousarray(logits, dtype="<f4")
    n_pos, n_vocab = logits.shape
    with open(path, "wb") as f:
        if top <= 0:
            f.write(struct.pack("<II", n_pos, n_vocab))
            f.write(logits.tobytes())
        else:
            k = min(top, n_vocab)
            f.write(struct.pack("<II", n_pos, k))
            rec = np.empty(k, dtype=[("id", "<u4"), ("logit", "<f4")])
            for row in logits:
                cand = np.argpartition(-row, k - 1)[:k] if k < n_vocab else np.arange(n_vocab)
                idx = cand[np.lexsort((cand, -row[cand]))]
                rec["id"] = idx
                rec["logit"] = row[idx]
                f.write(rec.tobytes())


def parse_ids(text):
    return [int(t) for t in text.replace(",", " ").split()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="GGUF file")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--tokens", help="comma-separated prompt token ids")
    src.add_argument("--tokens-file", help="file of token ids separated by commas or whitespace")
    ap.add_argument("--out", help="write prompt logits here (binary, see README.md)")
    ap.add_argument("--top", type=int, default=0, help="0 = full logits (default); K > 0 = top-K ids+logits")
    ap.add_argument("--last", type=int, default=0, help="write only the last N positions (0 = all)")
    ap.add_argument("--generate", type=int, default=0, help="greedy-generate N tokens; print ids on stdout")
    ap.add_argument("--stop-eos", action="store_true", help="stop generating at the EOS token")
    ap.add_argument("--show-text", action="store_true", help="print decoded prompt and continuation on stderr")
    ap.add_argument("--timing", action="store_true", help="print timings on stderr")
    args = ap.parse_args(argv)

    if args.tokens is not None:
        tokens = parse_ids(args.tokens)
    else:
        with open(args.tokens_file) as f:
            tokens = parse_ids(f.read())
    if not tokens:
        ap.error("no prompt tokens")

    t0, c0 = time.time(), time.process_time()
    model = Model(args.model)
    model.load_all()
    tl, cl = time.time(), time.process_time()
    cache = model.new_cache()
    logits = model.forward(tokens, cache, 0, want_logits="all" if args.out else "last")
    t1 = time.time()
    if args.out:
        sel = logits[-args.last :] if args.last > 0 else logits
        write_logits(args.out, sel, args.top)

    generated = []
    if args.generate > 0:
        nxt = int(np.argmax(logits[-1]))
        pos = len(tokens)
        while True:
            generated.append(nxt)
            if len(generated) >= args.generate or (args.stop_eos and nxt == model.spec.eos):
                break
            lg = model.forward([nxt], cache, pos, want_logits="last")
            pos += 1
            nxt = int(np.argmax(lg[-1]))
        print(",".join(str(t) for t in generated))
    t2 = time.time()
    if args.show_text:
        print(f"[prompt] {model.vocab.decode(tokens)!r}", file=sys.stderr)
        if generated:
            print(f"[continuation] {model.vocab.decode(generated)!r}", file=sys.stderr)
    if args.timing:
        print(
            f"[timing] load+dequantize {tl - t0:.2f}s, prefill {t1 - tl:.2f}s ({len(tokens)} tokens), "
            f"generate {t2 - t1:.2f}s "
            f"({len(generated)} tokens); cpu: load {cl - c0:.2f}s, total {time.process_time() - c0:.2f}s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
