"""Host facts that need no NVML: the PCI bus, the loaded kernel module, the kernel log's XIDs."""

from __future__ import annotations

import functools
import os
import re
import subprocess
from types import ModuleType


@functools.lru_cache(maxsize=None)  # not functools.cache: the program runs on Python 3.8 targets
def pci_module() -> ModuleType:
    """The collection's plugins/module_utils/pci.py (the one definition of an NVIDIA GPU), found on first
    use, not at import time. Never through provisioner or an Ansible collection loader: the program
    stands alone wherever it is."""
    try:
        # The zipapp and the installed package: autoglm_smoke.build (and the wheel's build) put the
        # collection's pci.py here.
        from autoglm_smoke._bundled import pci  # noqa: PLC0415

        return pci
    except ImportError:
        pass
    # The program inside the collection (the checkout, an installed collection): the same file, next
    # to this package, loaded by its path.
    import importlib.util  # noqa: PLC0415

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins", "module_utils",
                        "pci.py")
    spec = importlib.util.spec_from_file_location("autoglm_smoke._collection_pci", path)
    pci = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pci)
    return pci


# XIDs that indicate hardware/firmware trouble (NVIDIA's XID catalogue); others (13, 31, 43,
# 45...) are usually caused by applications and only warn.
HARDWARE_XIDS = {
    48: "double-bit ECC error",
    56: "display engine error",
    57: "video memory interface programming",
    58: "unstable video memory interface",
    61: "micro-controller breakpoint",
    62: "micro-controller halt",
    64: "row-remap/page-retirement recording failure",
    74: "NVLink error",
    79: "GPU fell off the bus",
    92: "high single-bit ECC rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
    121: "C2C link error",
    140: "unrecovered ECC error",
}
XID_RE = re.compile(r"NVRM: Xid \(PCI:([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2})[^)]*\): (\d+)(?:, (.*))?")


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def pci_key(bus_id):
    """'00000000:3B:00.0' / '0000:3b:00.0' -> (domain, bus, device) as ints: the form NVML, sysfs and
    CUDA (torch's pci_domain_id/pci_bus_id/pci_device_id) can all be reduced to."""
    parts = _text(bus_id).lower().split(":")
    if len(parts) < 3:
        return None
    try:
        return int(parts[-3], 16), int(parts[-2], 16), int(parts[-1].split(".")[0], 16)
    except ValueError:
        return None


def norm_bus_id(bus_id):
    """'00000000:3B:00.0' / '0000:3b:00.0' / '0000:3b:00' -> '3b:00' (bus:device, the part every
    source agrees on; PCI domains differ in width between NVML, sysfs and the kernel log)."""
    parts = _text(bus_id).lower().split(":")
    if len(parts) < 2:
        return _text(bus_id).lower()
    return "{}:{}".format(parts[-2][-2:], parts[-1].split(".")[0])


def scan_pci_gpus(sysfs_root="/sys"):
    """Bus ids of the NVIDIA GPUs on the PCI bus (independent of the driver; the collection's one
    definition of a GPU, module_utils/pci.py); None when the bus cannot be listed."""
    gpus = pci_module().nvidia_gpus(sysfs_root)
    return None if gpus is None else [dev["address"] for dev in gpus]


def read_kernel_module_version(path="/proc/driver/nvidia/version"):
    """Version of the loaded nvidia kernel module, or None when no module is loaded."""
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError:
        return None
    match = re.search(r"NVRM version:.*?\s(\d+\.\d+(?:\.\d+)?)\s", text)
    return match.group(1) if match else "unparsed: " + text.splitlines()[0][:120]


def read_kernel_log():
    """The kernel log since boot as (text, source) or (None, why-not)."""
    attempts = (["dmesg"], ["journalctl", "-k", "-b", "0", "--no-pager", "-q"])
    errors = []
    for cmd in attempts:
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            errors.append(f"{cmd[0]}: {exc}")
            continue
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.decode("utf-8", "replace"), " ".join(cmd)
        errors.append(f"{cmd[0]}: rc={proc.returncode} {proc.stderr.decode()[:120].strip()}")
    return None, "; ".join(errors)


def parse_xids(text):
    """[{bus, xid, message, hardware}] for every NVRM Xid line in a kernel log."""
    events = []
    for line in text.splitlines():
        match = XID_RE.search(line)
        if match:
            xid = int(match.group(2))
            events.append(
                {
                    "bus": norm_bus_id(match.group(1)),
                    "xid": xid,
                    "message": (match.group(3) or "").strip()[:200],
                    "hardware": xid in HARDWARE_XIDS,
                }
            )
    return events
