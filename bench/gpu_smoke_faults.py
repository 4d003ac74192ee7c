#!/usr/bin/env python3
"""Does the GPU smoke test catch each fault, every time, with the right code, and pass the healthy
GPU in the same session? Faults are injected without touching any GPU setting (no clocks, power
limits, ECC or MIG changes, no resets):

  contention   another process on the GPU: bf16 matmuls (compute), pinned host-to-device copies
               (copies), or most of the GPU's memory held (memory); real processes, real CUDA
  count        the inventory expects one GPU more than the host has (--expected-gpus)
  hidden       the count is right but CUDA_VISIBLE_DEVICES='' hides the GPUs from CUDA
  nvml         NVML-reported faults through a stand-in pynvml (bench/fault_stubs/pynvml.py) that
               forwards everything else to the real NVML: volatile uncorrectable ECC, pending row
               remap, HW slowdown, thermal slowdown at the slowdown threshold
  xid          hardware XIDs 48/79/94/95 in the kernel log, through a stand-in dmesg on PATH
  driver       /proc/driver/nvidia/version of another driver, bind-mounted in a private mount
               namespace (unshare -m): a loaded-module / library mismatch

Each fault runs --runs times; healthy runs come before and after. Prints a Markdown table and
writes every smoke JSON's verdict, codes and failures to --out.

    python3 bench/gpu_smoke_faults.py --program smoke.pyz [--runs 5] [--only compute,xid] --out faults.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STUBS = os.path.join(HERE, "fault_stubs")

INJECTORS = {
    "compute": """
import torch, time, pathlib, sys
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
for i in range(20): a @ a
torch.cuda.synchronize(); pathlib.Path(sys.argv[1]).touch()
while True:
    for i in range(20): a @ a
    torch.cuda.synchronize()
""",
    "copies": """
import torch, pathlib, sys
h = torch.ones(1 << 30, dtype=torch.uint8).pin_memory(); d = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
for i in range(4): d.copy_(h, non_blocking=True)
torch.cuda.synchronize(); pathlib.Path(sys.argv[1]).touch()
while True:
    for i in range(8): d.copy_(h, non_blocking=True)
    torch.cuda.synchronize()
""",
    "memory": """
import torch, pathlib, sys, time
free, total = torch.cuda.mem_get_info()
held = torch.empty(int(total * 0.85), dtype=torch.uint8, device="cuda")
torch.cuda.synchronize(); pathlib.Path(sys.argv[1]).touch()
while True: time.sleep(1)
""",
}

# name: (level, how, expected code)
FAULTS = {
    "healthy": ("standard", {}, None),
    "compute": ("standard", {"injector": "compute"}, "GPU_CONTENDED"),
    "copies": ("standard", {"injector": "copies"}, "GPU_CONTENDED"),
    "memory": ("standard", {"injector": "memory"}, "GPU_MEMTEST_COVERAGE_LOW"),
    "count": ("quick", {"expected_extra": 1}, "GPU_COUNT_MISMATCH"),
    # every GPU there, the inventory's count right, but CUDA_VISIBLE_DEVICES (a leftover in the
    # environment) hides one from CUDA: the torch Python, since CUDA has to look
    "hidden": ("quick", {"expected_extra": 0, "visible": "", "torch": True}, "GPU_COUNT_MISMATCH"),
    "ecc_volatile": ("quick", {"nvml": "ecc_volatile"}, "GPU_ECC_UNCORRECTABLE_VOLATILE"),
    "row_remap_pending": ("quick", {"nvml": "row_remap_pending"}, "GPU_ROW_REMAP_PENDING"),
    "hw_slowdown": ("quick", {"nvml": "hw_slowdown"}, "GPU_CLOCK_EVENT_HW_SLOWDOWN"),
    "thermal": ("quick", {"nvml": "thermal"}, "GPU_THERMAL"),
    "xid": ("quick", {"xids": "48 79 94 95"}, "GPU_XID_HW"),
    "driver": ("quick", {"driver": "550.54.15"}, "GPU_DRIVER_MISMATCH"),
}


def gpu_facts():
    out = subprocess.run(
        ["nvidia-smi", "--query-gpu=pci.bus_id", "--format=csv,noheader"], capture_output=True, text=True, check=True
    ).stdout.split()
    bus = out[0]  # 00000000:00:06.0 -> 0000:00:06, the kernel's Xid form
    return len(out), bus[-12:-2] if len(bus) >= 12 else bus


class Injector:
    """A competing process on GPU 0, started and ready (its CUDA work running) before any run."""

    def __init__(self, kind, python):
        self.ready = tempfile.mktemp(prefix="autoglm-fault-ready-")
        self.proc = subprocess.Popen([python, "-c", INJECTORS[kind], self.ready])
        deadline = time.time() + 120
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"injector {kind} did not start (rc {self.proc.poll()})")
            time.sleep(0.2)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        os.unlink(self.ready)


def command(args, level, how, count, bus, json_out):
    python = args.python
    cmd = [args.program, "--level", level, "--json-out", json_out, "--quiet"]
    if level == "quick" and args.nvml_python and not how.get("torch"):
        # NVML and kernel-log faults need no CUDA work: a Python without torch runs them in a second
        python = args.nvml_python
        cmd.append("--allow-missing-torch")
    cmd.insert(0, python)
    if "expected_extra" in how:
        cmd += ["--expected-gpus", str(count + how["expected_extra"])]
    env = dict(os.environ)
    if "visible" in how:
        env["CUDA_VISIBLE_DEVICES"] = how["visible"]
    if "nvml" in how:
        env["AUTOGLM_FAULT"] = how["nvml"]
        env["PYTHONPATH"] = STUBS + os.pathsep + env.get("PYTHONPATH", "")
    if "xids" in how:
        env.update(AUTOGLM_FAULT_XIDS=how["xids"], AUTOGLM_FAULT_BUS=bus)
        env["PATH"] = os.path.join(STUBS, "bin") + os.pathsep + env["PATH"]
    if "driver" in how:
        with open("/proc/driver/nvidia/version") as fh:
            real = fh.read()
        current = next(w for w in real.split() if w.count(".") == 2 and w.replace(".", "").isdigit())
        with tempfile.NamedTemporaryFile("w", suffix="-nvidia-version", delete=False) as fake:
            fake.write(real.replace(current, how["driver"]))
        script = 'mount --bind "$0" /proc/driver/nvidia/version && exec "$@"'
        cmd = ["unshare", "-m", "sh", "-c", script, fake.name] + cmd
    return cmd, env


def one_run(args, name, count, bus):
    level, how, expected = FAULTS[name]
    json_out = tempfile.mktemp(suffix=".json")
    cmd, env = command(args, level, how, count, bus, json_out)
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    try:
        with open(json_out) as fh:
            smoke_json = json.load(fh)
        os.unlink(json_out)
    except (OSError, ValueError):
        smoke_json = {"verdict": "no report", "failures": [proc.stderr[-500:]]}
    found = checks(smoke_json)
    codes = sorted({c.get("code") for _, c in found if c.get("code")})
    if expected is None:
        caught = smoke_json.get("verdict") == "pass"
    else:
        caught = smoke_json.get("verdict") == "fail" and expected in codes
    return {
        "fault": name,
        "expected_code": expected,
        "verdict": smoke_json.get("verdict"),
        "codes": codes,
        "caught": caught,
        "rc": proc.returncode,
        "seconds": round(time.time() - t0, 1),
        "failures": smoke_json.get("failures"),
        "figures": {g["index"]: g.get("figures") for g in smoke_json.get("gpus") or []},
        "remediation": sorted({c.get("remediation") for _, c in found if c.get("code") == expected} - {None}),
    }


def checks(smoke_json):
    out = [("host", c) for c in smoke_json.get("host_checks") or []]
    for g in smoke_json.get("gpus") or []:
        out += [(g["index"], c) for c in g.get("checks") or []]
    return out


def run_fault(args, name, count, bus):
    how = FAULTS[name][1]
    injector = Injector(how["injector"], args.python) if "injector" in how else None
    try:
        return [one_run(args, name, count, bus) for _ in range(args.runs)]
    finally:
        if injector:
            injector.stop()


def table(results):
    lines = [
        "| fault | level | expected code | caught | verdicts | codes seen | s/run |",
        "|---|---|---|---|---|---|---|",
    ]
    order = list(dict.fromkeys(r["fault"] for r in results))
    for name in order:
        rs = [r for r in results if r["fault"] == name]
        lines.append(
            "| {} | {} | {} | {}/{} | {} | {} | {:.1f} |".format(
                name,
                FAULTS[name][0],
                FAULTS[name][2] or "(pass)",
                sum(r["caught"] for r in rs),
                len(rs),
                ", ".join(sorted({str(r["verdict"]) for r in rs})),
                ", ".join(sorted({c for r in rs for c in r["codes"]})) or "-",
                sum(r["seconds"] for r in rs) / len(rs),
            )
        )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--program", required=True, help="the smoke zipapp (python -m autoglm_smoke.build OUT.pyz)")
    p.add_argument("--python", default=sys.executable, help="the Python with torch that runs it")
    p.add_argument(
        "--nvml-python",
        default=None,
        help="a Python without torch for the quick-level faults (NVML, kernel log, driver, count): no CUDA work",
    )
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--only", default=None, help="comma-separated fault names (default all): " + ", ".join(FAULTS))
    p.add_argument("--out", default=None)
    args = p.parse_args()
    names = [n for n in FAULTS if n != "healthy"]
    if args.only:
        names = [n for n in args.only.split(",") if n in FAULTS]
    count, bus = gpu_facts()
    results = []
    for name in ["healthy"] + names + ["healthy"]:
        results += run_fault(args, name, count, bus) if name != "healthy" else [one_run(args, name, count, bus)]
        print(
            f"{name}: "
            + ", ".join(f"{r['verdict']}/{'+'.join(r['codes']) or '-'}" for r in results if r["fault"] == name),
            flush=True,
        )
    print(table(results))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0 if all(r["caught"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
