# Apache-2.0. What a host offers for GPUDirect RDMA, read from a filesystem root (tests point it at a fixture
# tree). Standard library only: Ansible ships this file with the nvidia_gpudirect_facts module.
"""RDMA-capable NICs, the kernel's PCI peer-to-peer DMA support (what DMA-BUF needs), nvidia_peermem and
the RDMA stack (MLNX_OFED/DOCA or the distro's inbox ib_core) it was built against."""

import gzip
import json
import os
import re

from ansible_collections.autoglm.provision.plugins.module_utils import pci

# Mellanox, now NVIDIA networking: ConnectX HCAs/NICs and BlueField DPUs.
MELLANOX_VENDOR = "0x15b3"
# PCI classes of an RDMA-capable port: 0x0200 Ethernet (RoCE), 0x0207 InfiniBand.
RDMA_NIC_CLASSES = {"0x0200": "ethernet", "0x0207": "infiniband"}
# The DMA-BUF path needs the kernel's PCI P2P DMA (drivers/pci/p2pdma.c); a bool option, so y or unset.
P2PDMA_OPTION = "CONFIG_PCI_P2PDMA"
# What the kernel logs when a module was built against other exports than the loaded ones carry: an
# OFED/DOCA update after nvidia-peermem was built (NVIDIA/gpu-operator#2868).
SYMBOL_MISMATCH_RE = re.compile(r"(\S+): disagrees about version of symbol (\S+)")
# What the role verified last (path, kernel, stack id), kept on the host so that the next run can say the
# kernel or the OFED/DOCA stack changed since and the path was verified again.
RECORD = "var/lib/autoglm/gpudirect.json"


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return None


def rdma_nics(root):
    """ConnectX/BlueField physical functions of an RDMA class on the PCI bus, and the RDMA devices the
    kernel registered (/sys/class/infiniband: mlx5_0, ...; present for RoCE ports too)."""
    devices = pci.scan(os.path.join(root, "sys")) or []
    nics = [{"slot": dev["address"], "device_id": dev["device"], "link": RDMA_NIC_CLASSES[dev["class"][:6]],
             "driver": dev["driver"]}
            for dev in devices
            if dev["vendor"] == MELLANOX_VENDOR and dev["class"][:6] in RDMA_NIC_CLASSES
            and not dev["virtual_function"]]
    try:
        ib_devices = sorted(os.listdir(os.path.join(root, "sys/class/infiniband")))
    except OSError:
        ib_devices = []
    return nics, ib_devices


def kernel_config(root, kernel, option):
    """(value, source) of a kernel build option: 'y', 'm' or 'n' (unset), from /boot/config-<kernel>
    else /proc/config.gz; (None, None) when neither can be read."""
    text, source = _read(os.path.join(root, "boot", "config-" + kernel)), "/boot/config-" + kernel
    if text is None:
        try:
            with gzip.open(os.path.join(root, "proc/config.gz"), "rb") as handle:
                text, source = handle.read().decode("utf-8", "replace"), "/proc/config.gz"
        except OSError:
            return None, None
    match = re.search(r"^" + re.escape(option) + r"=(\S+)$", text, re.MULTILINE)
    return (match.group(1) if match else "n"), source


def rdma_stack(root, run):
    """The RDMA stack nvidia-peermem links against: MLNX_OFED/DOCA-OFED's version (ofed_info -s) and the
    loaded ib_core's version/srcversion (srcversion changes with every rebuild of ib_core). ``id`` names
    the stack so that a later run can tell it changed."""
    rc, out, _err = run(["ofed_info", "-s"])
    ofed = out.strip().rstrip(":") if rc == 0 and out.strip() else None
    version = _read(os.path.join(root, "sys/module/ib_core/version"))
    srcversion = _read(os.path.join(root, "sys/module/ib_core/srcversion"))
    core = "ib_core " + " ".join(v for v in (version, srcversion) if v) if (version or srcversion) else None
    return {"ofed": ofed, "ib_core_version": version, "ib_core_srcversion": srcversion,
            "id": " / ".join(v for v in (ofed, core) if v) or None}


def symbol_mismatches(dmesg, module):
    """The symbols the kernel refused to resolve for ``module`` (dmesg's "disagrees about version of
    symbol" lines), sorted; module names compare with '-' and '_' alike, as the kernel's do."""
    wanted = module.replace("-", "_")
    return sorted({sym for name, sym in SYMBOL_MISMATCH_RE.findall(dmesg or "") if name.replace("-", "_") == wanted})


def peermem_module(root, kernel, module, run):
    """The peer-memory module: its file for ``kernel`` (None: not installed), signer, whether it is loaded
    (/sys/module/<name>) and nv_mem registered with ib_core's peer-memory API
    (/sys/kernel/mm/memory_peers/nv_mem, created when nvidia-peermem registers)."""
    rc, path, _err = run(["modinfo", "-k", kernel, "-n", module])
    rc_signer, signer, _err = run(["modinfo", "-k", kernel, "-F", "signer", module])
    return {
        "name": module,
        "file": path.strip() if rc == 0 and path.strip() else None,
        "signer": signer.strip() if rc_signer == 0 else "",
        "loaded": os.path.isdir(os.path.join(root, "sys/module", module.replace("-", "_"))),
        "nv_mem": os.path.exists(os.path.join(root, "sys/kernel/mm/memory_peers/nv_mem")),
    }


def recorded(root):
    """The last verified record (a dict), or None when there is none or it is not a JSON object."""
    try:
        value = json.loads(_read(os.path.join(root, RECORD)) or "null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def probe(root, kernel, module, run):
    """Everything the GPUDirect choice and its verification read, as one dict."""
    nics, ib_devices = rdma_nics(root)
    p2pdma, config_source = kernel_config(root, kernel, P2PDMA_OPTION)
    # The kernel log only explains a refused peer-memory module, which only a host with an RDMA NIC loads.
    rc, dmesg, _err = run(["dmesg"]) if nics or ib_devices else (1, "", "")
    return {
        "nics": nics,
        "ib_devices": ib_devices,
        "p2pdma": p2pdma,
        "kernel_config": config_source,
        "peermem": peermem_module(root, kernel, module, run),
        "symbol_mismatches": symbol_mismatches(dmesg if rc == 0 else "", module),
        "stack": rdma_stack(root, run),
        "recorded": recorded(root),
    }
