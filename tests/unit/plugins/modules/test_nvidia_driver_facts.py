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


def test_loaded_module_type_from_the_banner(tmp_path):
    assert facts.loaded_module_type(str(tmp_path)) is None
    _write(tmp_path, "proc/driver/nvidia/version",
           "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  Release Build\n")
    assert facts.loaded_module_type(str(tmp_path)) == "open"
    _write(tmp_path, "proc/driver/nvidia/version",
           "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024\n")
    assert facts.loaded_module_type(str(tmp_path)) == "proprietary"


def test_module_types_per_kernel_from_the_license():
    licenses = {"6.8.0-45-generic": (0, "Dual MIT/GPL\n", ""), "5.15.0-91-generic": (0, "NVIDIA\n", ""),
                "5.15.0-90-generic": (1, "", "modinfo: ERROR: Module nvidia not found."),
                "6.1.0-26-amd64": (0, "GPL\n", "")}
    assert facts.module_types(list(licenses), "nvidia", lambda cmd: licenses[cmd[2]]) == {
        "6.8.0-45-generic": "open", "5.15.0-91-generic": "proprietary", "5.15.0-90-generic": None,
        "6.1.0-26-amd64": None}


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


# /proc/keys as root sees it on the Secure Boot VM of molecule/vm (the project's test key in db).
PROC_KEYS = "\n".join(
    [
        "127b8af1 I------     1 perm 1f0b0000     0     0 keyring   .platform: 3",
        "20955c69 I------     1 perm 1f010000     0     0 asymmetri Debian Secure Boot CA: "
        "6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1: X509.rsa bb419ea1 []",
        "2b43b8c5 I------     1 perm 1f010000     0     0 asymmetri autoglm-provision test module signing key: "
        "2ca043f07504d0ed70e31e69bb1383ec8feabfcb: X509.rsa 8feabfcb []",
        "1ec880f0 I------     1 perm 1f030000     0     0 asymmetri sforshee: 00b28ddf47aef9cea7: X509.rsa []",
    ]
)


def test_kernel_key_names_reads_asymmetric_keys_only():
    assert facts.kernel_key_names(PROC_KEYS) == [
        "Debian Secure Boot CA",
        "autoglm-provision test module signing key",
        "sforshee",
    ]


def test_signature_verdicts_unsigned_trusted_untrusted_unknown():
    names = facts.kernel_key_names(PROC_KEYS)
    unsigned = facts.signature_verdict("", "", names)
    assert unsigned["signed"] is False
    assert "EKEYREJECTED" in unsigned["verdict"]
    trusted = facts.signature_verdict("autoglm-provision test module signing key", "1A:2B", names)
    assert (trusted["signed"], trusted["key_trusted"]) == (True, True)
    assert "loads under Secure Boot" in trusted["verdict"]
    foreign = facts.signature_verdict("DKMS module signing key", "3C:4D", names)
    assert (foreign["signed"], foreign["key_trusted"]) == (True, False)
    assert "rejected under Secure Boot" in foreign["verdict"]
    assert facts.signature_verdict("DKMS module signing key", "3C:4D", None)["key_trusted"] is None


def test_module_signatures_per_kernel_from_modinfo():
    answers = {
        ("-n",): (0, "/lib/modules/6.1.0-57-amd64/updates/dkms/nvidia-current.ko\n", ""),
        ("-F", "signer"): (0, "autoglm-provision test module signing key\n", ""),
        ("-F", "sig_key"): (0, "1A:2B:3C\n", ""),
    }

    def modinfo(cmd):
        if cmd[2] == "6.1.0-1-amd64":  # no module for this kernel
            return 1, "", "modinfo: ERROR: Module nvidia-current not found."
        return answers[tuple(cmd[3:-1])]

    result = facts.module_signatures(
        ["6.1.0-57-amd64", "6.1.0-1-amd64"], "nvidia-current", modinfo, ["autoglm-provision test module signing key"]
    )
    assert result["6.1.0-1-amd64"] is None
    assert result["6.1.0-57-amd64"]["file"].endswith("/updates/dkms/nvidia-current.ko")
    assert result["6.1.0-57-amd64"]["signer"] == "autoglm-provision test module signing key"
    assert result["6.1.0-57-amd64"]["key_trusted"] is True
