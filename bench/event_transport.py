"""Event transport: what handing ansible-playbook's events to a caller costs the controller, by
transport, against plain ansible-playbook printing the same run.

N hosts on a local connection (no SSH, no target CPU: only the controller's own work is timed)
each run T `debug` tasks: two events per host-task (start, ok) and one per task (its start). The
same settings for all (provisioner.settings.runner_env). Variants, interleaved and repeated:

- plain:    ansible-playbook, default stdout callback, output read from a pipe and dropped;
- runner:   ansible_runner.run with runner's own awx_display callback (partial JSON file, base64
            markers on the pty, runner re-reading and re-writing each event), a no-op event handler;
- stream:   provisioner.run.runner.run_playbook, the CLI's transport (provisioner.run.events: one JSON line
            per event, followed in a thread), the same no-op sink.

Per run: wall seconds, controller CPU seconds (this process's own CPU for the in-process variants
plus its finished children's), and events. The figure: extra CPU per event against plain.

    .venv/bin/python bench/event_transport.py --hosts 10 --tasks 60 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ansible_runner  # noqa: E402

from provisioner import settings  # noqa: E402
from provisioner.plan.options import RunOptions  # noqa: E402
from provisioner.run.runner import ensure_ansible_on_path, run_playbook, runner_arguments  # noqa: E402


def cpu_now() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def write_project(root: Path, hosts: int, tasks: int) -> tuple[Path, Path]:
    (root / "playbooks").mkdir(parents=True)
    playbook = root / "playbooks" / "events.yml"
    body = "".join(f"    - name: task {n}\n      ansible.builtin.debug: {{msg: step {n}}}\n" for n in range(tasks))
    playbook.write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{body}")
    inventory = root / "hosts"
    inventory.write_text("".join(f"h{n} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
                                 for n in range(hosts)))
    return playbook, inventory


def environment(hosts: int) -> dict[str, str]:
    return settings.runner_env(hosts)  # what run_playbook uses: forks = hosts here


def run_plain(playbook: Path, inventory: Path, hosts: int, work: Path) -> int:
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                         env={**os.environ, **environment(hosts)}, capture_output=True, text=True, check=True)
    return out.stdout.count("ok: [")


def run_runner(playbook: Path, inventory: Path, hosts: int, work: Path) -> int:
    events = []
    result = ansible_runner.run(private_data_dir=str(work), project_dir=str(playbook.parent), playbook=str(playbook),
                                inventory=str(inventory), envvars=environment(hosts),
                                event_handler=lambda e: events.append(e["event"]) or False, **runner_arguments())
    assert result.rc == 0, result.rc
    return sum(e != "verbose" for e in events)


def run_stream(playbook: Path, inventory: Path, hosts: int, work: Path) -> int:
    events = []
    (work / "control").mkdir()
    outcome = run_playbook(playbook=playbook, inventory=inventory, host_count=hosts, options=RunOptions(),
                           run_id="bench", run_dir=work, control_dir=work / "control",
                           events=lambda e: events.append(e["event"]))
    assert outcome.rc == 0, outcome
    return sum(e != "verbose" for e in events)


VARIANTS = {"plain": run_plain, "runner": run_runner, "stream": run_stream}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    ensure_ansible_on_path()
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="agp-evbench-") as tmp:
        playbook, inventory = write_project(Path(tmp), args.hosts, args.tasks)
        names = list(VARIANTS)
        for rep in range(args.repeat):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for name in order:
                work = Path(tempfile.mkdtemp(dir=tmp))
                cpu, wall = cpu_now(), time.monotonic()
                events = VARIANTS[name](playbook, inventory, args.hosts, work)
                runs.append({"variant": name, "rep": rep, "wall_s": round(time.monotonic() - wall, 3),
                             "cpu_s": round(cpu_now() - cpu, 3), "events": events})
                print(json.dumps(runs[-1]), flush=True)
    summary = {}
    for name in names:
        mine = [r for r in runs if r["variant"] == name]
        summary[name] = {key: statistics.median(r[key] for r in mine) for key in ("wall_s", "cpu_s")}
        summary[name]["cpu_range_s"] = [min(r["cpu_s"] for r in mine), max(r["cpu_s"] for r in mine)]
    events = statistics.median(r["events"] for r in runs if r["variant"] == "stream")
    print(f"\nhosts {args.hosts} x tasks {args.tasks}: {events:.0f} events per run, {args.repeat} repetitions, medians")
    print(f"{'variant':8} {'wall s':>8} {'CPU s':>8} {'CPU range':>16} {'CPU / plain':>12} {'extra ms / event':>18}")
    for name in names:
        s = summary[name]
        extra = (s["cpu_s"] - summary["plain"]["cpu_s"]) / events * 1000
        print(f"{name:8} {s['wall_s']:8.2f} {s['cpu_s']:8.2f} {s['cpu_range_s'][0]:7.2f}-{s['cpu_range_s'][1]:<7.2f} "
              f"{s['cpu_s'] / summary['plain']['cpu_s']:12.3f} {extra:18.3f}")
    if args.out:
        args.out.write_text(json.dumps({"hosts": args.hosts, "tasks": args.tasks, "repeat": args.repeat,
                                        "events": events, "runs": runs, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
