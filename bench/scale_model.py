#!/usr/bin/env python3
"""Scale on paper: from the controller CPU per host-task that fleet_scale.py measured, how many hosts
one controller drives per minute at a given fork count and core count.

    .venv/bin/python bench/scale_model.py /var/tmp/agp-fleet-bench/results.json [--variant product]

The model (the arithmetic is printed with the table):
- a host-task costs the controller ``c`` CPU seconds (measured: median over the variant's runs of
  controller CPU / host-tasks); ``P`` cores deliver at most ``P / c`` host-tasks per second;
- a host-task keeps one fork busy for ``L`` seconds of wall time on a real host (network round trips
  plus the module's run there; measured here as the targets' CPU per host-task, a lower bound, and
  taken as ``--task-latency`` for real hosts); ``F`` forks deliver at most ``F / L`` host-tasks per
  second;
- a host needs ``T`` host-tasks (measured: the run's host-tasks / N);
- hosts per minute = 60 x min(P / c, F / L) / T. The controller is the bottleneck when P / c < F / L.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

FORKS = (20, 50, 200)
CORES = (8, 32)


def measured(results: list[dict], variant: str) -> tuple[float, float, float, int]:
    """(controller CPU s per host-task, targets' CPU s per host-task, host-tasks per host, runs)."""
    runs = [r for r in results if r["variant"] == variant and r["host_tasks"]]
    if not runs:
        raise SystemExit(f"no runs of variant {variant!r} in the results")
    cpu = statistics.median(r["controller_cpu_s"] / r["host_tasks"] for r in runs)
    targets = [r["targets_cpu_s"] / r["host_tasks"] for r in runs if r.get("targets_cpu_s") is not None]
    per_host = statistics.median(r["host_tasks"] / r["n"] for r in runs)
    return cpu, statistics.median(targets) if targets else float("nan"), per_host, len(runs)


def table(c: float, latency: float, tasks_per_host: float) -> str:
    lines = ["| cores P | forks F | controller limit P/c (host-tasks/s) | fork limit F/L (host-tasks/s) "
             "| bound | hosts per minute |", "|---:|---:|---:|---:|---|---:|"]
    for cores in CORES:
        for forks in FORKS:
            cpu_rate, fork_rate = cores / c, forks / latency
            rate = min(cpu_rate, fork_rate)
            lines.append(f"| {cores} | {forks} | {cpu_rate:.0f} | {fork_rate:.0f} "
                         f"| {'controller CPU' if cpu_rate < fork_rate else 'forks'} "
                         f"| {60 * rate / tasks_per_host:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="fleet_scale.py's results.json")
    parser.add_argument("--variant", default="product", help="whose CPU per host-task (default: product)")
    parser.add_argument("--task-latency", type=float, default=0.5,
                        help="L: wall seconds one host-task holds a fork on a real host (default 0.5)")
    args = parser.parse_args()
    data = json.loads(args.results.read_text())
    c, targets, per_host, runs = measured(data["results"], args.variant)
    print(f"variant {args.variant}: {runs} runs; c = {1000 * c:.1f} ms controller CPU per host-task; "
          f"targets' CPU {1000 * targets:.1f} ms per host-task; T = {per_host:.0f} host-tasks per host; "
          f"L = {args.task_latency} s")
    print(f"hosts per minute = 60 x min(P / {c:.4f}, F / {args.task_latency}) / {per_host:.0f}\n")
    print(table(c, args.task_latency, per_host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
