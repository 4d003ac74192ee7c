"""BAR1, the window through which the host and peers (P2P, GPUDirect RDMA) reach GPU memory: the
size the kernel assigned (sysfs) against the size the driver reports (NVML). Above 4G Decoding in
the BIOS exists to let the firmware place this window; an unassigned or cut-down BAR1 is the proof
that the setting did not work, whatever the BIOS menu says (issue #30; docs/bios.md)."""

from __future__ import annotations

import os

from autoglm_smoke.checks import FAIL, PASS, SKIP, WARN, check

BAR1_INDEX = 1  # NVIDIA GPUs: BAR0 registers, BAR1 framebuffer window (64-bit: lines 1-2), BAR3


def sysfs_bar1_bytes(pci_bus_id, sysfs="/sys/bus/pci/devices"):
    """(size in bytes the kernel assigned to BAR1, None) or (None, why it could not be read). An
    unassigned BAR reads 0x0 0x0 in the resource file: size 0."""
    if not pci_bus_id:
        return None, "no PCI bus id"
    path = os.path.join(sysfs, pci_bus_id.lower()[-12:], "resource")
    try:
        with open(path) as fh:
            lines = fh.read().splitlines()
        start, end, _flags = (int(x, 16) for x in lines[BAR1_INDEX].split())
    except (OSError, IndexError, ValueError) as exc:
        return None, f"{path}: {exc}"
    return (end - start + 1) if end else 0, None


def nvml_bar1_bytes(nvml, handle):
    fn = getattr(nvml, "nvmlDeviceGetBAR1MemoryInfo", None)
    if fn is None:
        return None, "this NVML binding has no nvmlDeviceGetBAR1MemoryInfo"
    try:
        return fn(handle).bar1Total, None
    except Exception as exc:  # NVMLError subclasses; their str() names the NVML error
        return None, str(exc) or type(exc).__name__


def bar1_facts(nvml, handle, pci_bus_id):
    nvml_bytes, nvml_why = nvml_bar1_bytes(nvml, handle)
    sysfs_bytes, sysfs_why = sysfs_bar1_bytes(pci_bus_id)
    return {"nvml_bytes": nvml_bytes, "sysfs_bytes": sysfs_bytes, "unreadable": nvml_why or sysfs_why}


def mib(n):
    return f"{n >> 20} MiB"


def evaluate_bar1(bar1):
    """Pass when the kernel's BAR1 and the driver's agree; fail when the kernel assigned none or a
    smaller one than the driver uses; warn on any other difference (a hypervisor's view)."""
    if not bar1 or bar1.get("unreadable"):
        return check("bar1", SKIP, None, "sysfs BAR1 == NVML BAR1", "not read: " + str((bar1 or {}).get("unreadable")))
    nv, sysfs = bar1["nvml_bytes"], bar1["sysfs_bytes"]
    measured = {"nvml_mib": nv >> 20, "sysfs_mib": sysfs >> 20}
    if sysfs == 0 or sysfs < nv:
        why = "no BAR1 assigned" if sysfs == 0 else f"BAR1 {mib(sysfs)} assigned, the driver uses {mib(nv)}"
        return check(
            "bar1", FAIL, measured, "sysfs BAR1 == NVML BAR1", why + ": the firmware could not place the window"
        )
    if sysfs != nv:
        detail = f"the kernel assigned {mib(sysfs)}, NVML reports {mib(nv)}"
        return check("bar1", WARN, measured, "sysfs BAR1 == NVML BAR1", detail)
    return check("bar1", PASS, measured, "sysfs BAR1 == NVML BAR1")
