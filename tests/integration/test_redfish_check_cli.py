"""`autoglm-provision check` end to end against a real Redfish service on 127.0.0.1 (nothing else is
reached): sushy-emulator with libvirt's in-process test hypervisor (test:///default) and HTTP basic
auth (tests/integration/redfish_services.py), a BMC-only host with a vaulted password and this machine
in-band with the BMC password from the environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .redfish_services import BIN, PASSWORD, USER, seed, sushy_emulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """sushy-emulator on libvirt test:///default with basic auth; yields (base url, system path)."""
    with sushy_emulator(tmp_path_factory.mktemp("emu")) as emu:
        yield emu


VAULT_PASS = "vault-key-for-test-only"


def vault_encrypt(tmp_path: Path, secret: str) -> str:
    (tmp_path / "vault-pass").write_text(VAULT_PASS)
    proc = subprocess.run(
        [
            str(BIN / "ansible-vault"),
            "encrypt_string",
            "--vault-password-file",
            str(tmp_path / "vault-pass"),
            "--stdin-name",
            "bios_check_bmc_password",
        ],
        input=secret,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return proc.stdout.split(":", 1)[1]  # the "!vault |\n  $ANSIBLE_VAULT..." value


def test_check_cli_reports_bmc_verdicts_and_never_leaks_password(emulator, tmp_path):
    """`autoglm-provision check -vvv` with a BMC-only host (vaulted password) and this machine
    (in-band, BMC password from the environment): verdicts per host in report.json, the gate fails
    the BMC-only host on its disabled SR-IOV, and the password is nowhere in what the run leaves."""
    seed(emulator, {"ProcVirtualization": "Enabled", "SriovGlobalEnable": "Disabled", "MmioAbove4Gb": "Enabled"})
    inventory = tmp_path / "inventory"
    (inventory / "host_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(
        "all:\n  hosts:\n    bmc-only-node:\n      ansible_host: 192.0.2.10\n    thismachine:\n"
        f"      ansible_connection: local\n      ansible_python_interpreter: {sys.executable}\n"
    )
    (inventory / "host_vars" / "bmc-only-node.yml").write_text(
        f"bios_check_bmc_only: true\nbios_check_bmc_address: {emulator[0]}\nbios_check_bmc_username: {USER}\n"
        f"bios_check_bmc_password:{vault_encrypt(tmp_path, PASSWORD)}\n"
    )
    (inventory / "host_vars" / "thismachine.yml").write_text(
        f"bios_check_bmc_address: {emulator[0]}\nbios_check_bmc_username: {USER}\nbios_check_mandatory: [above_4g]\n"
    )
    runs = tmp_path / "runs"
    env = dict(os.environ, AUTOGLM_BMC_PASSWORD=PASSWORD)
    proc = subprocess.run(
        [
            str(BIN / "autoglm-provision"),
            "check",
            str(inventory / "hosts.yml"),
            "-vvv",
            "--plain",
            "--run-dir",
            str(runs),
            "--vault-password-file",
            str(tmp_path / "vault-pass"),
            "--tags",
            "bios_check",
            "-e",
            f"autoglm_run_dir={tmp_path / 'smoke'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    console = proc.stdout + proc.stderr
    assert proc.returncode == 1, console[-4000:]  # the BMC-only host fails its gate

    reports = list(runs.rglob("report.json"))
    assert len(reports) == 1, console[-3000:]
    hosts = json.loads(reports[0].read_text())["hosts"]
    bmc = hosts["bmc-only-node"]["facts"]["bios_check"]
    assert bmc["mode"] == "redfish" and bmc["failed_mandatory"] == ["sriov"]
    assert bmc["requirements"]["sriov"]["redfish"]["attributes"] == {"SriovGlobalEnable": "Disabled"}
    assert bmc["requirements"]["iommu"]["verdict"] == "PASS"
    local = hosts["thismachine"]["facts"]["bios_check"]
    assert local["mode"] == "in_band+redfish" and local["verdict"] == "PASS"
    assert local["requirements"]["iommu"]["source"] == "in_band"
    assert local["requirements"]["sriov"]["redfish"]["verdict"] == "FAIL"
    assert any("in-band says" in w or "not mandatory" in w for w in local["warnings"])
    assert "mandatory BIOS prerequisite(s) not met: sriov" in console

    # The planted password: nowhere in the console (-vvv), the run directory (runner artifacts,
    # report.json, JUnit), nor anything else the run wrote under the test's directory.
    assert PASSWORD not in console
    leaked = []
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "args.json":
            with contextlib.suppress(OSError):
                if PASSWORD.encode() in path.read_bytes():
                    leaked.append(str(path))
    assert leaked == []
    assert list(runs.rglob("*.xml")), "JUnit file expected in the run directory"
