"""Architecture specs for the reference forward pass: GGUF metadata -> hyper-parameters and options.

Every number comes from the GGUF metadata; what a family does differently (rope layout, norms,
activation, window pattern) is data here, so forward.py holds one transformer block for all of them.
Conventions follow what llama.cpp does with these GGUF files (see README.md for the sources):

- llama:  rope NORM (rotate adjacent pairs (2i, 2i+1)); llama.cpp's converter permutes Q/K rows of HF
          checkpoints so that this is right. SwiGLU. No biases in SmolLM2 (used if present).
- qwen2:  rope NEOX (rotate (i, i + n_rot/2)); Q/K/V biases; SwiGLU.
- gemma3: rope NEOX; embeddings * sqrt(d_model); pre+post norms around attention and FFN; RMS QK-norm
          per head before rope; GELU (tanh approximation) gated FFN; query scaled by
          1/sqrt(head_dim) (1/sqrt(d_model/n_head) for the 62-layer 27B, as llama.cpp);
          layers with il % 6 < 5 use the sliding window and rope base 10000, the others
          (5, 11, 17, ...) are global and use `gemma3.rope.freq_base`.
          The GGUF norm weights already hold (1 + w): the converter adds the 1, so RMSNorm multiplies
          by the stored weight as is.
"""

from dataclasses import dataclass, field
import math

ROPE_NORM = "norm"  # pairs (2i, 2i+1)
ROPE_NEOX = "neox"  # pairs (i, i + n_rot/2)


@dataclass
class Spec:
    """Hyper-parameters and per-family options of one model."""

    arch: str
    n_layer: int
    d_model: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int  # key length == value length for these families
    n_rot: int
    eps: float
    n_vocab: int
    rope_style: str
    rope_base: list = field(default_factory=list)  # per layer
    window: list = field(default_factory=list)  # per layer: 0 = full causal, else sliding window
    act: str = "silu"  # "silu" or "gelu_tanh"
    embed_scale: float = 1.0
    attn_scale: float = 1.0  # multiplies q.k
    qk_norm: bool = False
    post_norms: bool = False
    final_softcap: float = 0.0  # 0 = none: logits = cap * tanh(logits / cap) otherwise
    bos: int = -1
    eos: int = -1


def _get(fields, key, default=None):
    v = fields.get(key)
    if v is None:
        if default is None:
            raise KeyError(f"GGUF metadata has no `{key}`")
        return default
    return v


def _per_layer(v, n_layer):
    if isinstance(v, list):
        if len(v) != n_layer:
            raise ValueError(f"per-layer array of length {len(v)} for {n_layer} layers")
        return list(v)
    return [v] * n_layer


def spec_from_fields(fields, n_vocab):
    """Build the Spec from the GGUF metadata (key -> value); n_vocab from the output matrix."""
    arch = _get(fields, "general.architecture")
    p = arch + "."
    n_layer = int(_get(fields, p + "block_count"))
    d_model = int(_get(fields, p + "embedding_length"))
    n_ff = int(_get(fields, p + "feed_forward_length"))
    n_head = _per_layer(_get(fields, p + "attention.head_count"), n_layer)
    n_head_kv = _per_layer(_get(fields, p + "attention.head_count_kv", n_head), n_layer)
    if len(set(n_head)) != 1 or len(set(n_head_kv)) != 1:
        raise NotImplementedError("per-layer head counts are not supported by this reference")
    n_head, n_head_kv = int(n_head[0]), int(n_head_kv[0])
    head_dim = int(_get(fields, p + "attention.key_length", d_model // n_head))
    v_dim = int(_get(fields, p + "attention.value_length", head_dim))
    if v_dim != head_dim:
        raise NotImplementedError("value_length != key_length")
    n_rot = int(_get(fields, p + "rope.dimension_count", head_dim))
    eps = float(_get(fields, p + "attention.layer_norm_rms_epsilon"))
    base = float(_get(fields, p + "rope.freq_base", 10000.0))
    scaling = fields.get(p + "rope.scaling.type")
    if scaling is not None and scaling != "none":
        raise NotImplementedError(f"rope scaling {scaling!r} is not supported")
    if p + "rope.scale_linear" in fields and float(_get(fields, p + "rope.scale_linear")) != 1.0:
        raise NotImplementedError("linear rope scaling is not supported")

    s = Spec(
        arch=arch,
        n_layer=n_layer,
        d_model=d_model,
        n_ff=n_ff,
        n_head=n_head,
        n_head_kv=n_head_kv,
        head_dim=head_dim,
        n_rot=n_rot,
        eps=eps,
        n_vocab=n_vocab,
        rope_style=ROPE_NORM,
        rope_base=[base] * n_layer,
        window=[0] * n_layer,
        attn_scale=1.0 / math.sqrt(head_dim),
        bos=int(_get(fields, "tokenizer.ggml.bos_token_id", -1)),
        eos=int(_get(fields, "tokenizer.ggml.eos_token_id", -1)),
    )

    if arch == "llama":
        s.rope_style = ROPE_NORM
    elif arch == "qwen2":
        s.rope_style = ROPE_NEOX
    elif arch == "gemma3":
        s.rope_style = ROPE_NEOX
        s.act = "gelu_tanh"
        # ggml scales the f32 embedding rows by sqrtf(n_embd) computed in f32.
        s.embed_scale = float(_f32(math.sqrt(d_model)))
        s.qk_norm = True
        s.post_norms = True
        # llama.cpp: 1/sqrt(n_embd_head_k), except the 27B (62 layers): 1/sqrt(n_embd / n_head).
        if n_layer == 62:
            s.attn_scale = 1.0 / math.sqrt(d_model // n_head)
        else:
            s.attn_scale = 1.0 / math.sqrt(head_dim)
        n_swa = int(_get(fields, p + "attention.sliding_window"))
        pattern = fields.get(p + "attention.sliding_window_pattern")
        if isinstance(pattern, list):
            is_swa = [bool(x) for x in pattern]
        else:
            period = int(pattern) if pattern is not None else 6
            is_swa = [(il % period) < (period - 1) for il in range(n_layer)]
        # Local (sliding) layers use rope base 10000; global layers the file's freq_base.
        s.window = [n_swa if w else 0 for w in is_swa]
        s.rope_base = [10000.0 if w else base for w in is_swa]
        # Gemma 3 has no softcapping; if a file carries a final cap, apply it (as HF would).
        s.final_softcap = float(_get(fields, p + "final_logit_softcapping", 0.0))
    else:
        raise NotImplementedError(f"architecture {arch!r} is not supported by this reference")
    return s


def _f32(x):
    import numpy as np

    return np.float32(x)
