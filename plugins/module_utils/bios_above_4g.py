# Apache-2.0. Part of the bios_prereq module (Ansible ships it with the module): Python 3.8+
# standard library only, it runs on targets.
"""bios_prereq's Above 4G Decoding check: every NVIDIA GPU's BAR1 (64-bit, prefetchable, above
4 GiB, at least the card's memory) and the kernel log's BAR assignment failures."""

import re

from ansible_collections.autoglm.provision.plugins.module_utils import pci
from ansible_collections.autoglm.provision.plugins.module_utils.bios_common import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    bios_menu,
    result,
    short_bdf,
)

GIB = 1 << 30

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

BAR_LOG = re.compile(
    r"BAR1 is 0M|no space for|failed to assign|can't assign|"
    r"PCI I/O region assigned to your NVIDIA device is invalid",
    re.I,
)


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
        wide = [
            f"{'BAR1 = ' if b is bar1 else ''}resource{b['bar']} {human(b['size'])} @ {b['start']:#x}"
            for b in bars
            if b["mem64_prefetch"]
        ]
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
