# Apache-2.0. Part of the pcie_p2p module (Ansible ships it with the module): Python 3.8+
# standard library only, it runs on targets.
"""The platform a P2P judgement needs, built from a live sysfs tree or from ``lspci -vvv`` text:
every NVIDIA GPU (pci.is_nvidia_gpu) and RDMA-capable NIC with the bridges above it (nearest
first, up to the root port), each bridge's ACS, the endpoint's IOMMU group and domain type, ATS
on NICs and GPU BAR placement. Shape (both sources)::

    {"source": "sysfs"|"lspci", "endpoints": [{bdf, kind: gpu|nic, vendor, device, driver,
      path: [bridge bdf, ...] or None (unknown), path_complete: bool (False: an lspci snapshot whose
      topmost recorded bridge is a switch port, so the bridges above it are missing),
      iommu_group, domain, ats, bars}],
     "bridges": {bdf: {"acs": {"cap": [...], "ctl": [...]} | None | "unreadable", vendor, device}},
     "iommu": {"groups": int or None}, "orphan_acs": [[bit names], ...]}
"""

import os
import re

from ansible_collections.autoglm.provision.plugins.module_utils import pci
from ansible_collections.autoglm.provision.plugins.module_utils.pcie_acs import (
    SWITCH_PORTS,
    UNREADABLE,
    acs_from_config,
    ats_from_config,
    parse_lspci,
)

MELLANOX_VENDOR = "0x15b3"
INFINIBAND_CLASS = "0x0207"
ETHERNET_CLASS = "0x0200"
RDMA_DRIVERS = ("mlx5_core", "irdma")
_BDF = re.compile(r"^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
_ROOT_BUS = re.compile(r"^pci[0-9a-f]{4,8}:[0-9a-f]{2}$")


def is_rdma_nic(dev):
    """A physical RDMA-capable NIC function: Mellanox/NVIDIA ConnectX (vendor 0x15b3, network
    class), any InfiniBand controller (class 0x0207), or Ethernet with an RDMA driver."""
    if dev.get("virtual_function"):
        return False
    cls = dev.get("class") or ""
    if dev.get("vendor") == MELLANOX_VENDOR and cls.startswith(pci.NETWORK_CLASS):
        return True
    return cls.startswith(INFINIBAND_CLASS) or (cls.startswith(ETHERNET_CLASS) and dev.get("driver") in RDMA_DRIVERS)


def bridge_path(devices_dir, bdf):
    """Bridges above ``bdf``, nearest first, from the resolved sysfs link
    (/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/...): None when the link does not resolve
    under a PCI root bus (the tree cannot say)."""
    real = os.path.realpath(os.path.join(devices_dir, bdf))
    parts = real.split(os.sep)
    roots = [i for i, part in enumerate(parts) if _ROOT_BUS.match(part)]
    if not roots or parts[-1] != bdf:
        return None
    chain = [part for part in parts[roots[-1] + 1:-1] if _BDF.match(part)]
    return list(reversed(chain))


def _read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def iommu_of(sysfs_root, device_dir):
    """(group name, domain type) of a device; (None, None) without an IOMMU group link."""
    link = os.path.join(device_dir, "iommu_group")
    if not os.path.lexists(link):
        return None, None
    group = os.path.basename(os.path.realpath(link))
    text = _read_bytes(os.path.join(sysfs_root, "kernel", "iommu_groups", group, "type"))
    return group, (text.decode("ascii", "replace").strip() if text else None)


def bar_placement(bars):
    """Every BAR with a size, with whether the kernel assigned it (start 0 = not assigned)."""
    return [{"bar": b["bar"], "start": b["start"], "size": b["size"], "assigned": b["start"] != 0}
            for b in bars if b["size"]]


def _endpoint(sysfs_root, devices_dir, dev, kind):
    group, domain = iommu_of(sysfs_root, dev["path"])
    config = _read_bytes(os.path.join(dev["path"], "config"))
    return {
        "bdf": dev["address"], "kind": kind, "vendor": dev["vendor"], "device": dev["device"],
        "driver": dev["driver"], "path": bridge_path(devices_dir, dev["address"]), "path_complete": True,
        "iommu_group": group, "domain": domain,
        "ats": ats_from_config(config) if kind in ("nic", "other") else None,
        "bars": bar_placement(dev["bars"]) if kind == "gpu" else [],
    }


def _endpoint_kind(dev, extra_endpoints):
    if pci.is_nvidia_gpu(dev):
        return "gpu"
    if is_rdma_nic(dev):
        return "nic"
    return "other" if dev["address"] in extra_endpoints else None


def from_sysfs(sysfs_root, extra_endpoints=()):
    """The platform under ``sysfs_root`` (a /sys tree), with the functions named in
    ``extra_endpoints`` walked too (kind "other": reported, not judged; a name that is no function
    there is left out). Raises ValueError when the tree has no PCI bus."""
    devices = pci.scan(sysfs_root)
    if devices is None:
        raise ValueError(f"no PCI bus under {sysfs_root!r} (bus/pci/devices cannot be listed)")
    devices_dir = os.path.join(sysfs_root, "bus", "pci", "devices")
    endpoints = []
    for dev in devices:
        kind = _endpoint_kind(dev, extra_endpoints)
        if kind:
            endpoints.append(_endpoint(sysfs_root, devices_dir, dev, kind))
    by_bdf = {dev["address"]: dev for dev in devices}
    bridges = {}
    for bdf in sorted({b for ep in endpoints for b in (ep["path"] or [])}):
        dev = by_bdf.get(bdf) or {"vendor": "", "device": ""}
        config = _read_bytes(os.path.join(devices_dir, bdf, "config"))
        bridges[bdf] = {"acs": acs_from_config(config), "vendor": dev["vendor"], "device": dev["device"]}
    groups = os.path.join(sysfs_root, "kernel", "iommu_groups")
    try:
        group_count = len(os.listdir(groups))
    except FileNotFoundError:
        group_count = 0
    except OSError:
        group_count = None
    return {"source": "sysfs", "endpoints": endpoints, "bridges": bridges, "iommu": {"groups": group_count},
            "orphan_acs": []}


# --- lspci -vvv snapshots ---------------------------------------------------------------------
def _lspci_kind(func):
    dev = {"vendor": "0x" + func["vendor"] if func["vendor"] else "", "class": "0x" + func["class"],
           "driver": func["driver"], "virtual_function": "Virtual Function" in func["desc"]}
    if dev["virtual_function"]:  # an SR-IOV VF is a slice of its physical function, not another device
        return None
    if dev["vendor"] == pci.NVIDIA_VENDOR and dev["class"].startswith(pci.NVIDIA_GPU_CLASSES):
        return "gpu"
    if not func["vendor"] and "NVIDIA" in func["desc"] and dev["class"].startswith(pci.NVIDIA_GPU_CLASSES):
        return "gpu"  # lspci -vvv without -nn: no IDs, the vendor name says it
    if not func["vendor"] and "Mellanox" in func["desc"] and dev["class"].startswith(pci.NETWORK_CLASS):
        return "nic"
    return "nic" if is_rdma_nic(dev) else None


def _lspci_path(func, bridges_by_bus):
    """Bridges above a function from the bridges' secondary bus numbers (nearest first); None when
    the snapshot holds no bridge above it (a GPU or NIC card always sits below a port, so its
    bridges were not recorded, e.g. ``lspci -vvv -s <gpu>``)."""
    path, bus, domain = [], int(func["bdf"].split(":")[1], 16), func["bdf"].split(":")[0]
    for _depth in range(32):
        parents = [b for b in bridges_by_bus.get(domain, []) if b["bus_range"][1] == bus]
        if not parents:
            return path or None
        parent = parents[0]
        path.append(parent["bdf"])
        bus = int(parent["bdf"].split(":")[1], 16)
    return path


def from_lspci(text):
    """The platform described by ``lspci -vvv`` text (see pcie_acs.parse_lspci). IOMMU groups and
    domains are not in lspci output: they stay None. Raises ValueError on empty text."""
    parsed = parse_lspci(text)
    bridges_by_bus = {}
    for func in parsed["functions"]:
        if func["bus_range"]:
            bridges_by_bus.setdefault(func["bdf"].split(":")[0], []).append(func)
    by_bdf = {}
    for func in parsed["functions"]:
        by_bdf.setdefault(func["bdf"], func)
    endpoints, bridges = [], {}
    for func in parsed["functions"]:
        kind = _lspci_kind(func)
        if not kind:
            continue
        path = _lspci_path(func, bridges_by_bus)
        endpoints.append({"bdf": func["bdf"], "kind": kind, "vendor": func["vendor"], "device": func["device"],
                          "driver": func["driver"], "path": path,
                          "path_complete": bool(path) and by_bdf[path[-1]]["port_type"] not in SWITCH_PORTS,
                          "iommu_group": None, "domain": None,
                          "ats": func["ats"] if kind == "nic" else None, "bars": []})
        for bdf in path or []:
            bridge = by_bdf[bdf]
            bridges[bdf] = {"acs": _lspci_acs(bridge), "vendor": bridge["vendor"], "device": bridge["device"],
                            "desc": bridge["desc"]}
    return {"source": "lspci", "endpoints": endpoints, "bridges": bridges, "iommu": {"groups": None},
            "orphan_acs": parsed["orphan_acs"]}


def _lspci_acs(func):
    """A bridge's ACS from lspci: None without the capability; UNREADABLE when lspci could not read
    the capabilities ('<access denied>' is not recorded, so only a missing ACSCtl with an ACSCap)."""
    acs = func["acs"]
    if func["caps_denied"]:
        return UNREADABLE
    if not acs:
        return None
    if acs["ctl"] is None:
        return UNREADABLE
    return {"cap": acs["cap"] or [], "ctl": acs["ctl"]}
