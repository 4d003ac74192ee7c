"""The next smoke run on a host sweeps the scratch directories that killed runs left in its TMPDIR
(issue #29), through the real CLI and the local connection.

Reproduced on main (9579a6c): the host-side guard removes the scratch directory only while the
program runs; a run interrupted before it (the zipapp upload, the interpreter check, ``mktemp``) or
after it (reading the JSON back), or a host shell killed with SIGKILL, left ``autoglm-gpu-smoke.*``
in the host's TMPDIR and no later run removed it: this test's two stale directories survived the next
run. Now the run sweeps them before making its own, and names them in the smoke result; a live run's
directory (its owner shell running) and a fresh one (a concurrent run between its steps) stay.

The stale directories are made here as a killed run leaves them (owner.pid naming a shell that is
gone, or no owner.pid when killed before the program started), aged with ``os.utime``: a real one
turns stale after STALE_MINUTES, too long to wait in a test."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

AN_HOUR_AGO = time.time() - 3600


def _scratch(host_tmp, name: str, owner: int | None, aged: bool = True):
    directory = host_tmp / f"autoglm-gpu-smoke.{name}"
    directory.mkdir(mode=0o700)
    (directory / "result.json.tmp").write_text("{")
    if owner is not None:
        (directory / "owner.pid").write_text(f"{owner}\n")
    if aged:
        os.utime(directory, (AN_HOUR_AGO, AN_HOUR_AGO))
    return directory


def _gone_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_the_next_smoke_run_sweeps_killed_runs_scratch_dirs_and_names_them(cli, tmp_path):
    host_tmp = tmp_path / "host-tmp"
    host_tmp.mkdir()
    cli.env.update(TMPDIR=str(host_tmp), ANSIBLE_REMOTE_TMP=str(tmp_path / "remote-tmp"))
    python = tmp_path / "python"
    python.write_text('#!/bin/sh\nexec /usr/bin/python3 "$@"\n')
    python.chmod(0o755)
    live_shell = subprocess.Popen(["sleep", "300"])  # a long run's host shell, still running
    try:
        killed = _scratch(host_tmp, "killed", _gone_pid())
        before_program = _scratch(host_tmp, "beforeprogram", None)
        live = _scratch(host_tmp, "live", live_shell.pid)
        fresh = _scratch(host_tmp, "fresh", None, aged=False)
        result = cli("smoke", "--plain", "--level", "quick", "-e", f"gpu_smoke_python={python}",
                     "-e", "gpu_smoke_require_gpu=false")
        assert result.returncode == 0, result.stdout + result.stderr
        assert not killed.exists() and not before_program.exists(), "the stale scratch dirs were not swept"
        assert live.is_dir() and fresh.is_dir(), "a live or fresh run's scratch dir was swept"
        assert sorted(host_tmp.iterdir()) == sorted([fresh, live]), "this run's own scratch dir stayed"
        fact = cli.report()["hosts"]["localhost"]["facts"]["gpu_smoke"]
        assert sorted(fact["swept"]) == sorted([str(killed), str(before_program)])
        assert any(w.startswith("removed 2 scratch dir(s) of killed smoke runs from the host: ")
                   for w in fact["warnings"]), fact["warnings"]
    finally:
        live_shell.kill()
        live_shell.wait()
