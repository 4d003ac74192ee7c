"""bios_prereq over sysfs/procfs trees built by tests/fixtures/sysfs (what each models is said per test).

The trees are fakes because a host whose BIOS is switched between states cannot exist here; the
real path (this machine's /sys, and the module through Ansible) runs in test_module_on_this_machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.module_utils import bios_sriov
from ansible_collections.autoglm.provision.plugins.modules import bios_prereq

from provisioner import paths
from tests.fixtures.sysfs import GIB, MEM64_PREF, build_host, resource, write

BAR0_32 = (0xAC000000, 16 << 20, 0x40200)  # a 32-bit non-prefetchable BAR0 (IORESOURCE_MEM)


def run(root: Path, log: Path, **kwargs) -> dict:
    lines = log.read_text().splitlines()
    return bios_prereq.evaluate(str(root), log_lines=lines, log_source=str(log), **kwargs)


@pytest.mark.parametrize("cpu,table,param", [("intel", "DMAR", "intel_iommu=on"), ("amd", "IVRS", "iommu=pt")])
def test_all_features_on(tmp_path, cpu, table, param):
    """Models a correctly set-up server: IOMMU table + units + groups, ConnectX VFs, H100 BAR1 at 0x2060_0000_0000."""
    out = run(tmp_path, build_host(tmp_path, cpu=cpu))
    req = out["requirements"]
    assert {k: v["verdict"] for k, v in req.items()} == {"iommu": "PASS", "sriov": "PASS", "above_4g": "PASS"}
    assert out["host"]["cpu_vendor"] == cpu
    assert any(table in e and "present" in e for e in req["iommu"]["evidence"])
    assert any(param in e for e in req["iommu"]["evidence"])
    assert req["iommu"]["details"]["iommu_groups"] == 42
    assert any("sriov_totalvfs=8" in e and "ens1f0np0" in e for e in req["sriov"]["evidence"])
    assert any("BAR1 = resource1 128 GiB @ 0x206000000000" in e and "H100 PCIe" in e
               for e in req["above_4g"]["evidence"])
    assert out["kernel_params"]["needed"] is False


@pytest.mark.parametrize(
    "cpu,table,menu", [("intel", "DMAR", "Virtualization Technology"), ("amd", "IVRS", "IOMMU Support")]
)
def test_iommu_off_in_bios(tmp_path, cpu, table, menu):
    """Models VT-d / AMD-Vi disabled in the BIOS: the firmware publishes no DMAR/IVRS table."""
    req = run(tmp_path, build_host(tmp_path, cpu=cpu, iommu="off_bios"))["requirements"]["iommu"]
    assert req["verdict"] == "FAIL" and req["cause"] == "disabled_in_firmware"
    assert any(f"{table} table: absent" in e for e in req["evidence"])
    assert "Dell Inc." in req["remediation"] and menu in req["remediation"]
    assert "GRUB" not in req["remediation"]  # a kernel parameter cannot fix a missing table


def test_iommu_off_in_kernel_intel(tmp_path):
    """Models VT-d on in the BIOS (DMAR present) with Ubuntu's default kernel (no intel_iommu=on)."""
    out = run(tmp_path, build_host(tmp_path, iommu="off_kernel"))
    req = out["requirements"]["iommu"]
    assert req["verdict"] == "FAIL" and req["cause"] == "disabled_in_kernel"
    assert any("DMAR table: present" in e for e in req["evidence"])
    assert "GRUB_CMDLINE_LINUX" in req["remediation"] and "intel_iommu=on iommu=pt" in req["remediation"]
    assert out["kernel_params"] == {
        "add": ["intel_iommu=on", "iommu=pt"],
        "remove": ["intel_iommu=off", "amd_iommu=off", "iommu=off"],
        "needed": True,
    }
    assert req["details"]["reboot_pending"] is False


def test_iommu_off_in_kernel_amd_explicit_off(tmp_path):
    """Models an AMD host with IVRS present whose command line carries amd_iommu=off."""
    req = run(tmp_path, build_host(tmp_path, cpu="amd", iommu="off_kernel", extra_cmdline="amd_iommu=off"))[
        "requirements"
    ]["iommu"]
    assert req["cause"] == "disabled_in_kernel"
    assert any("amd_iommu=off" in e for e in req["evidence"])
    assert "remove 'amd_iommu=off'" in req["remediation"]


def test_iommu_reboot_pending(tmp_path):
    """Models the state after the role staged the parameters in /etc/default/grub but before the reboot."""
    log = build_host(tmp_path, iommu="off_kernel", grub_cmdline="console=tty0 intel_iommu=on iommu=pt")
    req = run(tmp_path, log)["requirements"]["iommu"]
    assert req["verdict"] == "FAIL" and req["details"]["reboot_pending"] is True
    assert any("reboot is pending" in e for e in req["evidence"])


def test_iommu_virtual_machine_without_viommu(tmp_path):
    """Models a VM (cpuinfo 'hypervisor' flag) whose hypervisor offers no virtual IOMMU (like the H100 VM)."""
    req = run(tmp_path, build_host(tmp_path, iommu="off_bios", virtualized=True))["requirements"]["iommu"]
    assert req["cause"] == "no_virtual_iommu" and "intel-iommu" in req["remediation"]


def test_iommu_unreadable_tables_is_unknown(tmp_path):
    """Models a non-root run: /sys/firmware/acpi/tables exists but cannot be listed."""
    if os.geteuid() == 0:
        pytest.skip("root can list a mode-000 directory")
    build_host(tmp_path, iommu="off_kernel")
    (tmp_path / "sys/firmware/acpi/tables").chmod(0)
    try:
        req = bios_prereq.evaluate(str(tmp_path))["requirements"]["iommu"]
    finally:
        (tmp_path / "sys/firmware/acpi/tables").chmod(0o755)
    assert req["verdict"] == "UNKNOWN"


def test_sriov_off_in_bios(tmp_path):
    """Models SR-IOV Global Enable off: the NIC has the capability, the kernel could not size VF BARs."""
    req = run(tmp_path, build_host(tmp_path, sriov="off_bios", vendor="HPE"))["requirements"]["sriov"]
    assert req["verdict"] == "FAIL" and req["cause"] == "disabled_in_firmware"
    assert any("SR-IOV capability present" in e and "sriov_totalvfs=None" in e for e in req["evidence"])
    assert any("not enough MMIO resources for SR-IOV" in e for e in req["evidence"])
    assert "HPE" in req["remediation"] and "Virtualization Options > SR-IOV" in req["remediation"]


def test_sriov_off_in_nic_firmware(tmp_path):
    """Models a ConnectX whose own firmware has SRIOV_EN=0: no SR-IOV capability in config space."""
    req = run(tmp_path, build_host(tmp_path, sriov="off_device", vendor="Lenovo"))["requirements"]["sriov"]
    assert req["cause"] == "not_enabled"
    assert any("no SR-IOV capability" in e for e in req["evidence"])
    assert "mlxconfig" in req["remediation"] and "Devices and I/O Ports > SR-IOV" in req["remediation"]


def test_sriov_required_device_selectors(tmp_path):
    """Models a host where the inventory names devices: by interface, by short BDF, by vendor:device."""
    log = build_host(tmp_path)
    assert (
        run(tmp_path, log, sriov_devices=["ens1f1np1", "3b:00.0", "15b3:101d"])["requirements"]["sriov"]["verdict"]
        == "PASS"
    )
    req = run(tmp_path, log, sriov_devices=["ens9f0"])["requirements"]["sriov"]
    assert req["verdict"] == "FAIL" and any("ens9f0: not found" in e for e in req["evidence"])
    # The GPU is reported too and can be required: an H100 without VFs fails that requirement.
    req = run(tmp_path, log, sriov_devices=["0000:17:00.0"])["requirements"]["sriov"]
    assert req["verdict"] == "FAIL"
    assert any(e.startswith("0000:17:00.0 gpu") for e in req["evidence"])


def test_sriov_no_nic(tmp_path):
    req = run(tmp_path, build_host(tmp_path, sriov="none"))["requirements"]["sriov"]
    assert req["verdict"] == "FAIL" and req["cause"] == "no_network_function"


def test_above_4g_off(tmp_path):
    """Models Above 4G Decoding off: H100 BAR1 (128 GiB) unassigned, BAR3 squeezed below 4 GiB, NVRM 'BAR1 is 0M'."""
    req = run(tmp_path, build_host(tmp_path, above_4g="off", vendor="Supermicro"))["requirements"]["above_4g"]
    assert req["verdict"] == "FAIL" and req["cause"] == "disabled_in_firmware"
    text = "\n".join(req["evidence"])
    assert "BAR1 (128 GiB requested) was never assigned" in text
    assert "NVRM: BAR1 is 0M" in text and "BAR 1: no space for" in text and "failed to assign" in text
    assert "Above 4G Decoding = Enabled" in req["remediation"]


def test_above_4g_real_h100_layout_with_64bit_bar0(tmp_path):
    """Models the H100 SXM read on the GPU machine: 64-bit BAR0, so NVIDIA's BAR1 is sysfs resource2."""
    req = run(tmp_path, build_host(tmp_path, above_4g="on_bar0_64"))["requirements"]["above_4g"]
    assert req["verdict"] == "PASS", req
    assert any("BAR1 = resource2 128 GiB @ 0x100000000000" in e for e in req["evidence"])


def test_above_4g_bar1_too_small_and_below_4g(tmp_path):
    """Models firmware that placed a shrunken 256 MiB BAR1 of an H100 at 0xd0000000 (below 4 GiB)."""
    build_host(tmp_path, above_4g="on")
    gpu_resource = "sys/bus/pci/devices/0000:17:00.0/resource"
    write(tmp_path, gpu_resource, resource({0: BAR0_32, 1: (0xD0000000, 256 << 20, MEM64_PREF)}))
    req = bios_prereq.evaluate(str(tmp_path))["requirements"]["above_4g"]
    assert req["verdict"] == "FAIL" and any("below 4 GiB at 0xd0000000" in e for e in req["evidence"])
    write(tmp_path, gpu_resource, resource({0: BAR0_32, 1: (0x206000000000, 256 << 20, MEM64_PREF)}))
    req = bios_prereq.evaluate(str(tmp_path))["requirements"]["above_4g"]
    assert any("BAR1 is 256 MiB, smaller than the 80 GiB" in e for e in req["evidence"])
    assert any("kernel log unavailable" in e for e in req["evidence"])  # no log given: said, not hidden


def test_above_4g_unknown_card_uses_floor(tmp_path):
    """Models an NVIDIA card the table does not know (device 0x1234) with a 16 GiB BAR1 above 4 GiB."""
    build_host(tmp_path)
    write(tmp_path, "sys/bus/pci/devices/0000:17:00.0/device", "0x1234\n")
    bars = {0: BAR0_32, 1: (0x206000000000, 16 * GIB, MEM64_PREF)}
    write(tmp_path, "sys/bus/pci/devices/0000:17:00.0/resource", resource(bars))
    assert bios_prereq.evaluate(str(tmp_path))["requirements"]["above_4g"]["verdict"] == "PASS"
    req = bios_prereq.evaluate(str(tmp_path), gpu_min_bar1_mib=32768)["requirements"]["above_4g"]
    assert req["verdict"] == "FAIL" and any("smaller than the 32 GiB" in e for e in req["evidence"])


def test_above_4g_not_applicable_without_gpu(tmp_path):
    req = run(tmp_path, build_host(tmp_path, above_4g="none"))["requirements"]["above_4g"]
    assert req["verdict"] == "NOT_APPLICABLE"


def test_sriov_capability_walk_handles_loops_and_short_reads():
    assert bios_sriov.sriov_capability(b"\0" * 64) is None  # non-root read: first 64 bytes only
    assert bios_sriov.sriov_capability(b"\0" * 256) is False  # no extended config space at all
    looped = bytearray(4096)
    looped[0x100:0x104] = (0x0001 | (0x100 << 20)).to_bytes(4, "little")  # points at itself
    assert bios_sriov.sriov_capability(bytes(looped)) is False


def test_module_on_this_machine():
    """The real path: the module through Ansible against this machine's own /sys and /proc."""
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(paths.COLLECTIONS_PATH),
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
    )
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            "localhost",
            "-c",
            "local",
            "-m",
            "autoglm.provision.bios_prereq",
            "-e",
            "ansible_python_interpreter=" + sys.executable,
            "-o",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=paths.COLLECTIONS_PATH,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.split("=>", 1)[1])
    assert out["changed"] is False
    assert set(out["requirements"]) == {"iommu", "sriov", "above_4g"}
    for verdict in out["requirements"].values():
        assert verdict["verdict"] in ("PASS", "FAIL", "NOT_APPLICABLE", "UNKNOWN") and verdict["evidence"]
    # Cross-check the IOMMU verdict against what this machine's sysfs says, independently.
    has_units = bool(os.listdir("/sys/class/iommu")) if os.path.isdir("/sys/class/iommu") else False
    assert (out["requirements"]["iommu"]["verdict"] == "PASS") == has_units
