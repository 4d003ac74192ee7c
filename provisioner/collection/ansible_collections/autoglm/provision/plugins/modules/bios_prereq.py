#!/usr/bin/python
# Apache-2.0. In-band BIOS prerequisite probe: Python 3.8+ standard library only (runs on targets).
"""Read sysfs/procfs (under a configurable root) and judge the BIOS prerequisites of a GPU host."""

import os
import re
import struct

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.autoglm.provision.plugins.module_utils import pci

DOCUMENTATION = r"""
module: bios_prereq
short_description: Judge VT-d/AMD-Vi, SR-IOV and Above 4G Decoding from sysfs, procfs and the kernel log
description:
  - Read-only. Returns, per requirement (C(iommu), C(sriov), C(above_4g)), a verdict
    (PASS, FAIL, NOT_APPLICABLE, UNKNOWN), a cause, evidence lines and a remediation text.
  - Distinguishes an IOMMU disabled in firmware (no ACPI DMAR/IVRS table) from one the
    firmware exposes but the kernel left off (no /sys/class/iommu units).
options:
  root:
    description: Root to read C(proc/), C(sys/) and C(etc/default/grub) under (tests use a fixture tree).
    type: path
    default: /
  kernel_log_path:
    description: Read the kernel log from this file instead of C(dmesg) / C(journalctl -k).
    type: path
  sriov_devices:
    description:
      - Devices that must be SR-IOV capable, each a PCI address (C(0000:3b:00.0) or C(3b:00.0)),
        a network interface name, or a C(vendor:device) ID such as C(15b3:101d).
      - Empty means at least one network function must be SR-IOV capable.
    type: list
    elements: str
    default: []
  gpu_min_bar1_mib:
    description: Smallest BAR1 for NVIDIA GPUs of a memory class the module does not know (0 = no floor).
    type: int
    default: 0
  iommu_passthrough:
    description: Whether the kernel parameters recommended for the IOMMU include C(iommu=pt).
    type: bool
    default: true
author: autoglm-provision
"""

EXAMPLES = r"""
- name: Judge VT-d/AMD-Vi, SR-IOV and Above 4G Decoding in-band (read-only)
  autoglm.provision.bios_prereq:
    sriov_devices: ["0000:3b:00.0"]
    gpu_min_bar1_mib: 16384
  register: bios

- name: Judge a captured /sys and /proc tree
  autoglm.provision.bios_prereq:
    root: /tmp/captured
    kernel_log_path: /tmp/captured/dmesg.txt
"""

RETURN = r"""
requirements:
  description: Per requirement a dict with verdict, cause, evidence (list of str), remediation and details.
  returned: always
  type: dict
host:
  description: cpu_vendor, virtualized, system_vendor, product_name, kernel_log_source.
  returned: always
  type: dict
kernel_params:
  description: IOMMU kernel parameters to add (C(add)) and to remove (C(remove)) when the kernel left the IOMMU off.
  returned: always
  type: dict
"""

# One name per line: ansible-doc cannot read a module whose top level unpacks a tuple.
PASS = "PASS"
FAIL = "FAIL"
NOT_APPLICABLE = "NOT_APPLICABLE"
UNKNOWN = "UNKNOWN"
GIB = 1 << 30
PCI_EXT_CAP_ID_SRIOV = 0x0010

# Data-center NVIDIA GPUs map their whole framebuffer through BAR1, so BAR1 must be at least the
# card's memory. Device ID -> (model, memory GiB). Cards not listed use gpu_min_bar1_mib.
NVIDIA_MEMORY_CLASS = {
    "0x1db1": ("V100 SXM2 16GB", 16),
    "0x1db4": ("V100 PCIe 16GB", 16),
    "0x1db5": ("V100 SXM2 32GB", 32),
    "0x1db6": ("V100 PCIe 32GB", 32),
    "0x20b0": ("A100 SXM4 40GB", 40),
    "0x20b1": ("A100 PCIe 40GB", 40),
    "0x20f1": ("A100 PCIe 40GB", 40),
    "0x20b2": ("A100 SXM4 80GB", 80),
    "0x20b5": ("A100 PCIe 80GB", 80),
    "0x20b7": ("A30", 24),
    "0x2235": ("A40", 48),
    "0x2236": ("A10", 24),
    "0x26b5": ("L40", 48),
    "0x26b9": ("L40S", 48),
    "0x27b8": ("L4", 24),
    "0x2330": ("H100 SXM5 80GB", 80),
    "0x2331": ("H100 PCIe 80GB", 80),
    "0x2321": ("H100 NVL 94GB", 94),
    "0x2335": ("H200 SXM 141GB", 141),
}

# BIOS menu items, by the DMI system vendor, for the remediation text.
BIOS_MENU = {
    "iommu_intel": {
        "dell": "System BIOS > Processor Settings > Virtualization Technology = Enabled (turns on VT-d)",
        "hpe": "RBSU > Virtualization Options > Intel(R) VT-d = Enabled",
        "lenovo": "System Settings > Processors > Intel VT for Directed I/O (VT-d) = Enable",
        "supermicro": "Advanced > Chipset Configuration > North Bridge > IIO Configuration > "
        "Intel VT for Directed I/O (VT-d) = Enable",
        "": "Intel VT for Directed I/O (VT-d) = Enabled (Processor, Chipset or IIO configuration menu)",
    },
    "iommu_amd": {
        "dell": "System BIOS > Processor Settings > Virtualization Technology and IOMMU Support = Enabled",
        "hpe": "RBSU > Virtualization Options > AMD I/O Virtualization Technology (AMD-Vi) = Enabled",
        "lenovo": "System Settings > Processors > IOMMU = Enable",
        "supermicro": "Advanced > NB Configuration > IOMMU = Enabled",
        "": "IOMMU / AMD-Vi = Enabled (AMD CBS > NBIO Common Options > IOMMU)",
    },
    "sriov": {
        "dell": "System BIOS > Integrated Devices > SR-IOV Global Enable = Enabled",
        "hpe": "RBSU > Virtualization Options > SR-IOV = Enabled",
        "lenovo": "System Settings > Devices and I/O Ports > SR-IOV = Enable",
        "supermicro": "Advanced > PCIe/PCI/PnP Configuration > SR-IOV Support = Enabled",
        "": "SR-IOV (Global) = Enabled (PCI / Integrated Devices / Virtualization menu)",
    },
    "above_4g": {
        "dell": "System BIOS > Integrated Devices > Memory Mapped I/O above 4 GB = Enabled",
        "hpe": "RBSU > PCIe Device Configuration > Advanced PCIe Configuration > "
        "Memory Mapped I/O above 4 GB = Enabled",
        "lenovo": "System Settings > Devices and I/O Ports > Above 4GB Decoding (MM Config) = Enable",
        "supermicro": "Advanced > PCIe/PCI/PnP Configuration > Above 4G Decoding = Enabled "
        "(and a large enough MMIOH size)",
        "": "Above 4G Decoding (also called 'Memory Mapped I/O above 4 GB' or '64-bit MMIO') = Enabled",
    },
}
VENDOR_KEYS = (("dell", "dell"), ("hewlett", "hpe"), ("hpe", "hpe"), ("lenovo", "lenovo"), ("supermicro", "supermicro"))
SRIOV_LOG = re.compile(
    r"not enough MMIO resources for SR-IOV|SR-IOV: bus number out of range"
    r"|can't (?:enable|allocate) .*VF|sriov.*(?:fail|error)",
    re.I,
)
BAR_LOG = re.compile(
    r"BAR1 is 0M|no space for|failed to assign|can't assign|"
    r"PCI I/O region assigned to your NVIDIA device is invalid",
    re.I,
)


def result(verdict, cause, evidence, remediation="", details=None):
    return {
        "verdict": verdict,
        "cause": cause,
        "evidence": evidence,
        "remediation": remediation,
        "details": details or {},
    }


class Host:
    """Reads files under ``root`` the way the host's own paths would be read."""

    def __init__(self, root):
        self.root = root

    def path(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    def read(self, rel, binary=False):
        """File content, or None when it is missing or unreadable."""
        try:
            with open(self.path(rel), "rb" if binary else "r") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError):
            return None

    def listdir(self, rel):
        """Sorted entries, [] when the directory is absent, None when it cannot be read."""
        try:
            return sorted(os.listdir(self.path(rel)))
        except FileNotFoundError:
            return []
        except OSError:
            return None

    def exists(self, rel):
        return os.path.lexists(self.path(rel))


def host_facts(host):
    cpuinfo = host.read("proc/cpuinfo") or ""
    match = re.search(r"^vendor_id\s*:\s*(\S+)", cpuinfo, re.M)
    vendor = {"GenuineIntel": "intel", "AuthenticAMD": "amd", "HygonGenuine": "amd"}.get(
        match.group(1) if match else "", "other"
    )
    flags = re.search(r"^flags\s*:(.*)$", cpuinfo, re.M)
    sys_vendor = (host.read("sys/class/dmi/id/sys_vendor") or "").strip()
    lowered = sys_vendor.lower()
    return {
        "cpu_vendor": vendor,
        "virtualized": bool(flags and " hypervisor" in flags.group(1) + " "),
        "system_vendor": sys_vendor,
        "product_name": (host.read("sys/class/dmi/id/product_name") or "").strip(),
        "vendor_key": next((key for word, key in VENDOR_KEYS if word in lowered), ""),
    }


def bios_menu(item, facts):
    menu = BIOS_MENU[item]
    text = menu.get(facts["vendor_key"]) or menu[""]
    where = facts["system_vendor"] or "this system"
    return f"In the BIOS/UEFI setup of {where}: {text}."


def cmdline_params(text):
    """Kernel command-line words as {name: value} (value None for bare flags); last one wins."""
    params = {}
    for word in (text or "").split():
        name, sep, value = word.partition("=")
        params[name] = value if sep else None
    return params


def grub_cmdline(host):
    """The GRUB_CMDLINE_LINUX* words in /etc/default/grub, or None when there is no such file."""
    text = host.read("etc/default/grub")
    if text is None:
        return None
    words = []
    for match in re.finditer(r'^\s*GRUB_CMDLINE_LINUX(?:_DEFAULT)?=["\']?([^"\'\n]*)', text, re.M):
        words.extend(match.group(1).split())
    return words


def iommu_kernel_params(vendor, passthrough):
    """(params to add, params to remove) that turn the IOMMU on in the kernel."""
    add = ["intel_iommu=on"] if vendor == "intel" else []
    if passthrough:
        add.append("iommu=pt")
    remove = ["intel_iommu=off", "amd_iommu=off", "iommu=off"]
    return add, remove


def check_iommu(host, facts, passthrough):
    vendor = facts["cpu_vendor"]
    table = {"intel": "DMAR", "amd": "IVRS"}.get(vendor)
    tables = host.listdir("sys/firmware/acpi/tables")
    units = host.listdir("sys/class/iommu") or []
    groups = host.listdir("sys/kernel/iommu_groups") or []
    cmdline = host.read("proc/cmdline") or ""
    params = cmdline_params(cmdline)
    iommu_words = [w for w in cmdline.split() if w.split("=")[0] in ("intel_iommu", "amd_iommu", "iommu")]
    add, remove = iommu_kernel_params(vendor, passthrough)
    details = {
        "cpu_vendor": vendor,
        "acpi_table": table,
        "acpi_tables": tables,
        "iommu_units": units,
        "iommu_groups": len(groups),
        "cmdline_iommu_params": iommu_words,
    }
    evidence = [
        "CPU vendor: {}{}".format(vendor, " (virtual machine)" if facts["virtualized"] else ""),
        "kernel command line IOMMU parameters: %s" % (" ".join(iommu_words) or "none"),
        "/sys/class/iommu: %s" % (", ".join(units) or "empty"),
        f"/sys/kernel/iommu_groups: {len(groups)} groups",
    ]
    if units and groups:
        if passthrough and params.get("iommu") != "pt":
            evidence.append("note: iommu=pt is not set (DMA translation for host devices costs throughput)")
        evidence.insert(
            0,
            "firmware ACPI {} table: {}".format(
                table or "IOMMU", "present" if table and tables and table in tables else "n/a"
            ),
        )
        return result(PASS, None, evidence, "", details)
    if table is None:
        return result(
            UNKNOWN,
            "unsupported_cpu_vendor",
            evidence + ["no IOMMU is active and the CPU is neither Intel nor AMD x86"],
            "Check the platform's IOMMU (e.g. ARM SMMU via ACPI IORT) by hand.",
            details,
        )
    if tables is None:
        return result(
            UNKNOWN,
            "unreadable",
            evidence + ["/sys/firmware/acpi/tables cannot be read"],
            "Run the check as root (become: true).",
            details,
        )
    if table not in tables:
        evidence.insert(0, f"firmware ACPI {table} table: absent from /sys/firmware/acpi/tables")
        if facts["virtualized"]:
            return result(
                FAIL,
                "no_virtual_iommu",
                evidence,
                "This is a virtual machine whose hypervisor exposes no virtual IOMMU: add one "
                "(QEMU: -device intel-iommu,intremap=on / libvirt <iommu model='intel'/>; "
                "AMD: amd-iommu) or, if this host does not need one, drop 'iommu' from "
                "bios_check_mandatory.",
                details,
            )
        return result(
            FAIL,
            "disabled_in_firmware",
            evidence,
            bios_menu(f"iommu_{vendor}", facts) + f" The firmware publishes no {table} table, so "
            "no kernel parameter can help until it is enabled there.",
            details,
        )
    evidence.insert(0, f"firmware ACPI {table} table: present (firmware exposes the IOMMU)")
    conflicting = [w for w in cmdline.split() if w in remove]
    if conflicting:
        evidence.append("the kernel was told to keep it off: {}".format(" ".join(conflicting)))
    grub = grub_cmdline(host)
    staged = bool(
        grub is not None and (add or conflicting) and all(p in grub for p in add) and not any(p in grub for p in remove)
    )
    details.update(kernel_params_add=add, kernel_params_remove=remove, reboot_pending=staged)
    if staged:
        evidence.append("/etc/default/grub already has {}: a reboot is pending".format(" ".join(add)))
    edits = (["add '{}'".format(" ".join(add))] if add else []) + (
        ["remove '{}'".format(" ".join(conflicting))] if conflicting else []
    )
    return result(
        FAIL,
        "disabled_in_kernel",
        evidence,
        "Enabled in firmware but off in the kernel: %s in GRUB_CMDLINE_LINUX of "
        "/etc/default/grub, run update-grub and reboot (the role makes the edit with "
        "bios_check_apply_kernel_params: true; it never reboots)."
        % (" and ".join(edits) or "check that the kernel is built with IOMMU support"),
        details,
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


def short_bdf(bdf):
    return bdf.split(":", 1)[1] if bdf.count(":") == 2 else bdf


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


def human(size):
    return f"{size // GIB} GiB" if size >= GIB else f"{size >> 20} MiB"


def check_above_4g(scanned, log_lines, log_source, min_bar1_mib, facts):
    gpus = [d for d in scanned if pci.is_nvidia_gpu(d)]
    if not gpus:
        return result(NOT_APPLICABLE, None, ["no NVIDIA GPU among the PCI devices"])
    evidence, problems, details, unreadable = [], [], {"gpus": []}, 0
    for gpu in gpus:
        bars = gpu["bars"]
        unreadable += not bars
        model, mem_gib = NVIDIA_MEMORY_CLASS.get(gpu["device"], ("NVIDIA {}".format(gpu["device"]), None))
        need = mem_gib * GIB if mem_gib else min_bar1_mib << 20
        bar1 = pci.nvidia_bar1(bars)
        wide = [f"{'BAR1 = ' if b is bar1 else ''}resource{b['bar']} {human(b['size'])} @ {b['start']:#x}"
                for b in bars if b["mem64_prefetch"]]
        label = "{} ({})".format(gpu["address"], model)
        evidence.append("{} 64-bit prefetchable BARs: {}".format(label, ", ".join(wide) or "none"))
        details["gpus"].append(
            {"bdf": gpu["address"], "model": model, "memory_gib": mem_gib, "bar1_min_bytes": need, "bars": bars}
        )
        if bar1 is None:
            problems.append(f"{label}: resource file unreadable or without BAR1")
        elif not bar1["mem64_prefetch"]:
            problems.append(f"{label}: BAR1 is not a 64-bit prefetchable window")
        elif bar1["start"] == 0:
            problems.append("{}: BAR1 ({} requested) was never assigned an address".format(label, human(bar1["size"])))
        elif bar1["start"] < 4 * GIB:
            problems.append("{}: BAR1 sits below 4 GiB at 0x{:x}".format(label, bar1["start"]))
        elif bar1["size"] < need:
            problems.append(
                "{}: BAR1 is {}, smaller than the {} this memory class needs".format(
                    label, human(bar1["size"]), human(need)
                )
            )
        ids = (gpu["address"], short_bdf(gpu["address"]))
        for line in log_lines:
            if BAR_LOG.search(line) and ("NVRM" in line or any(i in line for i in ids)):
                problems.append(f"kernel log: {line.strip()}")
    details["kernel_log_source"] = log_source
    if log_source is None:
        evidence.append("kernel log unavailable: its failure signatures were not checked")
    if any(d["bar1_min_bytes"] == 0 for d in details["gpus"]):
        evidence.append("memory class unknown for some GPUs: BAR1 size not checked (set bios_check_gpu_min_bar1_mib)")
    if unreadable == len(gpus):
        return result(UNKNOWN, "unreadable", evidence + problems, "Run the check as root.", details)
    if problems:
        return result(
            FAIL,
            "disabled_in_firmware",
            evidence + problems,
            bios_menu("above_4g", facts) + " Large GPU BARs need a 64-bit MMIO window above "
            "4 GiB; give it room for every GPU's BAR1 (and enable Resizable BAR on cards "
            "that use it).",
            details,
        )
    return result(PASS, None, evidence + ["BAR1 of every NVIDIA GPU is above 4 GiB and large enough"], "", details)


def read_kernel_log(module, host, path):
    """(lines, source): the given file, else dmesg, else journalctl -k; ([], None) if none works."""
    if path:
        text = host.read(path) if not os.path.isabs(path) else Host("/").read(path)
        return ((text or "").splitlines(), path) if text is not None else ([], None)
    for argv in (["dmesg"], ["journalctl", "-k", "-b", "--no-pager", "-q"]):
        binary = module.get_bin_path(argv[0]) if module else None
        if not binary:
            continue
        rc, out, _err = module.run_command([binary] + argv[1:])
        if rc == 0 and out:
            return out.splitlines(), argv[0]
    return [], None


def evaluate(root, sriov_devices=(), gpu_min_bar1_mib=0, passthrough=True, log_lines=(), log_source=None):
    """The whole judgement, pure over the tree at ``root`` (what the unit tests call)."""
    host = Host(root)
    facts = host_facts(host)
    scanned = pci.scan(host.path("sys")) or []
    devices = pci_devices(host, scanned)
    log_lines = list(log_lines)
    iommu = check_iommu(host, facts, passthrough)
    add, remove = iommu_kernel_params(facts["cpu_vendor"], passthrough)
    return {
        "host": dict(facts, kernel_log_source=log_source),
        "requirements": {
            "iommu": iommu,
            "sriov": check_sriov(devices, list(sriov_devices), log_lines, facts),
            "above_4g": check_above_4g(scanned, log_lines, log_source, gpu_min_bar1_mib, facts),
        },
        "kernel_params": {"add": add, "remove": remove, "needed": iommu["cause"] == "disabled_in_kernel"},
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "default": "/"},
            "kernel_log_path": {"type": "path"},
            "sriov_devices": {"type": "list", "elements": "str", "default": []},
            "gpu_min_bar1_mib": {"type": "int", "default": 0},
            "iommu_passthrough": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not os.path.isdir(params["root"]):
        module.fail_json(msg="bios_prereq: root {!r} is not a directory".format(params["root"]))
    lines, source = read_kernel_log(module, Host(params["root"]), params["kernel_log_path"])
    out = evaluate(
        params["root"], params["sriov_devices"], params["gpu_min_bar1_mib"], params["iommu_passthrough"], lines, source
    )
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
