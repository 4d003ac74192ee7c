"""Real targets for the CLI's integration tests: this machine (local connection) and systemd
containers from the project's own image (scripts/build-test-image.sh), reached through podman."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("AUTOGLM_TEST_IMAGE", "localhost/autoglm-debian12:latest")
CLI = [sys.executable, "-m", "provisioner.cli"]


def podman_ready() -> bool:
    if not shutil.which("podman"):
        return False
    return subprocess.run(["podman", "image", "exists", IMAGE], check=False).returncode == 0


needs_podman = pytest.mark.skipif(not podman_ready(), reason=f"podman or image {IMAGE} missing "
                                  "(scripts/build-test-image.sh builds it)")


class Cli:
    def __init__(self, state: Path):
        self.state = state
        self.env = {**os.environ, "AUTOGLM_PROVISION_STATE": str(state), "PYTHONUNBUFFERED": "1"}

    def __call__(self, *args: str, timeout: int = 900, env: dict | None = None,
                 cwd: Path = ROOT) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], cwd=cwd, env={**self.env, **(env or {})}, text=True,
                              capture_output=True, timeout=timeout, check=False)

    def latest(self) -> Path:
        return (self.state / "runs" / "latest").resolve()

    def report(self) -> dict:
        return json.loads((self.latest() / "report.json").read_text())


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "state")


@pytest.fixture(scope="module")
def container():
    """A fresh systemd container per test module; removed afterwards."""
    name = f"autoglm-it-{secrets.token_hex(3)}"
    subprocess.run(["podman", "run", "-d", "--name", name, "--systemd=always", "--hostname", name,
                    IMAGE, "/lib/systemd/systemd"], check=True, capture_output=True)
    subprocess.run(["podman", "exec", name, "sh", "-c",
                    "for i in $(seq 50); do systemctl is-system-running --quiet 2>/dev/null && exit 0; "
                    "[ \"$(systemctl is-system-running 2>/dev/null)\" = degraded ] && exit 0; sleep 0.2; done"],
                   check=False, capture_output=True)
    yield name
    subprocess.run(["podman", "rm", "-f", "-t", "0", name], check=False, capture_output=True)


def write_inventory(path: Path, hosts: dict[str, dict], group_vars: dict | None = None) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"all": {"vars": group_vars or {}, "hosts": hosts}}, sort_keys=False))
    return path


def podman_host(name: str, **extra) -> dict:
    return {"ansible_connection": "containers.podman.podman", "ansible_host": name,
            "ansible_python_interpreter": "/usr/bin/python3", **extra}
