"""Processes of a run whose CLI is gone are named with the fix (issue #29, item 6)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from provisioner.state import orphans, rundir

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)


def _start_sleeper(run) -> subprocess.Popen:
    proc = subprocess.Popen(["sleep", "60"], env={**os.environ, orphans.RUN_ENV: str(run)})
    deadline = time.monotonic() + 10  # its command line is `sleep 60` once exec is done
    while time.monotonic() < deadline and not Path(f"/proc/{proc.pid}/cmdline").read_bytes().startswith(b"sleep"):
        time.sleep(0.01)
    return proc


def test_a_process_without_a_command_line_is_shown_by_its_name(tmp_path):
    """A zombie or a child between fork and exec has an empty /proc cmdline (seen in CI as "pid N ()")."""
    child = subprocess.Popen(["sleep", "0"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{child.pid}/cmdline").read_bytes():
        time.sleep(0.01)  # exits, and stays a zombie until waited for
    try:
        assert orphans.process_table()[child.pid][1] == "[sleep]"
    finally:
        child.wait()


def test_processes_of_a_killed_run_are_named_with_their_pid_and_the_fix(tmp_path):
    killed = tmp_path / "20260101T000000.000000Z-dead00"
    killed.mkdir()
    sleeper = _start_sleeper(killed)
    try:
        warnings = [w for w in orphans.leftover_warnings() if killed.name in w]
        assert len(warnings) == 1, warnings
        assert f"pid {sleeper.pid} (sleep 60)" in warnings[0] and f"kill {sleeper.pid}" in warnings[0]
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not [w for w in orphans.leftover_warnings() if killed.name in w]


def test_processes_of_a_running_run_are_no_leftovers(tmp_path):
    run = rundir.create(tmp_path)  # locked by this process, as a running CLI holds its run
    sleeper = _start_sleeper(run)
    try:
        assert not [w for w in orphans.leftover_warnings() if run.name in w]
    finally:
        sleeper.kill()
        sleeper.wait()
        rundir.release(run)


def test_status_names_the_processes_of_a_killed_run(tmp_path, monkeypatch, capsys):
    from provisioner import cli

    monkeypatch.setenv("AUTOGLM_PROVISION_STATE", str(tmp_path / "state"))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    killed = tmp_path / "20260101T000000.000000Z-dead01"
    killed.mkdir()
    sleeper = _start_sleeper(killed)
    try:
        assert cli.main(["status", str(inventory)]) == 0
    finally:
        sleeper.kill()
        sleeper.wait()
    err = capsys.readouterr().err
    assert f"warning: run {killed.name} was killed" in err and f"kill {sleeper.pid}" in err, err


def test_the_watchdog_stops_the_runs_processes_when_the_run_raises_and_spares_them_when_it_ends(tmp_path):
    def alive(proc: subprocess.Popen) -> bool:
        return proc.poll() is None

    spared = _start_sleeper(tmp_path / "run-ok")
    with orphans.Watchdog(str(tmp_path / "no-such-marker"), tmp_path / "run-ok"):
        pass
    assert alive(spared)
    spared.kill()
    spared.wait()
    doomed = _start_sleeper(tmp_path / "run-raised")
    with pytest.raises(RuntimeError), orphans.Watchdog(str(tmp_path / "no-such-marker"), tmp_path / "run-raised"):
        raise RuntimeError("runner failed")
    deadline = time.monotonic() + 5
    while alive(doomed) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(doomed), "the watchdog left a process of the failed run"


def test_a_run_names_the_processes_of_a_killed_run_in_its_warnings(tmp_path, monkeypatch, capsys):
    from provisioner import cli
    from provisioner.run import execute
    from provisioner.run.runner import RunOutcome

    monkeypatch.setenv("AUTOGLM_PROVISION_STATE", str(tmp_path / "state"))
    monkeypatch.setattr(execute, "run_playbook", lambda **kw: RunOutcome(status="successful", rc=0, duration_s=0.0))
    monkeypatch.setattr(execute, "strict_preflight", lambda *a, **k: [])
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    killed = tmp_path / "20260101T000000.000000Z-dead02"
    killed.mkdir()
    sleeper = _start_sleeper(killed)
    try:
        cli.main(["check", "--plain", str(inventory)])
    finally:
        sleeper.kill()
        sleeper.wait()
    out = capsys.readouterr().out
    assert f"WARNING: run {killed.name} was killed" in out and f"kill {sleeper.pid}" in out, out
