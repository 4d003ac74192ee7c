"""A full file system on the host (a 200 KiB tmpfs, filled): autoglm.provision.autoglm_smoke_run, run by
Ansible on this machine (local connection), names the path and what to free, for the zipapp's upload
(Ansible's remote_tmp) and for the program's JSON report (the scratch directory in the host's TMPDIR)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioner import paths
from tests.fixtures.tmpfs import fill, mounted_tmpfs

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

ARGS = {"interpreter": sys.executable, "timeout": 120, "args": ["--level", "quick", "--no-require-gpu"]}


@pytest.fixture
def full_tmpfs(tmp_path):
    with mounted_tmpfs(tmp_path / "full") as mount:
        fill(mount)
        yield mount


def _smoke_run(tmp_path: Path, **env: str) -> dict:
    """The action's result (ansible's one-line output of the ad-hoc task)."""
    environ = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(paths.ensure_collections_path()),
               "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.oneline",
               "ANSIBLE_LOCAL_TEMP": str(tmp_path / "controller-tmp"), **env}
    done = subprocess.run([str(Path(sys.executable).parent / "ansible"), "localhost", "-c", "local",
                           "-m", "autoglm.provision.autoglm_smoke_run", "-a", json.dumps(ARGS)],
                          capture_output=True, text=True, env=environ, timeout=300, check=False)
    assert done.returncode == 2, done.stdout + done.stderr  # the task failed
    return json.loads(done.stdout.split("=>", 1)[1])


def test_a_full_remote_tmp_names_the_path_and_what_to_free(full_tmpfs, tmp_path):
    result = _smoke_run(tmp_path, ANSIBLE_REMOTE_TMP=str(full_tmpfs / "remote-tmp"))
    assert result["msg"].startswith(f"cannot send the GPU smoke program to {full_tmpfs}/remote-tmp/ansible-tmp-")
    assert f"(the host's file system of {full_tmpfs}/remote-tmp/ansible-tmp-" in result["msg"]
    assert "is full: free space there, or set remote_tmp (ansible_remote_tmp) to another one)" in result["msg"]
    assert list((full_tmpfs / "remote-tmp").iterdir()) == [], "the remote temporary directory stayed"


def test_a_full_scratch_file_system_names_the_report_and_what_to_free(full_tmpfs, tmp_path):
    remote_tmp = tmp_path / "remote-tmp"
    remote_tmp.mkdir()
    result = _smoke_run(tmp_path, ANSIBLE_REMOTE_TMP=str(remote_tmp), TMPDIR=str(full_tmpfs))
    assert result["msg"].startswith(f"the GPU smoke program wrote no JSON report (the host's file system of "
                                    f"{full_tmpfs} is full: free space there): cat: {full_tmpfs}/autoglm-gpu-smoke.")
    assert result["msg"].endswith("; the program said: OSError: [Errno 28] No space left on device")
    assert sorted(p.name for p in full_tmpfs.iterdir()) == ["ballast"], "the scratch directory stayed"
    assert list(remote_tmp.iterdir()) == []
