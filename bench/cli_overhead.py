"""The CLI's own overhead on one host: `smoke --level quick` and `check` through the CLI against this
machine (no inventory: a local connection, as users run them), old tree against new, interleaved.

Each variant is a source tree: the working tree (`new`) and a git revision exported with
`git archive` (`old`, default HEAD~1... give --old REV). Every run is a fresh process,
`python -m provisioner.cli ACTION --plain ...` with the tree first on PYTHONPATH (so ansible-playbook,
started by the CLI, also imports that tree's autoglm_smoke) and its own state directory. The
runs alternate old, new, old, new ... so a drift in the machine's speed falls on both.

Per run: wall seconds (monotonic clock around the whole process), CPU seconds of the process and
all it waited for (user + system, from wait4), the CLI's exit status, and from the run directory:
the smoke program's own wall time (`smoke/localhost.json`), the storage read test's seconds
(check), and the seconds of each task (the events' timestamps). The CLI's overhead = wall minus
the program's wall time (and, for check, minus the storage test, which is a measurement too).

Without a GPU the program takes ~0.1 s; `--program-seconds S` puts a fake interpreter in front of
the distro's python3 (it sleeps S, then runs the program), so the cost of waiting for a program of
a GPU's length is seen as well (the old code polled it every 2 s).

    .venv/bin/python bench/cli_overhead.py --old ef806e9 --repeat 5 --out /tmp/cli_overhead.json
    .venv/bin/python bench/cli_overhead.py --old ef806e9 --repeat 5 --actions smoke --program-seconds 5
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACTIONS = {
    "smoke": ["smoke", "--plain", "--level", "quick"],
    "check": ["check", "--plain"],
}


def export_tree(rev: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def fake_interpreter(directory: Path, seconds: float) -> Path:
    path = directory / "python-after-sleep"
    path.write_text(f'#!/bin/sh\nsleep {seconds}\nexec /usr/bin/python3 "$@"\n')
    path.chmod(0o755)
    return path


def task_seconds(run_dir: Path) -> dict[str, float]:
    """Seconds from each task's start to its last result, from the run's events."""
    files = glob.glob(str(run_dir / "runner" / "artifacts" / "*" / "events.jsonl"))
    if not files:
        return {}
    started: dict[str, float] = {}
    spent: dict[str, float] = {}
    for line in Path(files[0]).read_text().splitlines():
        event = json.loads(line)
        when = datetime.datetime.fromisoformat(event["created"]).timestamp()
        task = event.get("event_data", {}).get("task")
        if event["event"] == "playbook_on_task_start":
            started[task] = when
        elif event["event"].startswith("runner_on_") and task in started and event["event"] != "runner_on_start":
            spent[task] = round(when - started[task], 3)
    return spent


def one_run(tree: Path, action: str, state: Path, extra: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "AUTOGLM_PROVISION_STATE": str(state), "PYTHONUNBUFFERED": "1"}
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "provisioner.cli", *ACTIONS[action], *extra], cwd=tree, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    run_dir = (state / "runs" / "latest").resolve()
    report = json.loads((run_dir / "report.json").read_text())
    smoke_file = run_dir / "smoke" / "localhost.json"
    program = json.loads(smoke_file.read_text())["wall_time_s"] if smoke_file.exists() else None
    facts = report["hosts"]["localhost"]["facts"]
    storage = (facts.get("preflight", {}).get("measurements", {}) or {}).get("storage") or {}
    tasks = task_seconds(run_dir)
    storage_task = next((s for t, s in tasks.items() if "storage" in t.lower()), None)
    return {"wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "exit": proc.returncode,
            "program_wall_s": program, "storage_task_s": storage_task,
            "storage_read_s": storage.get("read_seconds"), "tasks": len(tasks), "task_seconds": tasks,
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def summary(runs: list[dict], key: str) -> str:
    values = [r[key] for r in runs if r[key] is not None]
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", default="HEAD~1", help="git revision of the old tree (exported with git archive)")
    p.add_argument("--new", default="", help="git revision of the new tree (default: the working tree)")
    p.add_argument("--actions", default="smoke,check")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--program-seconds", type=float, default=0.0,
                   help="run the smoke program behind an interpreter that sleeps this long first")
    p.add_argument("--out", default="")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="autoglm-cli-overhead."))
    trees = {"old": export_tree(args.old, work / "old"),
             "new": export_tree(args.new, work / "new") if args.new else ROOT}
    extra: list[str] = []
    if args.program_seconds:
        extra = ["-e", f"gpu_smoke_python={fake_interpreter(work, args.program_seconds)}"]
    results: dict = {"old": args.old, "new": args.new or "working tree", "cpus": os.cpu_count(),
                     "program_seconds": args.program_seconds, "runs": []}
    for action in args.actions.split(","):
        for n in range(args.repeat + 1):  # the first pair warms the caches and is not counted
            for variant in (("old", "new") if n % 2 == 0 else ("new", "old")):
                run = one_run(trees[variant], action, work / f"state-{variant}", extra)
                run.update(action=action, variant=variant, repetition=n, counted=n > 0)
                results["runs"].append(run)
                print(f"{action} {variant} #{n}: {run['wall_s']:.2f} s wall, {run['cpu_s']:.2f} s CPU, "
                      f"exit {run['exit']}, program {run['program_wall_s']} s", file=sys.stderr, flush=True)
    print(f"{os.cpu_count()} CPUs; old = {args.old}, new = {results['new']}; program seconds {args.program_seconds}")
    print("| action | variant | runs | wall s | CPU s | tasks | program s | storage test s | new/old wall (pairs) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for action in args.actions.split(","):
        counted = [r for r in results["runs"] if r["action"] == action and r["counted"]]
        old = [r for r in counted if r["variant"] == "old"]
        new = [r for r in counted if r["variant"] == "new"]
        ratios = [b["wall_s"] / a["wall_s"] for a, b in zip(old, new, strict=True)]
        for name, runs in (("old", old), ("new", new)):
            ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})" if name == "new" else ""
            print(f"| {action} | {name} | {len(runs)} | {summary(runs, 'wall_s')} | {summary(runs, 'cpu_s')} | "
                  f"{summary(runs, 'tasks')} | {summary(runs, 'program_wall_s')} | {summary(runs, 'storage_task_s')} "
                  f"| {ratio} |")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
