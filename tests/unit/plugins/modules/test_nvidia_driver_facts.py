"""Probes of plugins/modules/nvidia_driver_facts.py against a fake sysfs/procfs tree.

Faked: the tree under tmp_path stands in for /sys and /proc of a GPU host (no GPU, EFI or NVIDIA
module exists on the CI machine). The real module runs against the real container in the Molecule
scenario (molecule/nvidia) and on the GPU machine.
"""

from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.modules import nvidia_driver_facts as facts


def _write(root: Path, rel: str, data: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def _pci(root: Path, slot: str, vendor: str, device: str, pci_class: str) -> None:
    for name, value in (("vendor", vendor), ("device", device), ("class", pci_class)):
        _write(root, f"sys/bus/pci/devices/{slot}/{name}", value + "\n")


def _no_tools(cmd):
    return 127, "", "not found"


@pytest.mark.parametrize(("value", "state"), [(1, "enabled"), (0, "disabled")])
def test_secure_boot_from_efi_variable(tmp_path, value, state):
    _write(tmp_path, facts.SECURE_BOOT_VAR, bytes([6, 0, 0, 0, value]))
    assert facts.secure_boot(str(tmp_path), _no_tools)[0] == state


def test_secure_boot_falls_back_to_mokutil(tmp_path):
    (tmp_path / "sys/firmware/efi").mkdir(parents=True)
    calls = []

    def mokutil(cmd):
        calls.append(cmd)
        return 0, "SecureBoot enabled\n", ""

    assert facts.secure_boot(str(tmp_path), mokutil) == ("enabled", "mokutil --sb-state")
    assert calls == [["mokutil", "--sb-state"]]


def test_secure_boot_without_efi_is_unsupported_and_unknown_without_evidence(tmp_path):
    assert facts.secure_boot(str(tmp_path), _no_tools)[0] == "unsupported"
    (tmp_path / "sys/firmware/efi").mkdir(parents=True)
    assert facts.secure_boot(str(tmp_path), _no_tools)[0] == "unknown"


def test_loaded_version_from_sysfs_then_procfs(tmp_path):
    assert facts.loaded_version(str(tmp_path)) is None
    _write(tmp_path, "proc/driver/nvidia/version",
           "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024\n"
           "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
    assert facts.loaded_version(str(tmp_path)) == "535.183.01"
    _write(tmp_path, "sys/module/nvidia/version", "535.261.03\n")
    assert facts.loaded_version(str(tmp_path)) == "535.261.03"


def test_loaded_version_of_open_kernel_module(tmp_path):
    _write(tmp_path, "proc/driver/nvidia/version",
           "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  Release Build\n")
    assert facts.loaded_version(str(tmp_path)) == "550.54.14"


def test_pci_devices_split_gpus_and_nvswitches(tmp_path):
    _pci(tmp_path, "0000:18:00.0", "0x10de", "0x2330", "0x030200")  # H100 SXM5 (3D controller)
    _pci(tmp_path, "0000:2a:00.0", "0x10de", "0x2330", "0x030200")
    _pci(tmp_path, "0000:05:00.0", "0x10de", "0x22a3", "0x068000")  # NVSwitch (bridge)
    _pci(tmp_path, "0000:00:02.0", "0x8086", "0x0e00", "0x060000")  # not NVIDIA
    _pci(tmp_path, "0000:19:00.1", "0x10de", "0x22ba", "0x040300")  # NVIDIA audio function
    gpus, nvswitches = facts.pci_devices(str(tmp_path))
    assert [g["slot"] for g in gpus] == ["0000:18:00.0", "0000:2a:00.0"]
    assert gpus[0]["device_id"] == "0x2330"
    assert nvswitches == 1


def test_kernels_with_headers_needs_a_makefile(tmp_path):
    _write(tmp_path, "lib/modules/6.1.0-26-amd64/build/Makefile", "")
    (tmp_path / "lib/modules/6.1.0-25-amd64/build").mkdir(parents=True)  # dangling/empty
    (tmp_path / "lib/modules/6.18.44-fc").mkdir(parents=True)
    assert facts.kernels_with_headers(str(tmp_path)) == ["6.1.0-26-amd64"]


def test_module_versions_per_kernel():
    def modinfo(cmd):
        return (0, "535.261.03\n", "") if cmd[2] == "6.1.0-26-amd64" else (1, "", "not found")

    assert facts.module_versions(["6.1.0-26-amd64", "6.1.0-25-amd64"], "nvidia-current", modinfo) == {
        "6.1.0-26-amd64": "535.261.03", "6.1.0-25-amd64": None}
