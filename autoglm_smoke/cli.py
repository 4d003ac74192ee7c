"""Arguments and the entry point. Exit status: 0 host verdict pass, 1 fail, 2 usage error. The
smoke JSON is written whatever happens: an unexpected error becomes a failed 'program' check."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import traceback

from autoglm_smoke import LEVELS, NCCL_SAFE_ENV
from autoglm_smoke.checks import FAIL, PASS, check
from autoglm_smoke.collective import WORKER_FLAG, worker
from autoglm_smoke.run import run_smoke
from autoglm_smoke.smoke_json import finalize, new_smoke_json, summary_text

DESCRIPTION = "autoglm GPU smoke test: does this host's NVIDIA stack work, and is it as fast as it should be?"
EPILOG = """levels, each a superset of the one before:
  quick     driver/NVML agreement, GPU counts, per-GPU health (ECC, remapped rows, XIDs, link,
            clock-event reasons, temperature) and a matmul checked against a CPU reference
  standard  + matmul TFLOP/s, memory and PCIe bandwidth, a VRAM pattern test, each judged against
            the SKU's reference and its physical peak; P2P access and bandwidth, NCCL all-reduce
            size sweep (more than one GPU)
  burn      + sustained load for --burn-minutes on every GPU at once"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--level", choices=LEVELS, default="quick")
    p.add_argument("--expected-gpus", type=int, default=None, help="GPU count the inventory expects")
    p.add_argument(
        "--gpus",
        default=None,
        metavar="LIST",
        help="measure only these GPUs: NVML indices, UUIDs or PCI bus ids, comma-separated (default all); "
        "the others get NVML health checks only",
    )
    p.add_argument(
        "--no-require-gpu",
        dest="require_gpu",
        action="store_false",
        help="a host without NVIDIA GPU/driver passes (the inventory says it needs none)",
    )
    p.add_argument("--min-memory-gib", type=float, default=8.0)
    p.add_argument("--min-compute-capability", default="7.5")
    p.add_argument(
        "--allow-missing-torch",
        action="store_true",
        help="torch/CUDA missing is a warning, not a failure (NVML-only checks)",
    )
    p.add_argument("--require-persistence-mode", action="store_true")
    p.add_argument(
        "--no-require-ecc",
        dest="require_ecc",
        action="store_false",
        help="ECC disabled on an ECC-capable GPU warns instead of failing",
    )
    p.add_argument("--require-p2p", action="store_true", help="fail when CUDA denies peer access to any GPU pair")
    p.add_argument("--max-temperature-c", type=float, default=87.0)
    p.add_argument("--memtest-fraction", type=float, default=0.5, help="fraction of VRAM the pattern test covers")
    p.add_argument("--burn-minutes", type=float, default=10.0)
    p.add_argument(
        "--burn-tolerance",
        type=float,
        default=0.05,
        help="each burn throughput sample must be within this fraction of the median",
    )
    p.add_argument("--json-out", default=None, help="write the JSON report here ('-' for stdout)")
    p.add_argument("--quiet", action="store_true", help="no readable summary on stdout")
    opts = p.parse_args(argv)
    if not 0.0 < opts.memtest_fraction <= 0.95:
        p.error(f"--memtest-fraction must be in (0, 0.95], got {opts.memtest_fraction}")
    if not 0.0 < opts.burn_tolerance < 1.0:
        p.error(f"--burn-tolerance must be in (0, 1), got {opts.burn_tolerance}")
    if opts.burn_minutes <= 0:
        p.error(f"--burn-minutes must be > 0, got {opts.burn_minutes}")
    if opts.expected_gpus is not None and opts.expected_gpus < 0:
        p.error(f"--expected-gpus must be >= 0, got {opts.expected_gpus}")
    if not re.match(r"^\d+\.\d+$", opts.min_compute_capability):
        p.error(f"--min-compute-capability must look like 7.5, got {opts.min_compute_capability!r}")
    return opts


def crashed_smoke_json(opts, t_start, exc):
    """The smoke JSON of a run that raised: one failed check carrying the error, so the caller still
    gets JSON and a fail verdict instead of a traceback and no result."""
    smoke_json = new_smoke_json(opts)
    smoke_json["host_checks"].append(
        check(
            "program",
            FAIL,
            None,
            "runs to completion",
            f"smoke program error {type(exc).__name__}: {str(exc)[:300]}",
        )
    )
    smoke_json["environment"]["traceback"] = traceback.format_exc()[-2000:]
    return finalize(smoke_json, t_start)


def write_smoke_json(opts, smoke_json):
    text = json.dumps(smoke_json, indent=1, sort_keys=False, default=str)
    if opts.json_out == "-":
        sys.stdout.write(text + "\n")
    elif opts.json_out:
        tmp = opts.json_out + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(text + "\n")
        os.replace(tmp, opts.json_out)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    os.environ.update(NCCL_SAFE_ENV)
    if argv[:1] == [WORKER_FLAG]:
        rank, world, uuid, bus, workdir, sizes = argv[1:7]
        return worker(int(rank), int(world), uuid, bus, workdir, [int(s) for s in sizes.split(",")])
    opts = parse_args(argv)
    t_start = time.perf_counter()
    try:
        smoke_json = run_smoke(opts)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        smoke_json = crashed_smoke_json(opts, t_start, exc)
    write_smoke_json(opts, smoke_json)
    if not opts.quiet and opts.json_out != "-":
        print(summary_text(smoke_json))
    return 0 if smoke_json["verdict"] == PASS else 1
