# Apache-2.0. Part of the bios_prereq module (Ansible ships it with the module): Python 3.8+
# standard library only, it runs on targets.
"""bios_prereq's IOMMU (VT-d / AMD-Vi) check: ACPI DMAR/IVRS table, IOMMU units and groups, the
kernel command line and /etc/default/grub."""

import re

from ansible_collections.autoglm.provision.plugins.module_utils.bios_common import (
    FAIL,
    PASS,
    UNKNOWN,
    bios_menu,
    result,
)


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


def _observed(host, facts, table, tables, cmdline):
    """(details, evidence): what the host shows of its IOMMU, whatever the verdict."""
    units = host.listdir("sys/class/iommu") or []
    groups = host.listdir("sys/kernel/iommu_groups") or []
    iommu_words = [w for w in cmdline.split() if w.split("=")[0] in ("intel_iommu", "amd_iommu", "iommu")]
    details = {
        "cpu_vendor": facts["cpu_vendor"],
        "acpi_table": table,
        "acpi_tables": tables,
        "iommu_units": units,
        "iommu_groups": len(groups),
        "cmdline_iommu_params": iommu_words,
    }
    evidence = [
        "CPU vendor: {}{}".format(facts["cpu_vendor"], " (virtual machine)" if facts["virtualized"] else ""),
        "kernel command line IOMMU parameters: %s" % (" ".join(iommu_words) or "none"),
        "/sys/class/iommu: %s" % (", ".join(units) or "empty"),
        f"/sys/kernel/iommu_groups: {len(groups)} groups",
    ]
    return details, evidence


def _absent_from_firmware(facts, table, evidence, details):
    """The firmware publishes no DMAR/IVRS table: off in the BIOS, or a VM without a virtual IOMMU."""
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
        bios_menu(f"iommu_{facts['cpu_vendor']}", facts) + f" The firmware publishes no {table} table, so "
        "no kernel parameter can help until it is enabled there.",
        details,
    )


def _off_in_kernel(host, cmdline, passthrough, vendor, table, evidence, details):
    """The firmware exposes the IOMMU but the kernel left it off: the command-line edits that turn it
    on, and whether /etc/default/grub already has them (a reboot is pending)."""
    add, remove = iommu_kernel_params(vendor, passthrough)
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


def check_iommu(host, facts, passthrough):
    """Active (units and groups), else why not: an unknown CPU vendor, unreadable ACPI tables, off in
    the firmware, or off in the kernel."""
    vendor = facts["cpu_vendor"]
    table = {"intel": "DMAR", "amd": "IVRS"}.get(vendor)
    tables = host.listdir("sys/firmware/acpi/tables")
    cmdline = host.read("proc/cmdline") or ""
    details, evidence = _observed(host, facts, table, tables, cmdline)
    if details["iommu_units"] and details["iommu_groups"]:
        if passthrough and cmdline_params(cmdline).get("iommu") != "pt":
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
        return _absent_from_firmware(facts, table, evidence, details)
    return _off_in_kernel(host, cmdline, passthrough, vendor, table, evidence, details)
