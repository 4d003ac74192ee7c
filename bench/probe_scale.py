#!/usr/bin/env python3
"""Reachability pre-flight at fleet scale: the Ansible-connection pre-flight (provisioner.run.preflight) on
N real sshd containers (tests/integration/sshd_targets.py), then on 10x as many inventory names
cycling over the same containers (each name is its own Ansible host; connections to one address share
an SSH ControlMaster, as hosts behind one address would).

    .venv/bin/python bench/probe_scale.py [--containers 20] [--names 20,200] [--repeat 2]

Needs podman and the project's test image (scripts/build-test-image.sh).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provisioner.inventory.inventory import read_inventory  # noqa: E402
from provisioner.plan.options import RunOptions  # noqa: E402
from provisioner.run.preflight import probe_with_ansible  # noqa: E402
from provisioner.run.scratch import Scratch  # noqa: E402
from tests.integration.sshd_targets import SshdFleet  # noqa: E402


def write_inventory(path: Path, fleet: SshdFleet, names: int) -> Path:
    lines = ["all:", "  vars:", "    ansible_user: root", f"    ansible_ssh_private_key_file: {fleet.key}",
             f"    ansible_ssh_common_args: '-o UserKnownHostsFile={fleet.known_hosts}'", "  hosts:"]
    lines += [f"    node{i:04d}: {{ansible_host: {fleet.hosts[i % len(fleet.hosts)].address}}}" for i in range(names)]
    path.write_text("\n".join(lines) + "\n")
    return path


def controller_cpu_s() -> float:
    """CPU seconds of this process and its finished children (ansible-playbook, its forks, ssh clients):
    the controller's share; the sshd containers are podman's children, not ours."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--names", default="20,200")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SshdFleet("agp-probe-bench", Path(tmp)) as fleet:
        started = time.monotonic()
        fleet.start(args.containers)
        print(f"{args.containers} sshd containers up in {time.monotonic() - started:.1f} s; "
              f"controller CPUs: {os.cpu_count()}")
        print(f"{'hosts':>6} {'containers':>10} {'median s':>9} {'runs (s)':>20} {'ctl CPU s':>10} "
              f"{'CPU ms/host':>11} {'not ok':>6}  load")
        for names in (int(n) for n in args.names.split(",")):
            inv = read_inventory(write_inventory(Path(tmp) / f"hosts{names}.yml", fleet, names))
            samples, cpu, bad = [], [], 0
            for _ in range(args.repeat):
                began, cpu_before = time.monotonic(), controller_cpu_s()
                with Scratch() as scratch:
                    results = probe_with_ansible(inv, list(inv.hosts), RunOptions(), scratch)
                samples.append(time.monotonic() - began)
                cpu.append(controller_cpu_s() - cpu_before)
                bad = sum(not r.ok for r in results)
            print(f"{names:>6} {args.containers:>10} {statistics.median(samples):>9.1f} "
                  f"{', '.join(f'{s:.1f}' for s in samples):>20} {statistics.median(cpu):>10.1f} "
                  f"{1000 * statistics.median(cpu) / names:>11.0f} {bad:>6}  {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
