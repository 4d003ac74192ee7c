# Apache-2.0. Part of the bios_prereq module (Ansible ships it with the module): Python 3.8+
# standard library only, it runs on targets.
"""bios_prereq's SR-IOV check: the PCI network functions (and display/accelerator functions) with
their SR-IOV capability in config space, sriov_totalvfs and the kernel log's SR-IOV failures."""

import re
import struct

from ansible_collections.autoglm.provision.plugins.module_utils import pci
from ansible_collections.autoglm.provision.plugins.module_utils.bios_common import (
    FAIL,
    PASS,
    bios_menu,
    result,
    short_bdf,
)

PCI_EXT_CAP_ID_SRIOV = 0x0010
SRIOV_LOG = re.compile(
    r"not enough MMIO resources for SR-IOV|SR-IOV: bus number out of range"
    r"|can't (?:enable|allocate) .*VF|sriov.*(?:fail|error)",
    re.I,
)


def pci_devices(host, scanned):
    """Physical functions (not VFs) that are network functions (class 0x02), kind "nic", or display
    or accelerator functions of any vendor (pci.is_display_or_accelerator), kind "gpu": the devices
    SR-IOV selectors can name (an SR-IOV vGPU or accelerator too). check_above_4g judges only the
    NVIDIA GPUs (pci.is_nvidia_gpu) of ``scanned`` (pci.scan's list)."""
    devices = []
    for dev in scanned:
        is_nic = pci.is_network(dev)
        if not (is_nic or pci.is_display_or_accelerator(dev)) or dev["virtual_function"]:
            continue
        base = "sys/bus/pci/devices/{}/".format(dev["address"])
        devices.append(
            {
                "bdf": dev["address"],
                "class": dev["class"],
                "vendor": dev["vendor"],
                "device": dev["device"],
                "kind": "nic" if is_nic else "gpu",
                "driver": dev["driver"],
                "netdevs": netdevs(host, base),
                "sriov_totalvfs": as_int(host.read(base + "sriov_totalvfs")),
                "sriov_numvfs": as_int(host.read(base + "sriov_numvfs")),
                "sriov_capability": sriov_capability(host.read(base + "config", binary=True)),
            }
        )
    return devices


def netdevs(host, base):
    """Interface names of a PCI function (virtio NICs keep them one level down, in virtioN/net)."""
    names = list(host.listdir(base + "net") or [])
    for sub in host.listdir(base) or []:
        if sub.startswith("virtio"):
            names += host.listdir(base + sub + "/net") or []
    return names


def as_int(text):
    try:
        return int(text.strip(), 0)
    except (AttributeError, ValueError):
        return None


def sriov_capability(config):
    """Whether PCIe config space lists the SR-IOV extended capability; None if it was not readable."""
    if not config or len(config) <= 64:
        return None  # only root reads past the first 64 bytes
    if len(config) <= 0x100:
        return False  # no extended config space (conventional PCI, or no ECAM): no SR-IOV
    offset, seen = 0x100, set()
    while offset and offset not in seen and offset + 4 <= len(config):
        seen.add(offset)
        header = struct.unpack_from("<I", config, offset)[0]
        if header in (0, 0xFFFFFFFF):
            return False
        if header & 0xFFFF == PCI_EXT_CAP_ID_SRIOV:
            return True
        offset = (header >> 20) & 0xFFC
    return False


def matches(selector, dev):
    ids = "{}:{}".format(dev["vendor"].replace("0x", ""), dev["device"].replace("0x", ""))
    return selector in (dev["bdf"], short_bdf(dev["bdf"]), ids) or selector in dev["netdevs"]


def describe(dev):
    name = "{} {}".format(dev["bdf"], "/".join(dev["netdevs"]) or dev["kind"])
    cap = {True: "SR-IOV capability present", False: "no SR-IOV capability", None: "config space not readable"}[
        dev["sriov_capability"]
    ]
    return "{} [{}:{} driver={}]: sriov_totalvfs={} sriov_numvfs={} ({})".format(
        name, dev["vendor"], dev["device"], dev["driver"], dev["sriov_totalvfs"], dev["sriov_numvfs"], cap
    )


def check_sriov(devices, selectors, log_lines, facts):
    nics = [d for d in devices if d["kind"] == "nic"]
    evidence = [describe(d) for d in devices]
    log_hits = [line for line in log_lines if SRIOV_LOG.search(line)]
    evidence += [f"kernel log: {line}" for line in log_hits[:5]]
    details = {"devices": devices, "required": selectors or ["at least one network function"]}
    capable = [d for d in devices if (d["sriov_totalvfs"] or 0) > 0]
    if selectors:
        missing = [s for s in selectors if not any(matches(s, d) for d in devices)]
        failing = [d for d in devices if any(matches(s, d) for s in selectors) and d not in capable]
        if not missing and not failing:
            return result(PASS, None, evidence, "", details)
        evidence += [f"required device {s}: not found" for s in missing]
        problem = failing or []
    else:
        if any(d in capable for d in nics):
            return result(PASS, None, evidence, "", details)
        if not nics:
            return result(
                FAIL,
                "no_network_function",
                evidence + ["no PCI network function (class 0x02)"],
                "Install an SR-IOV capable NIC or set bios_check_sriov_devices.",
                details,
            )
        problem = nics
    # Why is it off? The kernel saw the capability but could not enable it -> firmware resources.
    if log_hits or any(d["sriov_capability"] and d["sriov_totalvfs"] is None for d in problem):
        cause = "disabled_in_firmware"
        fix = bios_menu("sriov", facts) + (
            " The device has the SR-IOV capability but the kernel could "
            "not set it up: the firmware reserved no bus numbers/MMIO for "
            "VFs (also enable Above 4G Decoding; 'pci=realloc' can help)."
        )
    elif facts["virtualized"] and all(d["vendor"] == "0x1af4" for d in problem):
        cause = "virtual_nic"
        fix = (
            "Virtual (virtio) NICs have no SR-IOV: pass an SR-IOV NIC (PF) through to this VM, or "
            "drop 'sriov' from bios_check_mandatory for it."
        )
    else:
        cause = "not_enabled"
        fix = (
            bios_menu("sriov", facts) + " Also enable SR-IOV in the NIC's own firmware (NVIDIA/Mellanox: "
            "mlxconfig -d <bdf> set SRIOV_EN=1 NUM_OF_VFS=8; Intel/Broadcom: the device's HII "
            "menu 'Virtualization Mode = SR-IOV'), or use an SR-IOV capable NIC."
        )
    return result(FAIL, cause, evidence, fix, details)
