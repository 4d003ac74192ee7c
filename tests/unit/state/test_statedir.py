"""The state directory is private, as ssh keeps ~/.ssh: one another local user could write (world- or
group-writable, owned by someone else) or that is a symbolic link is refused with the path, what is
wrong and the fix (exit 2), before anything is read from it or written to it; what the CLI creates
is 0700/0600 whatever the umask."""

from __future__ import annotations

import os
import stat

import pytest

from provisioner.state import statedir
from tests.fixtures.hostile_corpus import Case
from tests.unit.test_hostile_inputs import run_case

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

GOOD = "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"


def _status(tmp_path, monkeypatch, capsys, expect):
    return run_case(Case("unsafe state dir", ["status", "{inv}"], expect, inv=GOOD), tmp_path, monkeypatch, capsys)


def _check(tmp_path, monkeypatch, capsys, expect):
    return run_case(Case("unsafe state dir", ["check", "--plain"], expect, inv=None), tmp_path, monkeypatch, capsys)


def _report(tmp_path, monkeypatch, capsys, expect):
    return run_case(Case("unsafe state dir", ["report"], expect, inv=None), tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize(("run", "where"), [(_status, ""), (_status, "hosts"), (_check, ""), (_check, "hosts"),
                                            (_check, "runs"), (_report, ""), (_report, "runs")],
                         ids=lambda x: getattr(x, "__name__", x) or "state")
def test_a_world_writable_state_directory_is_refused(run, where, tmp_path, monkeypatch, capsys):
    unsafe = tmp_path / "state" / where
    unsafe.mkdir(parents=True)
    os.chmod(unsafe, 0o777)
    result = run(tmp_path, monkeypatch, capsys, [str(unsafe), "0777", "writable", "chmod"])
    assert result["ok"], result
    assert not (tmp_path / "state" / "runs").exists() or not any((tmp_path / "state" / "runs").iterdir())


@pytest.mark.parametrize("run", [_status, _check], ids=["status", "check"])
def test_a_symlinked_state_directory_is_refused(run, tmp_path, monkeypatch, capsys):
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    (tmp_path / "state").symlink_to(real)
    result = run(tmp_path, monkeypatch, capsys, [str(tmp_path / "state"), "symbolic link", str(real)])
    assert result["ok"], result
    assert list(real.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_state_directory_of_another_user_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "state").mkdir(mode=0o700)
    os.chown(tmp_path / "state", 4321, 4321)
    result = _status(tmp_path, monkeypatch, capsys, [str(tmp_path / "state"), "owned by uid 4321", "chown"])
    assert result["ok"], result


def test_under_umask_000_everything_the_cli_creates_is_private(tmp_path, monkeypatch, capsys):
    previous = os.umask(0)
    try:
        result = run_case(Case("umask 000", ["check", "--plain"], [], inv=None), tmp_path, monkeypatch, capsys)
    finally:
        os.umask(previous)
    assert result["rc"] == 0 and not result["traceback"], result
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.lstat().st_mode)
             for p in [tmp_path / "state", *(tmp_path / "state").rglob("*")] if not p.is_symlink()}
    assert "state/hosts" in modes and any(name.endswith("report.json") for name in modes), modes
    loose = {name: oct(mode) for name, mode in modes.items()
             if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)}
    assert loose == {}, loose


def _special(path, kind):
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("kind", ["fifo", "symlink to /dev/zero"])
def test_special_files_in_the_state_directory_are_named_never_opened_blocking(kind, tmp_path):
    """A FIFO made report and status hang (and check at its end); a /dev/zero link read forever. Only
    regular files are read, non-blocking and bounded: each case is a clear error naming the file."""
    import threading

    from provisioner.results import state
    from provisioner.state.records import RecordError, read_json_object

    record = tmp_path / "hosts" / "a.json"
    _special(record, kind)
    outcome: dict = {}

    def read():
        try:
            read_json_object(record, "state of host a")
        except RecordError as exc:
            outcome["error"] = str(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), f"reading a {kind} hung"
    assert str(record) in outcome["error"] and ("FIFO" in outcome["error"] or "symbolic link" in outcome["error"])
    problems: list[str] = []
    assert state.status_rows(["a"], tmp_path, problems)[0]["last_status"] == "state unreadable" and problems
    assert state.record_run({"run_id": "r1", "action": "check", "inventory": "i", "finished": "f", "options": {},
                             "hosts": {"a": {"status": "ok", "facts": {}}}}, tmp_path)
    assert state.load_host("a", tmp_path)["last_run_id"] == "r1" and record.is_file() and not record.is_symlink()


def test_a_fifo_report_is_an_error_naming_it_not_a_hang(tmp_path, monkeypatch, capsys):
    from provisioner.state import rundir

    run = rundir.create(tmp_path / "state" / "runs", keep=0)
    rundir.release(run)
    os.mkfifo(run / "report.json")
    result = run_case(Case("fifo report", ["report", run.name], [str(run / "report.json"), "FIFO", "remove it"],
                           inv=None), tmp_path, monkeypatch, capsys)
    assert result["ok"] and result["seconds"] < 10, result


def test_an_unreadable_hosts_directory_is_a_row_and_a_problem_not_a_crash(tmp_path, monkeypatch):
    """chmod 000 hosts/ (simulated: the tests run as root, who reads every directory)."""
    from pathlib import Path

    from provisioner.results import state

    (tmp_path / "hosts").mkdir(mode=0o700)
    real_stat = Path.stat

    def stat_(self, *args, **kwargs):
        if self.parent.name == "hosts":
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat_)
    problems: list[str] = []
    rows = state.status_rows(["a"], tmp_path, problems)
    assert rows[0]["last_status"] == "state unreadable"
    assert problems and "Permission denied" in problems[0] and f"chmod 700 {tmp_path / 'hosts'}" in problems[0]


def test_lock_held_sees_a_live_holder_and_not_a_dead_one(tmp_path):
    """The one flock probe (run directories and scratch directories): held while a process keeps
    its exclusive lock, free once that process is gone; two probes never see each other."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    lock = tmp_path / ".lock"
    assert not statedir.lock_held(lock)  # no file: nobody holds it
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
                               " fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                               str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert statedir.lock_held(lock)
    finally:
        holder.kill()
        holder.wait()
    assert not statedir.lock_held(lock)
    import fcntl  # noqa: PLC0415

    with open(lock) as probing:  # another probe's shared lock, taken at the same moment
        fcntl.flock(probing, fcntl.LOCK_SH | fcntl.LOCK_NB)
        assert not statedir.lock_held(lock)
