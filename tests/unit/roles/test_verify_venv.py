"""roles/python_venv/files/verify_venv.py runs on the venv's own Python, which the role allows down to
3.9 (and the targets' system Pythons go down to 3.8): it is run here by the oldest interpreters this
machine has. Issue 15: it used zip(strict=), a 3.10 keyword, and a 3.9 venv failed its own verify."""

from __future__ import annotations

import glob
import json
import shutil
import subprocess

import pytest

from provisioner import paths

SCRIPT = paths.ROLES / "python_venv" / "files" / "verify_venv.py"


def _interpreter(minor: str) -> str | None:
    """An interpreter of that minor with pip (the script imports pip's vendored packaging), or None."""
    candidates = [shutil.which(f"python{minor}"), *sorted(glob.glob(f"/root/.pyenv/versions/{minor}.*/bin/python")),
                  *sorted(glob.glob(f"/usr/local/bin/python{minor}"))]
    for found in filter(None, candidates):
        probe = subprocess.run([found, "-c", f"import sys, pip; assert sys.version.startswith('{minor}.')"],
                               capture_output=True)
        if probe.returncode == 0:
            return found
    return None


@pytest.mark.parametrize("minor", ["3.8", "3.9"])
def test_verify_venv_runs_on_old_pythons(minor, tmp_path):
    python = _interpreter(minor)
    if python is None:
        pytest.skip(f"no Python {minor} with pip on this machine")
    pip_version = subprocess.run([python, "-c", "import pip; print(pip.__version__)"], capture_output=True,
                                 text=True, check=True).stdout.strip()
    lock = tmp_path / "lock.txt"
    lock.write_text(f"pip=={pip_version}\n")
    result = subprocess.run([python, str(SCRIPT), str(lock), json.dumps(["pip"]), json.dumps(["pip"])],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["python"].startswith(minor + ".") and report["errors"] == [] and report["versions"] == {
        "pip": pip_version}
