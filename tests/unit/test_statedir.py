"""The state directory is private, as ssh keeps ~/.ssh: one another local user could write (world- or
group-writable, owned by someone else) or that is a symbolic link is refused with the path, what is
wrong and the fix (exit 2), before anything is read from it or written to it; what the CLI creates
is 0700/0600 whatever the umask."""

from __future__ import annotations

import os
import stat

import pytest

from tests.fixtures.hostile_corpus import Case
from tests.unit.test_hostile_inputs import run_case

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

