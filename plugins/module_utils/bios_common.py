# Apache-2.0. Part of the bios_prereq module (Ansible ships it with the module): Python 3.8+
# standard library only, it runs on targets.
"""What every bios_prereq check shares: the verdicts and result shape, the reader of files under a
root, the host's CPU/DMI facts and the BIOS menu paths for the remediation text."""

import os
import re

# Verdicts, one name per line.
PASS = "PASS"
FAIL = "FAIL"
NOT_APPLICABLE = "NOT_APPLICABLE"
UNKNOWN = "UNKNOWN"

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


def short_bdf(bdf):
    return bdf.split(":", 1)[1] if bdf.count(":") == 2 else bdf
