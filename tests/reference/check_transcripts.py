#!/usr/bin/env python3
"""Checks golden greedy transcripts (tests/data/golden_*.json) against the numpy reference.

Teacher-forced: the reference reads each transcript's prompt and generated ids and reports, for
every generated position, whether Retort's token is the reference's top-1 there, and if not, by
how many logits the reference prefers its own choice. Run it after re-blessing the transcripts
(`RETORT_BLESS=1 cargo test --test golden_transcript`); disagreements with small margins are
near-ties that activation quantization may tip, large ones mean a bug.

    python3 tests/reference/check_transcripts.py [tests/data/golden_smollm2.json ...]
"""

import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# Catalog names of the transcripts' models -> file names (models/catalog.toml).
FILES = {
    "smollm2-135m-instruct-q4_1": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3-270m-q4_k_m": "gemma-3-270m-q4_k_m.gguf",
    "qwen2.5-coder-0.5b-instruct-q4_k_m": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
}


def models_dir() -> Path:
    home = os.environ.get("RETORT_HOME")
    if home:
        return Path(home) / "models"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "retort" / "models"


def reference_logits(model: Path, ids: list[int], last: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "logits.bin"
        subprocess.run(
            [sys.executable, str(HERE / "forward.py"), "--model", str(model),
             "--tokens", ",".join(map(str, ids)), "--out", str(out), "--last", str(last)],
            check=True,
        )
        b = out.read_bytes()
    n_pos, n_vocab = struct.unpack("<II", b[:8])
    return np.frombuffer(b[8:], dtype=np.float32).reshape(n_pos, n_vocab)


def check(path: Path) -> int:
    golden = json.loads(path.read_text())
    model = models_dir() / FILES[golden["model"]]
    disagreements = 0
    for t in golden["transcripts"]:
        gen = t["generated_ids"]
        ids = t["prompt_ids"] + gen
        logits = reference_logits(model, ids[:-1], len(gen))
        for i, tok in enumerate(gen):
            top = int(logits[i].argmax())
            if top != tok:
                disagreements += 1
                margin = float(logits[i][top] - logits[i][tok])
                print(f"{path.name} {t['prompt']!r}: token {i}: ours {tok}, reference {top} "
                      f"(reference margin {margin:.3f} logits)")
    print(f"{path.name}: {disagreements} disagreement(s)")
    return disagreements


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or sorted((HERE.parent / "data").glob("golden_*.json"))
    for p in paths:
        check(p)


if __name__ == "__main__":
    main()
