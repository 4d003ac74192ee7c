"""No secret at rest or in `ps`: distinct secrets planted through every channel (-e key=value,
-e YAML mapping, -e @vaulted-file, the -K and --ask-vault-pass prompts, the environment, a vaulted
inventory variable) never appear in the run directory, ~/.ansible or any process's command line,
during the run or after it; report.json names the secret-looking -e variables with their values
redacted."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import time
from pathlib import Path

import pexpect
import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from provisioner.run import scratch

from .conftest import ROOT

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

VAULT_PASSWORD = "vaultpw-prompted-5b1e"
SECRETS = {
    "-e key=value": "kv-token-91c2d7",
    "-e mapping": "map-password-44f0aa",
    "-e @vaulted file": "file-secret-c3d9e1",
    "-K prompt": "become-prompted-7a2f60",
    "--ask-vault-pass prompt": VAULT_PASSWORD,
    "environment": "env-secret-e81b3c",
    "inventory vault": "inventory-vault-0d4f8b",
}


def _vault(text: str) -> str:
    return VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))]).encrypt(text).decode()


def _files_holding(root: Path, needles: dict[str, str]) -> list[str]:
    hits = []
    for path in root.rglob("*") if root.exists() else []:
        try:
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
        except OSError:
            continue
        else:
            hits += [f"{channel} in {path}" for channel, needle in needles.items()
                     if path.is_file() and needle.encode() in data]
    return hits


def _command_lines_holding(needles: dict[str, str], typed_by_the_user: int) -> list[str]:
    """Secrets in any command line but the CLI's own (what the operator typed: the CLI warns about it)."""
    hits = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == typed_by_the_user:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        hits += [f"{channel} in the command line of pid {entry.name}" for channel, needle in needles.items()
                 if needle.encode() in cmdline]
    return hits


def test_secrets_from_every_channel_stay_off_disk_and_out_of_ps(tmp_path):
    home, state = tmp_path / "home", tmp_path / "state"
    home.mkdir()
    vaulted = tmp_path / "secrets.yml"
    vaulted.write_text(_vault(f"site_file_secret: {SECRETS['-e @vaulted file']}\n"))
    inventory = tmp_path / "hosts.yml"
    cipher = "\n".join("          " + line for line in _vault(SECRETS["inventory vault"]).splitlines())
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
                         f"      ansible_python_interpreter: {sys.executable}\n"
                         f"      ansible_become_password: !vault |\n{cipher}\n")
    mapping = json.dumps({"site_db": {"password": SECRETS["-e mapping"]}})
    env = {**os.environ, "HOME": str(home), "AUTOGLM_PROVISION_STATE": str(state), "PYTHONUNBUFFERED": "1",
           "AUTOGLM_TEST_API_TOKEN": SECRETS["environment"],
           # one absolute async dir for the smoke test's async job and its status poll (HOME is moved)
           "ANSIBLE_ASYNC_DIR": str(home / ".ansible_async")}
    args = ["-m", "provisioner.cli", "check", str(inventory), "--plain", "-K", "--ask-vault-pass",
            "-e", f"site_api_token={SECRETS['-e key=value']}", "-e", mapping, "-e", f"@{vaulted}",
            "-e", "gpu_smoke_require_gpu=false", "-e", "preflight_storage_read_test=false"]
    child = pexpect.spawn(sys.executable, args, cwd=str(ROOT), env=env, encoding="utf-8", timeout=60)
    child.expect("BECOME password:")
    child.sendline(SECRETS["-K prompt"])
    child.expect("Vault password:")
    child.sendline(SECRETS["--ask-vault-pass prompt"])
    hits: set[str] = set()
    scratch_modes: set[tuple[int, int]] = set()
    output = ""
    deadline = time.monotonic() + 300
    while child.isalive() and time.monotonic() < deadline:
        hits.update(_command_lines_holding(SECRETS, child.pid))
        hits.update(_files_holding(state, SECRETS))
        hits.update(_files_holding(home / ".ansible", SECRETS))
        hits.update(_files_holding(home / ".ansible_async", SECRETS))
        for directory in scratch.root().glob(f"{scratch.PREFIX}*"):
            for path in directory.glob("extra-vars-*.json"):
                with contextlib.suppress(OSError):
                    scratch_modes.add((stat.S_IMODE(directory.stat().st_mode), stat.S_IMODE(path.stat().st_mode)))
        try:
            child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=0.2)
            output += child.before or ""
        except pexpect.ExceptionPexpect:
            break
    child.close()
    output += child.before or ""
    assert child.exitstatus in (0, 1), output  # this machine may not qualify; the run itself must work
    report_file = next((state / "runs").glob("*/report.json"))
    report = json.loads(report_file.read_text())
    assert report["hosts"]["localhost"]["ok"] > 0, output
    # -e gpu_smoke_require_gpu=false (key=value) reached Ansible as a boolean false: no GPU is fine
    host = report["hosts"]["localhost"]
    assert host["facts"].get("gpu_smoke", {}).get("verdict") == "pass", (sorted(host["facts"]), host["failures"])
    # the run used the secrets (vault decrypted with the prompted password), and kept them to itself
    assert "vault" not in " ".join(f["message"] for f in report["hosts"]["localhost"]["failures"]).lower(), output
    hits.update(_files_holding(state, SECRETS))
    hits.update(_files_holding(home / ".ansible", SECRETS))
    assert sorted(hits) == [], "\n".join(sorted(hits))
    assert not any(SECRETS[c] in output for c in SECRETS if c != "environment"), "a secret was echoed"
    assert scratch_modes and scratch_modes <= {(0o700, 0o600)}, scratch_modes
    assert "site_api_token=<redacted>" in report["options"]["extra_vars"]
    assert any("-e site_api_token: a secret-looking value on the command line" in w for w in report["warnings"])
    assert any("-e password: a secret-looking value" in w for w in report["warnings"])
    assert json.loads(report["options"]["extra_vars"][1]) == {"site_db": {"password": "<redacted>"}}
    assert f"@{vaulted}" in report["options"]["extra_vars"]
    env_files = sorted(p.name for p in (report_file.parent / "runner" / "env").iterdir())
    assert env_files == ["settings"], f"runner wrote its env/ files (passwords): {env_files}"
