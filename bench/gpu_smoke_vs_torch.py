#!/usr/bin/env python3
"""Does the GPU smoke test report the throughput it should? Runs the smoke program's
`standard` level on GPU 0 and, in the same run, an independent measurement written here with
plain torch and CUDA events (different code: `a @ b` over rotating inputs, a 2 GiB clone, 1 GiB
pinned copies), before and after the program, and prints smoke / independent for every figure.
Passes when every ratio is within --tolerance (default 5 %): the smoke test neither under- nor
over-reports.

    python3 bench/gpu_smoke_vs_torch.py [--out result.json] [--tolerance 0.05]

Needs a CUDA GPU, torch and NVML bindings (the program's vendored copy is used if none).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

PROGRAM = Path(__file__).resolve().parents[1] / "roles" / "gpu_smoke" / "files" / "autoglm_gpu_smoke.py"


def events_time(fn, seconds: float) -> tuple[int, float]:
    """Run fn back to back for about `seconds` (after as long a warm-up); (calls, elapsed s)."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:  # warm-up: clocks and power settle, libraries load
        fn()
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    calls = max(1, int(seconds / max(time.perf_counter() - t0, 1e-6)))
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(calls):
        fn()
    end.record()
    end.synchronize()
    return calls, start.elapsed_time(end) / 1000.0


def independent(n: int = 8192) -> dict[str, float]:
    out: dict[str, float] = {}
    dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16, "tf32": torch.float32}
    for name, dtype in dtypes.items():
        torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
        inputs = [(torch.randn(n, n, device="cuda", dtype=dtype), torch.randn(n, n, device="cuda", dtype=dtype))
                  for _ in range(3)]
        state = {"i": 0}

        def mm(inputs=inputs, state=state):
            a, b = inputs[state["i"] % 3]
            state["i"] += 1
            return a @ b

        calls, secs = events_time(mm, 1.0)
        out[f"matmul_{name}_tflops"] = 2.0 * n**3 * calls / secs / 1e12
        del inputs
    torch.backends.cuda.matmul.allow_tf32 = False
    src = torch.rand(512 << 20, device="cuda")  # 2 GiB of fp32
    calls, secs = events_time(lambda: src.clone(), 1.0)
    out["memory_bw_gbs"] = 2.0 * src.numel() * 4 * calls / secs / 1e9
    nbytes = 1 << 30
    host = torch.ones(nbytes, dtype=torch.uint8).pin_memory()
    dev = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    # PCIe copies vary by several % from one second to the next (seen in the H100 VM): median of 5.
    for key, copy in (("h2d_gbs", lambda: dev.copy_(host, non_blocking=True)),
                      ("d2h_gbs", lambda: host.copy_(dev, non_blocking=True))):
        rates = []
        for _ in range(5):
            calls, secs = events_time(copy, 0.2)
            rates.append(nbytes * calls / secs / 1e9)
        out[key] = statistics.median(rates)
    torch.cuda.empty_cache()
    return out


def run_smoke() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "smoke.json")
        proc = subprocess.run([sys.executable, str(PROGRAM), "--level", "standard", "--quiet", "--json-out", path],
                              capture_output=True, text=True, check=False)
        if not os.path.exists(path):
            sys.exit(f"smoke program wrote no report (rc={proc.returncode}): {proc.stderr[-2000:]}")
        with open(path) as fh:
            return json.load(fh)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--out", help="write the comparison as JSON here")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA GPU: this benchmark needs one")

    before = independent()
    torch.cuda.empty_cache()
    report = run_smoke()
    after = independent()
    figures = report["gpus"][0]["figures"]
    rows, ok = [], True
    for key in sorted(before):
        ref = statistics.mean([before[key], after[key]])
        got = figures.get(key)
        ratio = None if got is None else got / ref
        within = ratio is not None and abs(ratio - 1.0) <= args.tolerance
        ok &= within
        rows.append({"figure": key, "smoke": got, "independent_before": round(before[key], 2),
                     "independent_after": round(after[key], 2), "ratio": None if ratio is None else round(ratio, 4),
                     "within_tolerance": within})
    print(f"GPU 0: {report['gpus'][0]['name']}; smoke verdict {report['verdict']}, level standard, "
          f"wall {report['wall_time_s']} s; tolerance {args.tolerance:.0%}")
    print(f"{'figure':<22}{'smoke':>10}{'indep. before':>15}{'indep. after':>14}{'ratio':>8}  ok")
    for r in rows:
        mark = "yes" if r["within_tolerance"] else "NO"
        print(f"{r['figure']:<22}{r['smoke'] or float('nan'):>10.1f}{r['independent_before']:>15.1f}"
              f"{r['independent_after']:>14.1f}{r['ratio'] or float('nan'):>8.3f}  {mark}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"rows": rows, "ok": ok, "tolerance": args.tolerance, "smoke": report}, fh, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
