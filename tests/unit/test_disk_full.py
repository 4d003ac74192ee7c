"""A full disk (ENOSPC), a quota (EDQUOT) or a read-only file system (EROFS) while the CLI writes its
run directory or state: the path and what to free are named, exit 3 (EXIT_TOOL_ERROR), the runs
already there stay intact, and no temporary file is left behind (issue #29, item 8)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from provisioner import cli
from provisioner.errors import EXIT_TOOL_ERROR, DiskFullError
from provisioner.run import execute
from provisioner.run.runner import RunOutcome
from provisioner.state import records
from tests.fixtures.tmpfs import fill, mounted_tmpfs

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

NOTHING_RAN = RunOutcome(status="successful", rc=0, duration_s=0.0)  # the playbook is stubbed out
INVENTORY = "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"


@pytest.fixture
def small_tmpfs(tmp_path):
    with mounted_tmpfs(tmp_path / "fs", "size=200k,mode=0700") as mount:
        yield mount


def _check(tmp_path, monkeypatch, capsys, state: Path, playbook=lambda **kw: NOTHING_RAN) -> tuple[int, str]:
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    monkeypatch.setenv("AUTOGLM_PROVISION_STATE", str(state))
    monkeypatch.setattr(execute, "run_playbook", playbook)
    monkeypatch.setattr(execute, "strict_preflight", lambda *a, **k: [])
    rc = cli.main(["check", "--plain", str(tmp_path / "hosts.yml")])
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_a_full_disk_names_the_path_and_keeps_the_runs_there(small_tmpfs, tmp_path, monkeypatch, capsys):
    state = small_tmpfs / "state"
    rc, text = _check(tmp_path, monkeypatch, capsys, state)
    assert rc == 0, text
    first = sorted(p.name for p in (state / "runs").iterdir())
    report = (state / "runs" / "latest" / "report.json").read_bytes()
    fill(small_tmpfs)
    rc, text = _check(tmp_path, monkeypatch, capsys, state)
    assert rc == EXIT_TOOL_ERROR, text
    assert "internal error" not in text and "no space left" in text.lower(), text
    assert str(state / "runs") in text and "free" in text, text
    assert sorted(p.name for p in (state / "runs").iterdir()) == first, "a run directory was left or removed"
    assert (state / "runs" / "latest" / "report.json").read_bytes() == report
    assert [str(p) for p in small_tmpfs.rglob("*.tmp")] == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS], ids=errno.errorcode.get)
def test_a_failed_record_write_names_the_file_keeps_the_old_one_and_leaves_no_temp_file(tmp_path, monkeypatch, code):
    record = tmp_path / "report.json"
    record.write_text("old\n")

    def fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(records.os, "fsync", fsync)
    with pytest.raises(DiskFullError) as caught:
        records.atomic_write_text(record, "new\n")
    assert str(record) in str(caught.value) and "free" in str(caught.value), caught.value
    assert caught.value.exit_code == EXIT_TOOL_ERROR
    assert record.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_disk_that_fills_during_the_run_names_the_report_and_moves_nothing(small_tmpfs, tmp_path, monkeypatch,
                                                                              capsys):
    state = small_tmpfs / "state"
    assert _check(tmp_path, monkeypatch, capsys, state)[0] == 0
    latest = (state / "runs" / "latest").resolve()
    rc, text = _check(tmp_path, monkeypatch, capsys, state, playbook=lambda **kw: fill(small_tmpfs) or NOTHING_RAN)
    assert rc == EXIT_TOOL_ERROR and "internal error" not in text, text
    assert "report" in text and "no space left" in text.lower() and "free" in text, text
    assert (state / "runs" / "latest").resolve() == latest and (latest / "report.json").is_file()
    assert [str(p) for p in small_tmpfs.rglob("*.tmp")] == []


def test_a_full_disk_during_the_playbook_leaves_its_events_flowing_and_names_the_output_file(small_tmpfs):
    from provisioner.run.runner import OutputArtifact

    fill(small_tmpfs)
    seen: list[dict] = []
    with OutputArtifact(small_tmpfs / "stdout", seen.append) as printed:
        for index in range(50):
            printed({"event": "verbose", "stdout": f"line {index} " + "x" * 4000})
    assert len(seen) == 50
    assert printed.error and str(small_tmpfs / "stdout") in printed.error, printed.error
