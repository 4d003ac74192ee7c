"""Processes of a run that outlive its CLI. Every process of a run carries ``AUTOGLM_PROVISION_RUN=<run
dir>`` in its environment (ansible-playbook, its workers in their own sessions, ssh, local modules):

- a watchdog (``python -m provisioner.state.orphans``, in a session of its own) holds the read end of a pipe
  whose write end only the CLI holds: when the CLI dies, even by ``kill -9``, the pipe reads end-of-file
  and the watchdog stops every process of the run (:func:`kill_leftovers`);
- should processes of a dead run still be alive (the watchdog killed too), :func:`leftover_warnings`
  names them, their run and what to do; ``status`` and every run print it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import rundir

RUN_ENV = "AUTOGLM_PROVISION_RUN"
DONE = b"done\n"
WATCH_MARKER, WATCH_RUN = "AUTOGLM_WATCH_MARKER", "AUTOGLM_WATCH_RUN"


def _environ_value(pid: str, name: str) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for entry in raw.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix):].decode(errors="replace")
    return None


def process_table() -> dict[int, tuple[int, str, str | None]]:
    """pid -> (parent pid, command line, the run it belongs to: its ``AUTOGLM_PROVISION_RUN``), from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        # no command line (a zombie, or a child between fork and exec): its name from stat, bracketed
        cmdline = cmdline or "[" + stat.split("(", 1)[-1].rsplit(")", 1)[0] + "]"
        table[int(entry.name)] = (ppid, cmdline, _environ_value(entry.name, RUN_ENV))
    return table


def kill_leftovers(marker: str, run: str | None = None, grace_s: float = 3.0) -> list[int]:
    """Stop every process whose command line holds ``marker`` or whose run is ``run``, and all their
    descendants. ansible-runner kills the playbook's process group, but Ansible's workers run in
    sessions of their own and would finish their task unobserved."""
    table = process_table()
    doomed = {pid for pid, (_, cmd, owner) in table.items()
              if (marker in cmd or (run is not None and owner == run)) and pid != os.getpid()}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _, _) in table.items() if ppid in doomed} - doomed
        grew = bool(children)
        doomed |= children
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(_alive(pid) for pid in doomed):
            time.sleep(0.05)
    return sorted(doomed)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped by its parent, is not running)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


class Watchdog:
    """``with Watchdog(marker, run_dir):`` the run's processes die with the CLI (see the module's doc)."""

    def __init__(self, marker: str, run: Path) -> None:
        self.marker, self.run = marker, str(run)  # in its environment: no command line holds the marker
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Watchdog:
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                                          os.environ.get("PYTHONPATH")]))}
        env.pop(RUN_ENV, None)
        env.update({WATCH_MARKER: self.marker, WATCH_RUN: self.run})
        self.proc = subprocess.Popen([sys.executable, "-m", "provisioner.state.orphans"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                     env=env)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        """The run ended: ``done`` lets the watchdog go; an exception out of the run (the playbook may
        still be running) closes the pipe without it, and the watchdog stops what is left."""
        if self.proc is None or self.proc.stdin is None:
            return
        with contextlib.suppress(OSError):
            if exc_type is None:
                self.proc.stdin.write(DONE)
            self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


def leftover_warnings() -> list[str]:
    """One line per run whose CLI is gone while processes of it still run: their pids and the fix."""
    runs: dict[str, list[tuple[int, str]]] = {}
    for pid, (_, cmd, run) in process_table().items():
        if run and pid != os.getpid() and _alive(pid):
            runs.setdefault(run, []).append((pid, cmd))
    warnings = []
    for run, procs in sorted(runs.items()):
        if rundir.is_running(Path(run)):
            continue
        named = ", ".join(f"{pid} ({cmd[:60]})" for pid, cmd in sorted(procs)[:5])
        more = f" and {len(procs) - 5} more" if len(procs) > 5 else ""
        pids = " ".join(str(pid) for pid, _ in sorted(procs))
        warnings.append(f"run {Path(run).name} was killed but {len(procs)} process(es) of it still run: pid "
                        f"{named}{more}; they may still change hosts: stop them with `kill {pids}` "
                        f"(then `kill -9 {pids}` if still there)")
    return warnings


def _watch(marker: str, run: str) -> None:
    """The watchdog: end-of-file before ``done`` means the CLI died: stop the run's processes."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if sys.stdin.buffer.read() != DONE:
        kill_leftovers(marker, run)


if __name__ == "__main__":
    _watch(os.environ[WATCH_MARKER], os.environ[WATCH_RUN])
