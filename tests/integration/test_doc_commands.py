"""The commands README.md and docs/ tell a user to type, run verbatim (issue #28 item 7).

Each test takes its commands out of the docs (tests/doc_commands.py: RUN_BY says which test runs
which command; an edited command runs as edited) and runs the doc's text with bash, where a user
would type it:
- the CLI in a user's working directory: inventory/mysite/ and inventory/ hold the sample inventory,
  .venv is this test's venv, and the state directory (AUTOGLM_PROVISION_STATE) holds one finished run
  (tests/fixtures/signoff_run.py), so `report` and `status` have something to show;
- the collection's build and offline install, and plain shell steps, in a copy of the checkout, with
  Ansible's collections path a scratch directory (nothing is installed into the user's ~/.ansible).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests import doc_commands
from tests.fixtures.signoff_run import RUN_ID, build_run

REPO = doc_commands.REPO
SAMPLE = REPO / "inventory" / "sample"
VENV = Path(sys.prefix)
CHECKOUT_IGNORE = shutil.ignore_patterns(".git", ".venv", ".cache", "__pycache__", "*.pyc", "*.tar.gz", "build",
                                         "dist", "ee-build", "*.egg-info", ".hypothesis", ".pytest_cache",
                                         ".ruff_cache")
# The fixture run failed (a host failed its gates): `report` exits with the run's code.
EXPECTED_EXIT = {"report": 1}


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(PATH=f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               AUTOGLM_PROVISION_STATE=str(tmp_path / "state"),
               ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"),
               ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH="ignore", NO_COLOR="1")
    return env


def _run(command: doc_commands.DocCommand, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command.script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def _output(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def _working_dir(tmp_path: Path, with_inventory: bool) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(VENV)
    if with_inventory:
        shutil.copytree(SAMPLE, work / "inventory")
        shutil.copytree(SAMPLE, work / "inventory" / "mysite")
    build_run(tmp_path / "state" / "runs")
    return work


def _action(command: doc_commands.DocCommand) -> str:
    words = command.key.split()
    return "site" if words[1].endswith(".yml") else words[1]


@pytest.mark.parametrize("command", doc_commands.run_by("test_cli_command_runs"), ids=str)
def test_cli_command_runs(command, tmp_path):
    action = _action(command)
    work = _working_dir(tmp_path, with_inventory=action != "init")
    proc = _run(command, work, _env(tmp_path))
    assert proc.returncode == EXPECTED_EXIT.get(action, 0), f"{command}\n{_output(proc)}"
    if action == "init":
        assert yaml.safe_load((work / "inventory/mysite/hosts.yml").read_text())["all"], _output(proc)
    if action == "report" and "--html" in command.key:
        assert "Not ready for sign-off" in (tmp_path / "state/runs" / RUN_ID / "report.html").read_text()
    if action == "report":
        assert RUN_ID in proc.stdout + proc.stderr, _output(proc)


def _checkout(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, ignore=CHECKOUT_IGNORE, symlinks=True)
    (checkout / ".venv").symlink_to(VENV)
    return checkout


def _galaxy_version() -> str:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]


@pytest.mark.parametrize("command", doc_commands.run_by("test_collection_commands_run"), ids=str)
def test_collection_commands_run(command, tmp_path):
    checkout, env = _checkout(tmp_path), _env(tmp_path)
    tarball = f"autoglm-provision-{_galaxy_version()}.tar.gz"
    if " install " in command.key:  # the doc's step before it
        build = _run(doc_commands.find("ansible-galaxy collection build ."), checkout, env)
        assert build.returncode == 0, _output(build)
    proc = _run(command, checkout, env)
    assert proc.returncode == 0, f"{command}\n{_output(proc)}"
    if " build " in command.key:
        output = checkout / ("ee-build" if "ee-build" in command.key else ".")
        assert (output / tarball).is_file(), _output(proc)
    if " install " in command.key:
        manifest = tmp_path / "collections/ansible_collections/autoglm/provision/MANIFEST.json"
        assert json.loads(manifest.read_text())["collection_info"]["version"] == _galaxy_version()
    if command.key == "mkdir -p ee-build":
        assert (checkout / "ee-build").is_dir()


def _local_inventory_is_written() -> bool:
    hosts = yaml.safe_load(Path("/tmp/local-inventory.yml").read_text())["all"]["hosts"]
    return hosts["localhost"]["ansible_connection"] == "local"


CHECKOUT_RESULTS = {  # what each shell step leaves behind
    "cp -r inventory/sample inventory/mysite": lambda c: (c / "inventory/mysite/hosts.yml").is_file(),
    "cat > /tmp/local-inventory.yml <<'INV'": lambda c: _local_inventory_is_written(),
    "python3 -m autoglm_smoke.build /tmp/smoke.pyz": lambda c: zipfile.is_zipfile("/tmp/smoke.pyz"),
}


@pytest.mark.parametrize("command", doc_commands.run_by("test_checkout_command_runs"), ids=str)
def test_checkout_command_runs(command, tmp_path):
    checkout = _checkout(tmp_path)
    proc = _run(command, checkout, _env(tmp_path))
    assert proc.returncode == 0, f"{command}\n{_output(proc)}"
    assert CHECKOUT_RESULTS.get(command.key, lambda c: True)(checkout), _output(proc)
