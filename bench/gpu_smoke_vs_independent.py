#!/usr/bin/env python3
"""Does the GPU smoke test report what the hardware does, on every GPU of a multi-GPU host, and
how much longer does it take on N GPUs than on one? In one run:

  1. independent figures for EVERY GPU, each measured alone with code that is not the program's:
     matmul with `a @ b` over rotating inputs, a 2 GiB clone, 1 GiB pinned host copies (torch, CUDA
     events on that GPU's own stream); peer copies with CuPy's cudaMemcpyPeerAsync (not torch);
     the NCCL all-reduce with NVIDIA's nccl-tests all_reduce_perf (if --nccl-tests is given);
  2. the smoke program at `standard` on all GPUs and with CUDA_VISIBLE_DEVICES=0, --repeat times,
     interleaved (wall-time ratio);
  3. the independent figures again; ratio = smoke / mean(before, after) for every figure.

    python3 bench/gpu_smoke_vs_independent.py --program smoke.pyz [--nccl-tests all_reduce_perf] \
        [--repeat 2] [--tolerance 0.05] [--out result.json]

Needs CUDA GPUs, torch, CuPy for the P2P figures. NVLink multicast stays off in every process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# NVLink multicast off in this process (before torch loads) and in every process it starts: the smoke
# program's own settings, imported from the checkout this script is in (said once, autoglm_smoke).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from autoglm_smoke import NCCL_SAFE_ENV as SAFE_ENV  # noqa: E402

os.environ.update(SAFE_ENV)

import torch  # noqa: E402


def events_time(dev, fn, seconds):
    """Back-to-back calls of fn on dev for about `seconds` after as long a warm-up: (calls, s)."""
    with torch.cuda.device(dev):
        stream = torch.cuda.current_stream(dev)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            fn()
            stream.synchronize()
        t0 = time.perf_counter()
        fn()
        stream.synchronize()
        calls = max(1, int(seconds / max(time.perf_counter() - t0, 1e-6)))
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(stream)
        for _ in range(calls):
            fn()
        end.record(stream)
        end.synchronize()
    return calls, start.elapsed_time(end) / 1000.0


def independent_gpu(i, n=8192):
    dev = torch.device("cuda", i)
    out = {}
    with torch.cuda.device(dev):
        for name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16), ("tf32", torch.float32)):
            torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
            inputs = [
                (torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype))
                for _ in range(3)
            ]
            state = {"i": 0}

            def mm(inputs=inputs, state=state):
                a, b = inputs[state["i"] % 3]
                state["i"] += 1
                return a @ b

            calls, secs = events_time(dev, mm, 1.0)
            out[f"matmul_{name}_tflops"] = 2.0 * n**3 * calls / secs / 1e12
            del inputs
        torch.backends.cuda.matmul.allow_tf32 = False
        src = torch.rand(512 << 20, device=dev)  # 2 GiB of fp32
        calls, secs = events_time(dev, lambda: src.clone(), 1.0)
        out["memory_bw_gbs"] = 2.0 * src.numel() * 4 * calls / secs / 1e9
    out.update(independent_copies(i))
    return out


def independent_copies(i, nbytes=1 << 30):
    """Pinned 1 GiB host<->device copies, five windows of a 0.2 s warm-up then 0.2 s timed each,
    the median: {"h2d_gbs", "d2h_gbs"} (plain torch; no NUMA binding, no settling rule)."""
    dev = torch.device("cuda", i)
    out = {}
    with torch.cuda.device(dev):
        host = torch.ones(nbytes, dtype=torch.uint8).pin_memory()
        buf = torch.empty(nbytes, dtype=torch.uint8, device=dev)
        for key, copy in (
            ("h2d_gbs", lambda: buf.copy_(host, non_blocking=True)),
            ("d2h_gbs", lambda: host.copy_(buf, non_blocking=True)),
        ):
            rates = []
            for _ in range(5):
                calls, secs = events_time(dev, copy, 0.2)
                rates.append(nbytes * calls / secs / 1e9)
            out[key] = statistics.median(rates)
        torch.cuda.empty_cache()
    return out


def independent_p2p(count, nbytes=256 << 20, seconds=0.3):
    """(one_way, both_ways) GB/s with CuPy's cudaMemcpyPeerAsync, wall clock over a batch."""
    try:
        import cupy  # noqa: PLC0415
    except ImportError:
        return None, None
    rt = cupy.cuda.runtime
    bufs, streams = {}, {}
    for d in range(count):
        with cupy.cuda.Device(d):
            for p in range(count):
                if p != d:
                    with contextlib.suppress(cupy.cuda.runtime.CUDARuntimeError):
                        rt.deviceEnablePeerAccess(p)
            bufs[d] = (cupy.empty(nbytes, dtype=cupy.uint8), cupy.empty(nbytes, dtype=cupy.uint8))
            streams[d] = cupy.cuda.Stream(non_blocking=True)

    def rate(jobs):
        def issue():
            for s, d in jobs:
                rt.memcpyPeerAsync(bufs[d][1].data.ptr, d, bufs[s][0].data.ptr, s, nbytes, streams[s].ptr)

        def sync():
            for s, _ in jobs:
                streams[s].synchronize()

        for _ in range(5):
            issue()
        sync()
        t0 = time.perf_counter()
        k = 0
        while time.perf_counter() - t0 < seconds:
            for _ in range(10):
                issue()
            k += 10
            sync()
        return nbytes * len(jobs) * k / (time.perf_counter() - t0) / 1e9

    one = [[None if s == d else rate([(s, d)]) for d in range(count)] for s in range(count)]
    both = [[None if s == d else rate([(s, d), (d, s)]) for d in range(count)] for s in range(count)]
    return one, both


def nccl_tests(binary, count):
    """nccl-tests' all_reduce_perf sweep: {bytes: in-place busbw GB/s} (the program's all-reduce is in place)."""
    if not binary:
        return None, ""
    cmd = [binary, "-b", "1M", "-e", "2G", "-f", "2", "-g", str(count), "-n", "20", "-w", "5"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **SAFE_ENV), check=False)
    rows = {}
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 12 and fields[0].isdigit() and fields[2] == "float":
            rows[int(fields[0])] = float(fields[11])  # in-place busbw (fields[7] is out-of-place)
    return rows, proc.stdout[-3000:]


def run_program(program, visible=None):
    env = dict(os.environ, **SAFE_ENV)
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "smoke.json")
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, program, "--level", "standard", "--quiet", "--json-out", path],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        wall = time.perf_counter() - t0
        if not os.path.exists(path):
            sys.exit(
                f"smoke program wrote no report (rc={proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
            )
        with open(path) as fh:
            return json.load(fh), wall


def ratio_row(figure, got, ref, tolerance):
    ratio = None if got is None or not ref else got / ref
    return {
        "figure": figure,
        "smoke": got,
        "independent": None if ref is None else round(ref, 2),
        "ratio": None if ratio is None else round(ratio, 4),
        "within_tolerance": ratio is not None and abs(ratio - 1.0) <= tolerance,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", required=True, help="the smoke zipapp (python -m autoglm_smoke.build OUT)")
    parser.add_argument("--nccl-tests", help="path of nccl-tests' all_reduce_perf")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--out")
    args = parser.parse_args()
    count = torch.cuda.device_count()
    before = [independent_gpu(i) for i in range(count)]
    p2p_one, p2p_both = independent_p2p(count) if count > 1 else (None, None)
    walls = {"all": [], "gpu0": []}
    reports = []
    for _ in range(args.repeat):
        rep, wall = run_program(args.program)
        reports.append(rep)
        walls["all"].append(round(wall, 2))
        if count > 1:
            _, wall1 = run_program(args.program, visible="0")
            walls["gpu0"].append(round(wall1, 2))
    ar_indep, ar_log = nccl_tests(args.nccl_tests, count) if count > 1 else (None, "")
    after = [independent_gpu(i) for i in range(count)]
    smoke = reports[-1]
    rows = []
    for i in range(count):
        figs = next(g for g in smoke["gpus"] if g.get("cuda_index") == i)["figures"]
        for key in sorted(before[i]):
            ref = statistics.mean([before[i][key], after[i][key]])
            rows.append(dict(ratio_row(key, figs.get(key), ref, args.tolerance), gpu=i))
    multi = smoke.get("multi_gpu") or {}
    if p2p_one and multi.get("p2p_oneway_gbs"):
        for s in range(count):
            for d in range(count):
                if s != d:
                    rows.append(
                        dict(
                            ratio_row(
                                f"p2p_oneway_gbs {s}->{d}", multi["p2p_oneway_gbs"][s][d], p2p_one[s][d], args.tolerance
                            ),
                            gpu=None,
                        )
                    )
                    rows.append(
                        dict(
                            ratio_row(
                                f"p2p_bidir_gbs {s}<->{d}",
                                multi["p2p_bidirectional_gbs"][s][d],
                                p2p_both[s][d],
                                args.tolerance,
                            ),
                            gpu=None,
                        )
                    )
    sweep = (multi.get("allreduce") or {}).get("sweep") or []
    if ar_indep:
        for s in sweep:
            ref = ar_indep.get(s["bytes"])
            figure = f"allreduce_busbw_gbs {s['bytes'] >> 20} MiB"
            rows.append(dict(ratio_row(figure, round(s["busbw_gbs"], 2), ref, args.tolerance), gpu=None))
    judged = rows
    ok = all(r["within_tolerance"] for r in judged)
    wall_ratio = None
    if walls["gpu0"]:
        wall_ratio = round(statistics.median(walls["all"]) / statistics.median(walls["gpu0"]), 3)
    print(
        f"{count} x {torch.cuda.get_device_name(0)}; smoke verdict {smoke['verdict']}; tolerance {args.tolerance:.0%}"
    )
    print(f"standard wall s, all GPUs {walls['all']}, GPU 0 only {walls['gpu0']}; ratio of medians {wall_ratio}")
    print(f"{'gpu':>4} {'figure':<30}{'smoke':>10}{'independent':>13}{'ratio':>8}  ok")
    for r in rows:
        print(
            f"{'' if r['gpu'] is None else r['gpu']:>4} {r['figure']:<30}{r['smoke'] or float('nan'):>10.1f}"
            f"{r['independent'] or float('nan'):>13.1f}{r['ratio'] or float('nan'):>8.3f}  "
            f"{'yes' if r['within_tolerance'] else 'NO'}"
        )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(
                {
                    "rows": rows,
                    "ok": ok,
                    "walls_s": walls,
                    "wall_ratio": wall_ratio,
                    "tolerance": args.tolerance,
                    "independent_before": before,
                    "independent_after": after,
                    "p2p_independent": [p2p_one, p2p_both],
                    "nccl_tests": ar_indep,
                    "nccl_tests_log": ar_log,
                    "smoke": smoke,
                },
                fh,
                indent=1,
                default=str,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
