import subprocess
import sys
import textwrap

import pytest

from provisioner.errors import UsageError
from provisioner.state import rundir
from provisioner.state.records import RecordError


def finished(run):
    (run / "report.json").write_text("{}")
    rundir.mark_latest(run)
    rundir.release(run)
    return run


def test_create_rotate_and_resolve(tmp_path):
    runs = [finished(rundir.create(tmp_path, keep=3)) for _ in range(5)]
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
        finished(rundir.create(tmp_path, keep=0))
    assert len(rundir.list_runs(tmp_path)) == 4


@pytest.mark.parametrize("keep", [-1, -50])
def test_negative_keep_is_refused_before_anything_is_deleted(tmp_path, keep):
    finished(rundir.create(tmp_path, keep=0))
    with pytest.raises(UsageError, match="--keep-runs"):
        rundir.create(tmp_path, keep=keep)
    assert len(rundir.list_runs(tmp_path)) == 1


def test_rotation_never_deletes_a_running_run(tmp_path):
    running = rundir.create(tmp_path, keep=1)  # still held by this process: running
    second = finished(rundir.create(tmp_path, keep=1))
    third = finished(rundir.create(tmp_path, keep=1))
    assert running.is_dir(), "the running run was rotated away"
    assert not second.exists() and third.is_dir()
    rundir.release(running)
    rundir.rotate(tmp_path, 1)
    assert not running.exists()


def test_lock_held_by_another_process_counts_as_running_until_it_dies(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from provisioner.state import rundir
        run = rundir.create(Path({str(tmp_path)!r}), keep=0)
        print(run, flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        run = __import__("pathlib").Path(child.stdout.readline().strip())
        assert rundir.is_running(run)
        with pytest.raises(RecordError, match="still running"):
            rundir.resolve(run.name, tmp_path)
        assert rundir.rotate(tmp_path, 1) == [] or run.exists()
        finished(rundir.create(tmp_path, keep=1))
        assert run.is_dir()
    finally:
        child.kill()  # kill -9: the kernel drops the lock
        child.wait()
    assert not rundir.is_running(run)
    with pytest.raises(RecordError, match="killed before writing one"):
        rundir.resolve(run.name, tmp_path)


def test_latest_only_moves_to_runs_with_a_report(tmp_path):
    done = finished(rundir.create(tmp_path, keep=0))
    crashed = rundir.create(tmp_path, keep=0)
    rundir.mark_latest(crashed)  # no report.json: latest stays
    assert rundir.resolve("latest", tmp_path) == done.resolve()


def test_run_dir_naming_a_file_or_uncreatable_is_a_usage_error(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        rundir.create(a_file)
    with pytest.raises(UsageError, match="cannot be created"):
        rundir.create(a_file / "sub")
