#!/usr/bin/env python3
"""Does the GPU smoke test pass a healthy GPU every time, cold or warm, and do its figures agree
with an independent measurement taken in the same session?

  - --runs `standard` runs on the healthy GPU: the even ones after --idle seconds with nothing on
    the GPU (a fresh host's cold GPU: clocks and the PCIe link at idle), the odd ones right after
    the run before (back to back); every --cli-every-th run through the CLI (`autoglm-provision
    smoke --level standard` on this machine), the others through the program itself;
  - the independent figures (bench/gpu_smoke_vs_independent.py's `independent_gpu`: other code,
    other sizes, 1 GiB pinned copies) in a process of their own at the start and at the end, never
    while the smoke test runs (a process on the GPU is a fault the smoke test reports);
  - with --paired, the independent host copies (`independent_copies`) in a process of their own
    right after every run: the host-to-device rate of the lent machines moved between measurements
    a few seconds apart, so each run's copy figures are judged against the pair taken with them;
  - a verdict per run, and every figure of every run against the median of the independent ones
    (the copy figures against their pair, with --paired).

    python3 bench/gpu_smoke_false_fails.py --program smoke.pyz [--runs 10] [--idle 30] \
        [--cli 'autoglm-provision smoke --level standard --plain ...'] [--cli-every 5] [--paired] --out ff.json
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = ("matmul_fp16_tflops", "matmul_bf16_tflops", "matmul_tf32_tflops", "memory_bw_gbs", "h2d_gbs", "d2h_gbs")
COPIES = ("h2d_gbs", "d2h_gbs")
INDEPENDENT = (
    "import json, sys; sys.path.insert(0, {here!r}); import gpu_smoke_vs_independent as m; "
    "print(json.dumps(m.{function}(0)))"
)


def independent(python, function="independent_gpu"):
    out = subprocess.run(
        [python, "-c", INDEPENDENT.format(here=HERE, function=function)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def program_run(args):
    path = tempfile.mktemp(suffix=".json")
    proc = subprocess.run(
        [args.python, args.program, "--level", "standard", "--json-out", path, "--quiet"],
        capture_output=True,
        text=True,
    )
    return proc.returncode, path


def cli_run(args):
    """The CLI against this machine, its state in a directory of its own; the smoke JSON it kept."""
    state = tempfile.mkdtemp(prefix="autoglm-ff-state-")
    env = dict(os.environ, AUTOGLM_PROVISION_STATE=state)
    proc = subprocess.run(shlex.split(args.cli), env=env, capture_output=True, text=True)
    found = sorted(glob.glob(os.path.join(state, "runs", "*", "smoke", "*.json")))
    if not found:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-2000:])
    return proc.returncode, found[-1] if found else os.path.join(state, "missing.json")


def one(args, i):
    cold = i % 2 == 0
    if cold:
        time.sleep(args.idle)
    via = "cli" if args.cli and args.cli_every and i % args.cli_every == args.cli_every - 1 else "program"
    t0 = time.time()
    rc, path = cli_run(args) if via == "cli" else program_run(args)
    try:
        with open(path) as fh:
            smoke_json = json.load(fh)
    except (OSError, ValueError):
        smoke_json = {"verdict": "no report", "gpus": []}
    gpu = (smoke_json.get("gpus") or [{}])[0]
    remeasured = [c["name"] for c in gpu.get("checks", []) if c.get("remeasured")]
    pair = independent(args.python, "independent_copies") if args.paired else None
    return {
        "run": i + 1,
        "start": "cold" if cold else "back-to-back",
        "via": via,
        "rc": rc,
        "verdict": smoke_json.get("verdict"),
        "failures": smoke_json.get("failures"),
        "remeasured": remeasured,
        "figures": {k: gpu.get("figures", {}).get(k) for k in FIGURES},
        "host_copies": gpu.get("host_copies"),
        "independent_copies": pair,
        "seconds": round(time.time() - t0, 1),
    }


def pair_ratios(runs):
    """Each run's copy figures over the independent pair taken right after it."""
    out = {}
    for k in COPIES:
        paired = [r for r in runs if r["figures"].get(k) and r["independent_copies"]]
        got = [r["figures"][k] / r["independent_copies"][k] for r in paired]
        if got:
            out[k] = {"pairs": len(got), "min_ratio": round(min(got), 3), "max_ratio": round(max(got), 3),
                      "worst_ratio": round(max(got, key=lambda x: abs(x - 1)), 3)}
    return out


def ratios(runs, reference):
    out = {}
    for k in FIGURES:
        vals = [r["figures"][k] for r in runs if r["figures"].get(k)]
        if vals and reference.get(k):
            out[k] = {
                "smoke_min": min(vals),
                "smoke_max": max(vals),
                "independent": round(reference[k], 2),
                "worst_ratio": round(max(vals, key=lambda v: abs(v / reference[k] - 1)) / reference[k], 3),
            }
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--program", required=True)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--idle", type=float, default=30.0)
    p.add_argument("--cli", default=None, help="the CLI command line of a smoke run on this machine")
    p.add_argument("--cli-every", type=int, default=5)
    p.add_argument("--paired", action="store_true", help="independent host copies right after every run")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    before = independent(args.python)
    runs = []
    for i in range(args.runs):
        runs.append(one(args, i))
        r = runs[-1]
        print(
            json.dumps({k: r[k] for k in ("run", "start", "via", "verdict", "remeasured", "seconds")}),
            r["figures"],
            flush=True,
        )
    after = independent(args.python)
    reference = {k: statistics.median([before[k], after[k]]) for k in FIGURES if k in before and k in after}
    result = {"runs": runs, "independent": [before, after], "figures": ratios(runs, reference)}
    if args.paired:
        result["paired_copies"] = pair_ratios(runs)
        for k, v in result["paired_copies"].items():  # the pair, not the start/end median, judges these
            result["figures"][k]["worst_ratio"] = v["worst_ratio"]
            print(f"{k} against its pair: {v['pairs']} pairs, ratio {v['min_ratio']}-{v['max_ratio']}")
    fails = [r for r in runs if r["verdict"] != "pass"]
    print(f"false fails: {len(fails)} of {len(runs)}")
    for k, v in result["figures"].items():
        print(
            f"{k}: smoke {v['smoke_min']}-{v['smoke_max']}, independent {v['independent']}, "
            f"worst ratio {v['worst_ratio']}"
        )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)
    return 1 if fails or any(abs(v["worst_ratio"] - 1) > 0.05 for v in result["figures"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
