"""Replay a recorded run with ansible-runner, into a new directory: the original stays evidence.

    python -m provisioner.replay RUN [DEST]     (RUN: a run directory, or an id under the runs dir)

A run directory's ``runner/`` is ansible-runner's private data dir (env/envvars with the collections
path, env/extravars with ``autoglm_run_dir``). Replaying it in place would write new artifacts
beside the old ones and the smoke results over the recorded ones, so the replay copies ``runner/``
to DEST (default ``<RUN>.replay-<UTC time>``), points ``autoglm_run_dir`` at DEST and runs there:

    ansible-runner run DEST/runner --project-dir <collection> -p playbooks/<action>.yml \\
        --inventory <inventory> --ident replay
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from . import paths
from .errors import EXIT_USAGE

PLAYBOOKS = {"site": "playbooks/site.yml", "check": "playbooks/check.yml", "smoke": "playbooks/smoke.yml"}


def prepare(run: Path, dest: Path | None = None) -> tuple[Path, list[str]]:
    """Copy the run's runner dir to DEST and return (DEST, the ansible-runner command)."""
    report = json.loads((run / "report.json").read_text(encoding="utf-8"))
    action = report.get("action")
    if action not in PLAYBOOKS:
        raise ValueError(f"{run}: report.json names no playbook action ({action!r})")
    if not (run / "runner" / "env").is_dir():
        raise ValueError(f"{run}: no runner/env directory (not a run directory of autoglm-provision)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = (dest or run.with_name(f"{run.name}.replay-{stamp}")).absolute()
    if dest.exists():
        raise ValueError(f"{dest}: exists; the replay goes to a new directory")
    dest.mkdir(parents=True)
    shutil.copytree(run / "runner" / "env", dest / "runner" / "env")
    extravars_file = dest / "runner" / "env" / "extravars"
    extravars = json.loads(extravars_file.read_text(encoding="utf-8") or "{}")
    extravars["autoglm_run_dir"] = str(dest)  # smoke results and anything else the run writes go here
    extravars_file.write_text(json.dumps(extravars), encoding="utf-8")
    inventory = run / "inventory.yml" if (run / "inventory.yml").is_file() else Path(report["inventory"])
    command = [str(Path(sys.executable).parent / "ansible-runner"), "run", str(dest / "runner"),
               "--project-dir", str(paths.COLLECTION), "-p", PLAYBOOKS[action],
               "--inventory", str(inventory), "--ident", "replay"]
    return dest, command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioner.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run directory, or a run id under the runs directory")
    parser.add_argument("dest", nargs="?", type=Path, help="where the replay goes (a new directory)")
    parser.add_argument("--print-only", action="store_true", help="prepare DEST and print the command only")
    args = parser.parse_args(argv)
    run = Path(args.run) if Path(args.run).is_dir() else paths.runs_dir() / args.run
    try:
        dest, command = prepare(run.resolve(), args.dest)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(" ".join(command))
    if args.print_only:
        return 0
    # ansible-runner starts ansible-playbook from PATH: the one beside this interpreter first.
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(command, check=False, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
