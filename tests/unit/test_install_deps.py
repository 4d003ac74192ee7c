"""scripts/install-deps.sh picks the controller's Python (3.11 to 3.13, ansible-core 2.19's range):
Debian 12's python3, Ubuntu 22.04's python3.11 from its archive when python3 is 3.10, or exactly
what to do. Run against fake interpreters and a fake apt-cache on an isolated PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-deps.sh"
# A Python 3.10 stand-in (Ubuntu 22.04's python3): answers -V, fails the version check.
PY310 = "#!/bin/sh\n[ \"$1\" = -V ] && { echo 'Python 3.10.12'; exit 0; }\nexit 1\n"


def _bin(tmp_path: Path, python3_is_310: bool = True, python311: bool = False, apt_candidate: str | None = None):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "dirname", "grep", "cat", "basename"):
        (bindir / tool).symlink_to(shutil.which(tool))
    if python3_is_310:
        (bindir / "python3").write_text(PY310)
        (bindir / "python3").chmod(0o755)
    if python311:
        (bindir / "python3.11").symlink_to(sys.executable)
    if apt_candidate is not None:
        (bindir / "apt-cache").write_text(f"#!/bin/sh\necho '{apt_candidate}'\n")
        (bindir / "apt-cache").chmod(0o755)
    return bindir


def _find(bindir: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([str(bindir / "bash"), str(SCRIPT), "--find-python"], capture_output=True, text=True,
                          env={"PATH": str(bindir), **env}, timeout=30, check=False)


def test_python311_beside_a_310_python3_is_chosen(tmp_path):
    bindir = _bin(tmp_path, python311=True)
    result = _find(bindir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bindir / "python3.11")


def test_ubuntu_2204_installs_python311_from_its_archive(tmp_path):
    bindir = _bin(tmp_path, apt_candidate="python3.11:\n  Installed: (none)\n  Candidate: 3.11.0~rc1-1~22.04")
    result = _find(bindir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "apt: python3.11 python3.11-venv"


def test_no_python_and_no_archive_candidate_says_exactly_what_to_do(tmp_path):
    result = _find(_bin(tmp_path, apt_candidate="python3.11:\n  Installed: (none)\n  Candidate: (none)"))
    assert result.returncode == 2 and result.stdout == ""
    assert "Python 3.10.12" in result.stderr and "sudo add-apt-repository universe" in result.stderr
    assert "PYTHON=/path/to/python3.11" in result.stderr


def test_explicit_python_that_is_too_old_is_refused(tmp_path):
    bindir = _bin(tmp_path, python311=True)
    result = _find(bindir, PYTHON=str(bindir / "python3"))
    assert result.returncode == 2 and "is not Python 3.11 to 3.13 (Python 3.10.12)" in result.stderr
    ok = _find(bindir, PYTHON=str(bindir / "python3.11"))
    assert ok.returncode == 0 and ok.stdout.strip() == str(bindir / "python3.11")
    assert os.access(SCRIPT, os.X_OK)
