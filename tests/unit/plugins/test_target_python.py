"""Code that runs on targets (the collection's modules and module_utils, files the roles copy to hosts,
the smoke package) must work on the oldest Python a target may bring: 3.8. Ruff lints those files
for py38 (pyproject's per-file-target-version); this test compiles them with a real Python 3.8 where
the machine has one (CI's has it through pyenv), which also catches what a linter does not parse."""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path

import pytest

import autoglm_smoke
from provisioner import paths

COLLECTION = paths.ROLES.parent
TARGET_SIDE = sorted(
    [*(COLLECTION / "plugins" / "modules").glob("*.py"), *(COLLECTION / "plugins" / "module_utils").glob("*.py"),
     *paths.ROLES.glob("*/files/**/*.py"), *Path(autoglm_smoke.__file__).parent.rglob("*.py")])


def _python38() -> str | None:
    for candidate in [shutil.which("python3.8"), *sorted(glob.glob("/root/.pyenv/versions/3.8.*/bin/python"))]:
        if candidate and subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 8)"],
                                        capture_output=True).returncode == 0:
            return candidate
    return None


def test_there_is_target_side_code_to_check():
    assert len(TARGET_SIDE) > 15, TARGET_SIDE


def test_target_side_code_compiles_on_python_3_8(tmp_path):
    python = _python38()
    if python is None:
        pytest.skip("no Python 3.8 on this machine")
    script = ("import sys\n"
              "bad = []\n"
              "for f in sys.argv[1:]:\n"
              "    try: compile(open(f, encoding='utf-8').read(), f, 'exec')\n"
              "    except SyntaxError as e: bad.append(f'{f}:{e.lineno}: {e.msg}')\n"
              "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n")
    result = subprocess.run([python, "-c", script, *map(str, TARGET_SIDE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
