import pytest

from provisioner import rundir
from provisioner.errors import UsageError


def test_create_rotate_and_resolve(tmp_path):
    runs = [rundir.create(tmp_path, keep=3) for _ in range(5)]
    for run in runs:
        (run / "report.json").write_text("{}") if run.exists() else None
    kept = rundir.list_runs(tmp_path)
    assert len(kept) == 3 and kept[-1] == runs[-1]
    assert rundir.resolve("latest", tmp_path) == runs[-1].resolve()
    assert rundir.resolve(runs[-1].name, tmp_path) == runs[-1]
    assert rundir.resolve(runs[-1].name.split("-")[-1], tmp_path) == runs[-1]
    assert rundir.resolve(str(runs[-1])) == runs[-1].resolve()
    with pytest.raises(UsageError, match="no run 'nope'"):
        rundir.resolve("nope", tmp_path)


def test_no_runs_yet(tmp_path):
    with pytest.raises(UsageError, match="no runs recorded yet"):
        rundir.resolve(None, tmp_path / "empty")


def test_keep_zero_keeps_everything(tmp_path):
    for _ in range(4):
        rundir.create(tmp_path, keep=0)
    assert len(rundir.list_runs(tmp_path)) == 4
