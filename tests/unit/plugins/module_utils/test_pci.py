"""module_utils/pci.py: the one sysfs PCI scan and the one definition of an NVIDIA GPU.

The sysfs tree is FAKE, built in tmp_path: this machine has no PCI GPU (and no NVSwitch, vGPU VF or
accelerator), so every kind of function the definition must tell apart is written as the files the
kernel shows under /sys/bus/pci/devices/<address>/. The real scan runs in test_bios_prereq's
test_module_on_this_machine (through Ansible, which ships this file with the module), in molecule
and on the GPU machine.
"""

from __future__ import annotations

import os

from ansible_collections.autoglm.provision.plugins.module_utils import pci

from tests.fixtures.sysfs import GIB, MEM64_PREF, resource, write

FUNCTIONS = {
    # address: (vendor, device, class)
    "0000:00:02.0": ("0x8086", "0x4680", "0x030000"),  # Intel iGPU: display class, not NVIDIA
    "0000:05:00.0": ("0x10de", "0x22a3", "0x068000"),  # NVSwitch (bridge, other)
    "0000:18:00.0": ("0x10de", "0x2330", "0x030200"),  # H100 SXM5: 3D controller
    "0000:19:00.0": ("0x10DE", "0x2684", "0x030000"),  # RTX 4090: VGA controller (upper-case hex)
    "0000:19:00.1": ("0x10de", "0x22ba", "0x040300"),  # its HDMI audio function
    "0000:3b:00.0": ("0x15b3", "0x101d", "0x020000"),  # ConnectX-6 Dx port
    "0000:4a:00.0": ("0x1da3", "0x1020", "0x120000"),  # Gaudi2: processing accelerator
    "0000:4b:00.0": ("0x10de", "0x0000", "0x120000"),  # NVIDIA function of class 0x1200: not bound by nvidia
    "0000:18:00.4": ("0x10de", "0x2330", "0x030200"),  # a vGPU SR-IOV VF of 0000:18:00.0
}


def fake_sysfs(root):
    for address, (vendor, device, pci_class) in FUNCTIONS.items():
        base = f"sys/bus/pci/devices/{address}/"
        write(root, base + "vendor", vendor + "\n")
        write(root, base + "device", device + "\n")
        write(root, base + "class", pci_class + "\n")
    h100 = root / "sys/bus/pci/devices/0000:18:00.0"
    write(root, "sys/bus/pci/drivers/nvidia/.keep", "")
    os.symlink(root / "sys/bus/pci/drivers/nvidia", h100 / "driver")
    write(root, "sys/bus/pci/devices/0000:18:00.0/numa_node", "0\n")
    bars = {0: (0x102002000000, 16 << 20, MEM64_PREF), 2: (0x100000000000, 128 * GIB, MEM64_PREF)}
    write(root, "sys/bus/pci/devices/0000:18:00.0/resource", resource(bars))
    os.symlink(h100, root / "sys/bus/pci/devices/0000:18:00.4/physfn")
    return root / "sys"


def test_scan_reads_every_function(tmp_path):
    devices = pci.scan(str(fake_sysfs(tmp_path)))
    assert [d["address"] for d in devices] == sorted(FUNCTIONS)
    h100 = next(d for d in devices if d["address"] == "0000:18:00.0")
    assert (h100["vendor"], h100["device"], h100["class"]) == ("0x10de", "0x2330", "0x030200")
    assert h100["driver"] == "nvidia" and h100["numa_node"] == "0" and h100["virtual_function"] is False
    assert [b["bar"] for b in h100["bars"] if b["size"]] == [0, 2]
    assert pci.nvidia_bar1(h100["bars"])["size"] == 128 * GIB  # 64-bit BAR0 takes slots 0-1
    rtx = next(d for d in devices if d["address"] == "0000:19:00.0")
    assert rtx["vendor"] == "0x10de" and rtx["driver"] is None and rtx["bars"] == []  # no resource file


def test_one_definition_of_an_nvidia_gpu(tmp_path):
    devices = pci.scan(str(fake_sysfs(tmp_path)))
    assert [d["address"] for d in devices if pci.is_nvidia_gpu(d)] == ["0000:18:00.0", "0000:19:00.0"]
    assert [d["address"] for d in devices if pci.is_nvswitch(d)] == ["0000:05:00.0"]
    assert [d["address"] for d in pci.nvidia_gpus(str(tmp_path / "sys"))] == ["0000:18:00.0", "0000:19:00.0"]


def test_display_or_accelerator_is_broader(tmp_path):
    """What bios_prereq lists as SR-IOV candidates: any vendor's display or accelerator function."""
    devices = pci.scan(str(fake_sysfs(tmp_path)))
    assert [d["address"] for d in devices if pci.is_display_or_accelerator(d)] == [
        "0000:00:02.0", "0000:18:00.0", "0000:18:00.4", "0000:19:00.0", "0000:4a:00.0", "0000:4b:00.0"]
    assert [d["address"] for d in devices if pci.is_network(d)] == ["0000:3b:00.0"]


def test_no_pci_bus_is_unknown_not_zero(tmp_path):
    assert pci.scan(str(tmp_path / "sys")) is None
    assert pci.nvidia_gpus(str(tmp_path / "sys")) is None


def test_parse_resources_skips_malformed_lines():
    text = "0x1000 0x1fff 0x40200\nnot a bar\n0x0 0x0 0x0\n"
    assert [(b["bar"], b["size"]) for b in pci.parse_resources(text)] == [(0, 0x1000), (2, 0)]
    assert pci.parse_resources(None) == []
