#!/usr/bin/env python3
"""Inventory validation at fleet scale: `autoglm-provision validate` on generated inventories of
1,000 / 10,000 / 20,000 hosts (racks as groups, per-host ansible_host, group_vars on disk), set
against `ansible-inventory --list` parsing the same file — the cheapest thing Ansible itself does
with an inventory — in the same run.

    .venv/bin/python bench/validate_scale.py [--sizes 1000,10000] [--repeat 3]

Goal (issue: Foundation): 10,000 hosts validate in under 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provisioner.plan.validate import validate  # noqa: E402

RACK_SIZE = 100


def write_inventory(directory: Path, hosts: int) -> Path:
    lines = ["all:", "  vars:", "    ansible_user: ops", "  children:", "    gpu_hosts:", "      children:"]
    for rack in range(hosts // RACK_SIZE):
        lines += [f"        rack{rack:03d}:", "          hosts:"]
        for n in range(RACK_SIZE):
            index = rack * RACK_SIZE + n
            lines.append(f"            gpu-{index:05d}.dc.example: "
                         f"{{ansible_host: 10.{index // 65025 % 256}.{index // 255 % 255}.{index % 255 + 1}}}")
    path = directory / "hosts.yml"
    path.write_text("\n".join(lines) + "\n")
    (directory / "group_vars").mkdir(exist_ok=True)
    (directory / "group_vars" / "gpu_hosts.yml").write_text(
        "nvidia_driver_branch: '535'\nmodprobe_blacklist: [nouveau]\npreflight_data_path: /var/lib\n")
    return path


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def cpu_timed(fn, repeat: int) -> float:
    """CPU seconds of this process (far less disturbed than wall time by other load on a shared machine)."""
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        samples.append(time.process_time() - started)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,20000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ansible_inventory = Path(sys.executable).parent / "ansible-inventory"
    print(f"{'hosts':>7} {'validate (s)':>13} {'validate CPU (s)':>17} {'ansible-inventory --list (s)':>29} "
          f"{'ratio':>6}  errors  load")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_inventory(Path(tmp), size)
            result = validate(path)
            ours = timed(lambda p=path: validate(p), args.repeat)
            cpu = cpu_timed(lambda p=path: validate(p), args.repeat)
            theirs = timed(lambda p=path: subprocess.run([str(ansible_inventory), "-i", str(p), "--list"],
                                                          check=True, capture_output=True), args.repeat)
            print(f"{size:>7} {ours:>13.3f} {cpu:>17.3f} {theirs:>29.3f} {ours / theirs:>6.2f}  "
                  f"{len(result.errors):>6}  {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
