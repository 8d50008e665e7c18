#!/usr/bin/env python3
"""Turn criterion's results for `cargo bench -p retort-kernels --bench kernels` into the markdown
tables of benches/README.md.

Usage: python3 benches/report.py [CRITERION_DIR]
CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion.
GB/s = weight bytes (criterion's Throughput::Bytes) / median time, in 10^9 bytes per second.
"""

import json
import os
import sys
from pathlib import Path

TYPE_ORDER = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
              "F16", "F32"]


def load(root: Path):
    """{(op, type): {param: {impl: gb_per_s}}} and {(op, type, param): bytes}."""
    results, sizes = {}, {}
    for bench in root.glob("*/*/*/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        nbytes = (meta.get("throughput") or {}).get("Bytes")
        if nbytes is None:
            continue
        group = meta["group_id"]  # "vec_dot_Q4_0", "gemv_Q4_K"
        op = next((o for o in ("vec_dot", "gemv") if group.startswith(o + "_")), None)
        if op is None:
            continue
        ty = group[len(op) + 1:]
        param = meta["value_str"]
        gbps = nbytes / est["median"]["point_estimate"]  # bytes per ns == GB/s
        results.setdefault((op, ty), {}).setdefault(param, {})[meta["function_id"]] = gbps
        sizes[(op, ty, param)] = nbytes
    return results, sizes


def results_for(op, results):
    return [r for (o, _), by_param in results.items() if o == op for r in by_param.values()]


def param_key(p: str):
    return [int(x) for x in p.split("x")]


def fmt(v):
    return "—" if v is None else f"{v:.2f}"


def table(op, results, sizes, tiers):
    ours = [t for t in tiers if t != "generic"]
    best = ours[0] if ours else "generic"
    rows = results_for(op, results)
    has_generic = any("generic" in r for r in rows)
    cols = [best] + (["generic"] if has_generic and best != "generic" else []) + ["ggml"]
    shape = "n" if op == "vec_dot" else "rows×n"
    head = ["type", shape, "weight bytes"] + [f"{c} GB/s" for c in cols] + [f"{best}/ggml"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ty in TYPE_ORDER:
        for param in sorted(results.get((op, ty), {}), key=param_key):
            row = results[(op, ty)][param]
            ratio = row[best] / row["ggml"] if best in row and "ggml" in row else None
            cells = [ty, param.replace("x", "×"), f"{sizes[(op, ty, param)]:,}"]
            cells += [fmt(row.get(c)) for c in cols] + [fmt(ratio)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    if len(sys.argv) > 1:
        root = Path(sys.argv[1])
    else:
        root = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
    results, sizes = load(root)
    if not results:
        sys.exit(f"no criterion results under {root}")
    tiers = sorted({i for r in results.values() for p in r.values() for i in p} - {"ggml"},
                   key=lambda t: (t == "generic", t))
    for op in ("vec_dot", "gemv"):
        if any(k[0] == op for k in results):
            print(f"### {op}\n")
            print(table(op, results, sizes, tiers))
            print()


if __name__ == "__main__":
    main()
