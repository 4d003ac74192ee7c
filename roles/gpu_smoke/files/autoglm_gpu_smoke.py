#!/usr/bin/env python3
"""autoglm GPU smoke test: does this host's NVIDIA stack work, and is it as fast as it should be?

Self-contained: copied to the target and run with the target's Python (3.8+). Needs NVML
bindings (an installed ``pynvml`` from nvidia-ml-py, else the vendored copy shipped beside this
file) and, for the CUDA checks, torch. Levels, each a superset of the one before:

  quick     driver/NVML agreement, GPU counts, per-GPU health (ECC, remapped rows, XIDs, link,
            clock-event reasons, temperature) and a matmul checked against a CPU reference.
  standard  + measured matmul TFLOP/s, memory and PCIe bandwidth, a VRAM pattern test, each
            judged against a per-SKU reference table; P2P matrix and NCCL all-reduce (>1 GPU).
  burn      + sustained load for --burn-minutes with clocks, temperature, power, throttle
            reasons and ECC deltas sampled; throughput must stay stable.

Writes a JSON report (--json-out) and prints a readable summary. Exit status: 0 host verdict
pass, 1 host verdict fail, 2 usage error or crash.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PROGRAM_VERSION = "1.0.0"
SCHEMA = "autoglm-gpu-smoke/1"
LEVELS = ("quick", "standard", "burn")
NVIDIA_PCI_VENDOR = "0x10de"
# PCI classes of NVIDIA compute/display functions (VGA controller, 3D controller); NVSwitches
# (0x0680) and the HDMI audio function (0x0403) are not GPUs.
GPU_PCI_CLASSES = ("0x0300", "0x0302")
# NCCL/PyTorch/NVSHMEM must never use NVLink multicast on shared hosts: it can take every GPU of
# the host out of service. Set in every environment this program starts NCCL work in.
NCCL_SAFE_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}

PASS, WARN, FAIL, SKIP, INFO = "pass", "warn", "fail", "skip", "info"

# --------------------------------------------------------------------------------------------
# Reference table: spec peaks (dense, no sparsity; fp16/bf16 with fp32 accumulate) and the pass
# floor as a fraction of each peak. Floors sit below what healthy cards measure (e.g. an H100
# SXM measures ~0.8 of its bf16 peak and ~0.9 of its HBM bandwidth) so that only a sick or
# misconfigured card fails. "tf32" is the fp32 matmul figure with TF32 allowed; cards without
# TF32 (Turing) list their plain fp32 peak under "fp32".
# --------------------------------------------------------------------------------------------
_DC_FLOORS = {"matmul": 0.55, "memory_bw": 0.70, "pcie": 0.55}
_CONSUMER_FLOORS = {"matmul": 0.50, "memory_bw": 0.70, "pcie": 0.50}
SKU_TABLE = [
    {
        "sku": "H100-SXM5-80GB",
        "device_ids": [0x2330],
        "name_re": r"H100 80GB HBM3|H100 SXM",
        "peak": {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7},
        "memory_bw_gbs": 3350,
        "pcie": (5, 16),
        "floors": _DC_FLOORS,
    },
    {
        "sku": "H100-PCIe-80GB",
        "device_ids": [0x2331],
        "name_re": r"H100 PCIe",
        "peak": {"bf16": 756.0, "fp16": 756.0, "tf32": 378.0},
        "memory_bw_gbs": 2000,
        "pcie": (5, 16),
        "floors": _DC_FLOORS,
    },
    {
        "sku": "H100-NVL-94GB",
        "device_ids": [0x2321],
        "name_re": r"H100 NVL",
        "peak": {"bf16": 835.0, "fp16": 835.0, "tf32": 417.5},
        "memory_bw_gbs": 3900,
        "pcie": (5, 16),
        "floors": _DC_FLOORS,
    },
    {
        "sku": "H200-SXM-141GB",
        "device_ids": [0x2335],
        "name_re": r"H200(?! NVL)",
        "peak": {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7},
        "memory_bw_gbs": 4800,
        "pcie": (5, 16),
        "floors": _DC_FLOORS,
    },
    {
        "sku": "H200-NVL-141GB",
        "device_ids": [0x233B],
        "name_re": r"H200 NVL",
        "peak": {"bf16": 835.0, "fp16": 835.0, "tf32": 417.5},
        "memory_bw_gbs": 4800,
        "pcie": (5, 16),
        "floors": _DC_FLOORS,
    },
    {
        "sku": "A100-SXM4-40GB",
        "device_ids": [0x20B0],
        "name_re": r"A100-SXM4-40GB",
        "peak": {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0},
        "memory_bw_gbs": 1555,
        "pcie": (4, 16),
        "floors": _DC_FLOORS,
    },
    {
        "sku": "A100-SXM4-80GB",
        "device_ids": [0x20B2],
        "name_re": r"A100-SXM4-80GB",
        "peak": {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0},
        "memory_bw_gbs": 2039,
        "pcie": (4, 16),
        "floors": _DC_FLOORS,
    },
    {
        "sku": "A100-PCIe-40GB",
        "device_ids": [0x20F1],
        "name_re": r"A100-PCIE-40GB",
        "peak": {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0},
        "memory_bw_gbs": 1555,
        "pcie": (4, 16),
        "floors": _DC_FLOORS,
    },
    {
        "sku": "A100-PCIe-80GB",
        "device_ids": [0x20B5],
        "name_re": r"A100 80GB PCIe",
        "peak": {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0},
        "memory_bw_gbs": 1935,
        "pcie": (4, 16),
        "floors": _DC_FLOORS,
    },
    {
        "sku": "L40S",
        "device_ids": [0x26B9],
        "name_re": r"\bL40S\b",
        "peak": {"bf16": 362.05, "fp16": 362.05, "tf32": 183.0},
        "memory_bw_gbs": 864,
        "pcie": (4, 16),
        "floors": _DC_FLOORS,
    },
    {
        "sku": "A10",
        "device_ids": [0x2236],
        "name_re": r"\bA10\b",
        "peak": {"bf16": 125.0, "fp16": 125.0, "tf32": 62.5},
        "memory_bw_gbs": 600,
        "pcie": (4, 16),
        "floors": _DC_FLOORS,
    },
    # T4: 70 W board that sits on its power cap under matmul load; it measures far below its
    # 65 TFLOP/s fp16 datasheet figure, hence the low floor. No bf16 or TF32 units.
    {
        "sku": "T4",
        "device_ids": [0x1EB8],
        "name_re": r"\bT4\b",
        "peak": {"fp16": 65.0, "fp32": 8.1},
        "memory_bw_gbs": 320,
        "pcie": (3, 16),
        "floors": {"matmul": 0.30, "memory_bw": 0.65, "pcie": 0.55},
    },
    {
        "sku": "RTX-4090",
        "device_ids": [0x2684],
        "name_re": r"RTX 4090",
        "peak": {"bf16": 165.2, "fp16": 165.2, "tf32": 82.6},
        "memory_bw_gbs": 1008,
        "pcie": (4, 16),
        "floors": _CONSUMER_FLOORS,
    },
    {
        "sku": "RTX-3090",
        "device_ids": [0x2204],
        "name_re": r"RTX 3090(?! Ti)",
        "peak": {"bf16": 71.0, "fp16": 71.0, "tf32": 35.6},
        "memory_bw_gbs": 936,
        "pcie": (4, 16),
        "floors": _CONSUMER_FLOORS,
    },
]
# Usable payload bandwidth of one PCIe lane per direction, GB/s (after line encoding).
PCIE_LANE_GBS = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}

# Clock-event ("throttle") reason bits from nvml.h; the ones that mean the card is being slowed
# by a fault or by cooling/power delivery fail the check. SW power cap under full load is normal.
CLOCK_EVENT_BITS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
BAD_CLOCK_EVENT_MASK = 0x8 | 0x20 | 0x40 | 0x80

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


# ============================================================================================
# Small helpers
# ============================================================================================
def check(name, verdict, measured=None, expected=None, detail=""):
    """One check result: what was measured, what was expected, and the verdict."""
    return {"name": name, "verdict": verdict, "measured": measured, "expected": expected, "detail": detail}


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _round(value, digits=2):
    return None if value is None else round(float(value), digits)


def norm_bus_id(bus_id):
    """'00000000:3B:00.0' / '0000:3b:00.0' / '0000:3b:00' -> '3b:00' (bus:device, the part every
    source agrees on; PCI domains differ in width between NVML, sysfs and the kernel log)."""
    parts = _text(bus_id).lower().split(":")
    if len(parts) < 2:
        return _text(bus_id).lower()
    return "{}:{}".format(parts[-2][-2:], parts[-1].split(".")[0])


def hex_id(device_id):
    return None if not device_id else f"0x{device_id:04x}"


def decode_clock_events(mask):
    return [name for bit, name in sorted(CLOCK_EVENT_BITS.items()) if mask & bit]


def worst_verdict(verdicts):
    verdicts = list(verdicts)
    for v in (FAIL, WARN):
        if v in verdicts:
            return v
    return PASS


# ============================================================================================
# Host-level facts that need no NVML: PCI bus, kernel module version, kernel log
# ============================================================================================
def scan_pci_gpus(sysfs_root="/sys"):
    """Bus ids of NVIDIA GPU functions on the PCI bus (independent of the driver)."""
    base = os.path.join(sysfs_root, "bus", "pci", "devices")
    found = []
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return None
    for entry in entries:
        try:
            with open(os.path.join(base, entry, "vendor")) as fh:
                vendor = fh.read().strip().lower()
            with open(os.path.join(base, entry, "class")) as fh:
                pci_class = fh.read().strip().lower()
        except OSError:
            continue
        if vendor == NVIDIA_PCI_VENDOR and pci_class.startswith(GPU_PCI_CLASSES):
            found.append(entry)
    return found


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
            proc = subprocess.run(cmd, capture_output=True, timeout=20)
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


# ============================================================================================
# NVML facts (the nvml argument is the pynvml module, or a fake of it in tests)
# ============================================================================================
def load_nvml():
    """(module, source) for NVML bindings: the installed pynvml, else the vendored copy."""
    try:
        import pynvml  # noqa: PLC0415 - optional dependency

        return pynvml, "installed pynvml " + str(getattr(pynvml, "__file__", ""))
    except ImportError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    try:
        import autoglm_vendored_pynvml as pynvml  # noqa: PLC0415

        return pynvml, "vendored " + os.path.join(here, "autoglm_vendored_pynvml.py")
    except ImportError:
        return None, "no NVML Python bindings (nvidia-ml-py) installed or vendored"
    finally:
        sys.path.remove(here)


def _nv(fn, *args):
    """Call an NVML function: (value, None) or (None, 'not supported' / error text)."""
    try:
        return fn(*args), None
    except Exception as exc:  # NVMLError subclasses; their str() names the NVML error
        return None, str(exc) or type(exc).__name__


def nvml_gpu_facts(nvml, index):
    """Everything NVML says about GPU `index` that the checks use, as plain values."""
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    facts = {"index": index, "errors": {}}

    def get(key, fn, *args):
        value, err = _nv(fn, handle, *args)
        if err is not None:
            facts["errors"][key] = err
        return value

    facts["name"] = _text(get("name", nvml.nvmlDeviceGetName))
    facts["uuid"] = _text(get("uuid", nvml.nvmlDeviceGetUUID))
    pci = get("pci", nvml.nvmlDeviceGetPciInfo)
    facts["pci_bus_id"] = _text(pci.busId) if pci is not None else None
    facts["pci_device_id"] = (pci.pciDeviceId >> 16) if pci is not None else None
    cc = get("compute_capability", nvml.nvmlDeviceGetCudaComputeCapability)
    facts["compute_capability"] = list(cc) if cc is not None else None
    mem = get("memory", nvml.nvmlDeviceGetMemoryInfo)
    facts["memory_total_bytes"] = mem.total if mem is not None else None
    facts["pcie"] = {
        "current_gen": get("pcie_current_gen", nvml.nvmlDeviceGetCurrPcieLinkGeneration),
        "current_width": get("pcie_current_width", nvml.nvmlDeviceGetCurrPcieLinkWidth),
        "max_gen": get("pcie_max_gen", nvml.nvmlDeviceGetMaxPcieLinkGeneration),
        "max_width": get("pcie_max_width", nvml.nvmlDeviceGetMaxPcieLinkWidth),
        "gpu_max_gen": get("pcie_gpu_max_gen", nvml.nvmlDeviceGetGpuMaxPcieLinkGeneration),
    }
    facts["persistence_mode"] = get("persistence_mode", nvml.nvmlDeviceGetPersistenceMode)
    ecc_mode = get("ecc_mode", nvml.nvmlDeviceGetEccMode)
    facts["ecc_mode"] = {"current": ecc_mode[0], "pending": ecc_mode[1]} if ecc_mode is not None else None
    facts["ecc_counts"] = ecc_counts(nvml, handle) if ecc_mode is not None else None
    facts["retired_pages_pending"] = get("retired_pages_pending", nvml.nvmlDeviceGetRetiredPagesPendingStatus)
    rows = get("remapped_rows", nvml.nvmlDeviceGetRemappedRows)
    facts["remapped_rows"] = (
        {"correctable": rows[0], "uncorrectable": rows[1], "pending": bool(rows[2]), "failure": bool(rows[3])}
        if rows is not None
        else None
    )
    facts["clock_events_idle"] = clock_event_mask(nvml, handle)
    facts["temperature_c"] = get("temperature", nvml.nvmlDeviceGetTemperature, nvml.NVML_TEMPERATURE_GPU)
    facts["temperature_slowdown_c"] = get(
        "temperature_slowdown", nvml.nvmlDeviceGetTemperatureThreshold, nvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN
    )
    power = get("power_limit", nvml.nvmlDeviceGetEnforcedPowerLimit)
    facts["power_limit_w"] = power / 1000.0 if power is not None else None
    return facts


def ecc_counts(nvml, handle):
    """Corrected/uncorrected ECC counts, volatile (since driver load) and aggregate (lifetime)."""
    out = {}
    for etype, ename in (
        (nvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, "corrected"),
        (nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, "uncorrected"),
    ):
        for ctype, cname in ((nvml.NVML_VOLATILE_ECC, "volatile"), (nvml.NVML_AGGREGATE_ECC, "aggregate")):
            value, _ = _nv(nvml.nvmlDeviceGetTotalEccErrors, handle, etype, ctype)
            out[f"{ename}_{cname}"] = value
    return out


def clock_event_mask(nvml, handle):
    fn = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    value, _ = _nv(fn, handle)
    return value


class LoadSampler(threading.Thread):
    """Samples NVML while the GPU is loaded: PCIe links drop to Gen1 at idle, so the link (and
    the clock-event reasons, clocks, temperature and power) must be read under load."""

    def __init__(self, nvml, index, period_s=0.02):
        threading.Thread.__init__(self, daemon=True)
        self.nvml, self.handle, self.period_s = nvml, nvml.nvmlDeviceGetHandleByIndex(index), period_s
        self.stop_event = threading.Event()
        self.samples = {
            "pcie_gen": [],
            "pcie_width": [],
            "clock_events": 0,
            "sm_clock_mhz": [],
            "temperature_c": [],
            "power_w": [],
        }

    def run(self):
        n, h, s = self.nvml, self.handle, self.samples
        while not self.stop_event.is_set():
            for key, fn, args in (
                ("pcie_gen", n.nvmlDeviceGetCurrPcieLinkGeneration, ()),
                ("pcie_width", n.nvmlDeviceGetCurrPcieLinkWidth, ()),
                ("sm_clock_mhz", n.nvmlDeviceGetClockInfo, (n.NVML_CLOCK_SM,)),
                ("temperature_c", n.nvmlDeviceGetTemperature, (n.NVML_TEMPERATURE_GPU,)),
                ("power_w", n.nvmlDeviceGetPowerUsage, ()),
            ):
                value, _ = _nv(fn, h, *args)
                if value is not None:
                    s[key].append(value / 1000.0 if key == "power_w" else value)
            mask = clock_event_mask(n, h)
            if mask is not None:
                s["clock_events"] |= mask
            self.stop_event.wait(self.period_s)

    def stop(self):
        self.stop_event.set()
        self.join(5)
        s = self.samples
        return {
            "pcie_gen": max(s["pcie_gen"]) if s["pcie_gen"] else None,
            "pcie_width": max(s["pcie_width"]) if s["pcie_width"] else None,
            "clock_events": s["clock_events"],
            "sm_clock_mhz_max": max(s["sm_clock_mhz"]) if s["sm_clock_mhz"] else None,
            "temperature_c_max": max(s["temperature_c"]) if s["temperature_c"] else None,
            "power_w_max": _round(max(s["power_w"]), 1) if s["power_w"] else None,
            "samples": len(s["pcie_gen"]),
        }


# ============================================================================================
# Verdict logic (pure: facts + options -> checks). Unit-tested with a fake NVML layer.
# ============================================================================================
def match_sku(pci_device_id, name):
    """The reference-table row for a GPU: by PCI device id, else by name; None when unknown."""
    for row in SKU_TABLE:
        if pci_device_id is not None and pci_device_id in row["device_ids"]:
            return row
    for row in SKU_TABLE:
        if name and re.search(row["name_re"], name):
            return row
    return None


def evaluate_driver(nvml_version, module_version):
    if module_version is None:  # NVML works, so a module is loaded; this sandbox hides /proc/driver
        return check(
            "driver_version",
            WARN,
            {"nvml": nvml_version, "kernel_module": None},
            "equal",
            "/proc/driver/nvidia/version not readable: user-space/kernel agreement not verified",
        )
    if nvml_version is None:
        return check("driver_version", FAIL, None, module_version, "NVML could not report the driver version")
    if nvml_version != module_version:
        return check(
            "driver_version",
            FAIL,
            {"nvml": nvml_version, "kernel_module": module_version},
            "equal",
            f"user-space driver {nvml_version} differs from loaded kernel module {module_version}: reboot needed",
        )
    return check("driver_version", PASS, {"nvml": nvml_version, "kernel_module": module_version}, "equal")


def evaluate_gpu_count(pci_count, nvml_count, expected, torch_count=None):
    measured = {"pci": pci_count, "nvml": nvml_count}
    if torch_count is not None:
        measured["torch"] = torch_count
    problems = []
    if pci_count is not None and pci_count != nvml_count:
        problems.append(f"{pci_count} GPU(s) on the PCI bus but NVML sees {nvml_count} (a GPU failed to initialise)")
    if expected is not None and nvml_count != expected:
        problems.append(f"inventory expects {expected} GPU(s), NVML sees {nvml_count}")
    if torch_count is not None and torch_count != nvml_count:
        problems.append(f"CUDA (torch) sees {torch_count} GPU(s), NVML {nvml_count}")
    detail = (
        "; ".join(problems)
        if problems
        else ("" if expected is not None else "inventory gives no expected count: only PCI/NVML agreement judged")
    )
    return check(
        "gpu_count", FAIL if problems else PASS, measured, expected if expected is not None else "pci == nvml", detail
    )


def evaluate_gpu_health(facts, opts, xids=None, xid_source=None, load=None):
    """Per-GPU quick-level checks from NVML facts, kernel-log XIDs and under-load samples."""
    checks = []
    sku = match_sku(facts.get("pci_device_id"), facts.get("name"))
    checks.append(
        check(
            "identity",
            PASS if facts.get("uuid") else FAIL,
            {
                "name": facts.get("name"),
                "uuid": facts.get("uuid"),
                "pci_bus_id": facts.get("pci_bus_id"),
                "pci_device_id": hex_id(facts.get("pci_device_id")),
                "sku": sku["sku"] if sku else None,
            },
            "name and UUID readable",
            "" if sku else "SKU not in the reference table: throughput figures are reported, not judged",
        )
    )
    cc = facts.get("compute_capability")
    min_cc = opts.min_compute_capability
    if cc is None:
        checks.append(
            check("compute_capability", FAIL, None, f">= {min_cc}", facts["errors"].get("compute_capability", ""))
        )
    else:
        ok = tuple(cc) >= tuple(int(x) for x in str(min_cc).split("."))
        checks.append(check("compute_capability", PASS if ok else FAIL, "{}.{}".format(*cc), f">= {min_cc}"))
    total = facts.get("memory_total_bytes")
    gib = None if total is None else total / 2.0**30
    checks.append(
        check(
            "memory_total_gib",
            FAIL if gib is None or gib < opts.min_memory_gib else PASS,
            _round(gib),
            f">= {opts.min_memory_gib}",
        )
    )
    checks.append(evaluate_pcie(facts["pcie"], load))
    pm = facts.get("persistence_mode")
    if pm is None:
        checks.append(
            check(
                "persistence_mode",
                SKIP,
                None,
                "enabled",
                "not readable: " + facts["errors"].get("persistence_mode", ""),
            )
        )
    else:
        checks.append(
            check(
                "persistence_mode",
                PASS if pm else (FAIL if opts.require_persistence_mode else WARN),
                "enabled" if pm else "disabled",
                "enabled",
                ""
                if pm
                else "persistence mode off: driver state is torn down between jobs (nvidia-persistenced should run)",
            )
        )
    checks.extend(evaluate_ecc(facts, opts))
    checks.append(evaluate_memory_retirement(facts))
    checks.append(evaluate_xids(facts.get("pci_bus_id"), xids, xid_source))
    checks.append(evaluate_clock_events(facts.get("clock_events_idle"), load))
    checks.append(evaluate_temperature(facts, opts, load))
    return checks


def evaluate_pcie(pcie, load):
    max_gen, max_width = pcie.get("max_gen"), pcie.get("max_width")
    if max_gen is None or max_width is None:
        return check("pcie_link", SKIP, None, None, "NVML does not report this GPU's PCIe link maximum")
    expected = f"Gen{max_gen} x{max_width}"
    slot_note = ""
    if pcie.get("gpu_max_gen") and pcie["gpu_max_gen"] > max_gen:
        slot_note = " (GPU supports Gen{}; the slot/system limits it to Gen{})".format(pcie["gpu_max_gen"], max_gen)
    if load and load.get("pcie_gen") is not None:
        gen, width = load["pcie_gen"], load["pcie_width"]
        measured = f"Gen{gen} x{width} under load"
        if gen < max_gen or (width or 0) < max_width:
            return check(
                "pcie_link", FAIL, measured, expected, "degraded link: trained below the maximum under load" + slot_note
            )
        return check("pcie_link", WARN if slot_note else PASS, measured, expected, slot_note.strip())
    gen, width = pcie.get("current_gen"), pcie.get("current_width")
    measured = f"Gen{gen} x{width} at idle"
    if gen is not None and width is not None and (gen < max_gen or width < max_width):
        return check(
            "pcie_link",
            WARN,
            measured,
            expected,
            "read at idle only (no CUDA load possible); idle GPUs lower the link, so not judged" + slot_note,
        )
    return check("pcie_link", WARN if slot_note else PASS, measured, expected, slot_note.strip())


def evaluate_ecc(facts, opts):
    mode, counts = facts.get("ecc_mode"), facts.get("ecc_counts") or {}
    if mode is None:
        return [
            check(
                "ecc_mode",
                SKIP,
                None,
                "enabled",
                "ECC not supported on this GPU (" + facts["errors"].get("ecc_mode", "") + ")",
            )
        ]
    out = []
    enabled = bool(mode["current"])
    pending_note = "" if mode["pending"] == mode["current"] else "; a change is pending until the next reboot"
    out.append(
        check(
            "ecc_mode",
            PASS if enabled else (FAIL if opts.require_ecc else WARN),
            "enabled" if enabled else "disabled",
            "enabled",
            pending_note.lstrip("; "),
        )
    )
    vol, agg = counts.get("uncorrected_volatile"), counts.get("uncorrected_aggregate")
    measured = {
        "uncorrected_volatile": vol,
        "uncorrected_aggregate": agg,
        "corrected_volatile": counts.get("corrected_volatile"),
    }
    if vol:
        out.append(
            check(
                "ecc_uncorrected",
                FAIL,
                measured,
                "0 since boot",
                f"{vol} uncorrectable ECC error(s) since the driver loaded",
            )
        )
    elif agg:
        out.append(
            check(
                "ecc_uncorrected", WARN, measured, "0 since boot", f"none since boot, but {agg} in the GPU's lifetime"
            )
        )
    elif vol is None and enabled:
        out.append(check("ecc_uncorrected", WARN, measured, "0 since boot", "counters not readable"))
    else:
        out.append(check("ecc_uncorrected", PASS, measured, "0 since boot"))
    return out


def evaluate_memory_retirement(facts):
    """Row remapping (Ampere and later) or page retirement (earlier): pending or failed = fail."""
    rows = facts.get("remapped_rows")
    if rows is not None:
        if rows["failure"]:
            return check("memory_remap", FAIL, rows, "no remap failure", "row remapping failed: the GPU needs service")
        if rows["pending"]:
            return check("memory_remap", FAIL, rows, "no pending remap", "row remap pending: GPU reset/reboot needed")
        return check("memory_remap", PASS, rows, "no pending remap, no failure")
    pending = facts.get("retired_pages_pending")
    if pending is not None:
        return check(
            "memory_remap",
            FAIL if pending else PASS,
            {"retired_pages_pending": bool(pending)},
            "no pending page retirement",
            "page retirement pending: reboot needed" if pending else "",
        )
    return check("memory_remap", SKIP, None, None, "neither row remapping nor page retirement is reported")


def evaluate_xids(bus_id, xids, source):
    if xids is None:
        return check("xid_events", WARN, None, "no hardware XIDs since boot", "kernel log not readable: " + str(source))
    mine = [e for e in xids if bus_id and e["bus"] == norm_bus_id(bus_id)]
    hardware = [e for e in mine if e["hardware"]]
    measured = {"count": len(mine), "xids": sorted({e["xid"] for e in mine})}
    if hardware:
        return check(
            "xid_events",
            FAIL,
            measured,
            "no hardware XIDs since boot",
            "; ".join(sorted({"Xid {} ({})".format(e["xid"], HARDWARE_XIDS[e["xid"]]) for e in hardware})),
        )
    if mine:
        return check(
            "xid_events",
            WARN,
            measured,
            "no hardware XIDs since boot",
            "application-class XIDs seen (usually a crashed job)",
        )
    return check("xid_events", PASS, measured, "no hardware XIDs since boot", "source: " + str(source))


def evaluate_clock_events(idle_mask, load):
    load_mask = load.get("clock_events") if load else None
    mask = (idle_mask or 0) | (load_mask or 0)
    if idle_mask is None and load_mask is None:
        return check("clock_event_reasons", SKIP, None, None, "NVML does not report clock-event reasons")
    names = decode_clock_events(mask)
    bad = decode_clock_events(mask & BAD_CLOCK_EVENT_MASK)
    where = "idle and under load" if load_mask is not None else "idle only"
    if bad:
        return check(
            "clock_event_reasons",
            FAIL,
            names,
            "no thermal/power-brake/hardware slowdown",
            "GPU slowed by " + ", ".join(bad) + " (" + where + ")",
        )
    return check("clock_event_reasons", PASS, names, "no thermal/power-brake/hardware slowdown", "read " + where)


def evaluate_temperature(facts, opts, load):
    temps = [t for t in (facts.get("temperature_c"), (load or {}).get("temperature_c_max")) if t is not None]
    if not temps:
        return check("temperature_c", SKIP, None, None, "temperature not readable")
    limit = opts.max_temperature_c
    slowdown = facts.get("temperature_slowdown_c")
    if slowdown:
        limit = min(limit, slowdown)
    hottest = max(temps)
    return check(
        "temperature_c",
        FAIL if hottest >= limit else PASS,
        hottest,
        f"< {limit}",
        f"max of idle and under-load readings; limit is min(configured, NVML slowdown threshold {slowdown})",
    )


def evaluate_figure(metric, measured, peak, floor_fraction, unit, detail_extra=""):
    """Judge one throughput figure: pass at or above floor_fraction * peak. peak None means the
    SKU (or this figure for it) has no reference: the figure is reported, not judged."""
    measured = _round(measured)
    if peak is None or floor_fraction is None:
        return check(
            metric,
            INFO,
            measured,
            None,
            (
                "no reference for this SKU: figure reported, not judged; the verdict rests on "
                "correctness " + detail_extra
            ).strip(),
        )
    floor = floor_fraction * peak
    expected = {"min": _round(floor), "spec_peak": peak, "floor_fraction": floor_fraction, "unit": unit}
    verdict = PASS if measured is not None and measured >= floor else FAIL
    frac = "" if measured is None else f"{measured / peak:.0%} of spec peak"
    return check(metric, verdict, measured, expected, (frac + " " + detail_extra).strip())


def sku_reference(sku, metric_kind, key=None):
    """(peak, floor_fraction) from a table row, or (None, None) for an unknown SKU/figure."""
    if sku is None:
        return None, None
    if metric_kind == "matmul":
        peak = sku["peak"].get(key)
    elif metric_kind == "memory_bw":
        peak = sku["memory_bw_gbs"]
    else:
        peak = key
    return (peak, sku["floors"][metric_kind]) if peak else (None, None)


def pcie_peak_gbs(gen, width):
    if gen is None or width is None or gen not in PCIE_LANE_GBS:
        return None
    return round(PCIE_LANE_GBS[gen] * width, 2)


def evaluate_burn(series, tolerance, ecc_before, ecc_after, clock_events, temp_max, temp_limit):
    """Burn verdicts: throughput stable within tolerance of its median, no bad clock events, no
    new uncorrected ECC errors, temperature under the limit."""
    out = []
    if series:
        med = statistics.median(series)
        worst = min(series)
        low = [i for i, v in enumerate(series) if v < (1.0 - tolerance) * med]
        out.append(
            check(
                "burn_throughput_stability",
                FAIL if low else PASS,
                {"median_tflops": _round(med), "min_tflops": _round(worst), "samples": len(series)},
                f"every sample >= {1 - tolerance:.0%} of median",
                f"{len(low)} sample(s) below: throughput sagged under sustained load" if low else "",
            )
        )
    else:
        out.append(check("burn_throughput_stability", FAIL, None, "samples", "no burn samples collected"))
    bad = decode_clock_events((clock_events or 0) & BAD_CLOCK_EVENT_MASK)
    out.append(
        check(
            "burn_clock_event_reasons",
            FAIL if bad else PASS,
            decode_clock_events(clock_events or 0),
            "no thermal/power-brake/hardware slowdown",
            ", ".join(bad),
        )
    )
    delta = {}
    for key in ("corrected_volatile", "uncorrected_volatile"):
        a, b = (ecc_before or {}).get(key), (ecc_after or {}).get(key)
        delta[key] = (b - a) if a is not None and b is not None else None
    verdict = FAIL if delta.get("uncorrected_volatile") else (WARN if delta.get("corrected_volatile") else PASS)
    if ecc_before is None:
        verdict = SKIP
    out.append(check("burn_ecc_delta", verdict, delta, "no new uncorrected errors"))
    out.append(
        check(
            "burn_temperature_c",
            SKIP if temp_max is None else (FAIL if temp_max >= temp_limit else PASS),
            temp_max,
            f"< {temp_limit}",
        )
    )
    return out


def evaluate_p2p(matrix, require_all):
    """matrix[i][j] is True/False/None (None on the diagonal)."""
    n = len(matrix)
    missing = [f"{i}->{j}" for i in range(n) for j in range(n) if i != j and not matrix[i][j]]
    if not missing:
        return check("p2p_access", PASS, matrix, "all pairs")
    return check(
        "p2p_access",
        FAIL if require_all else WARN,
        matrix,
        "all pairs",
        "no peer access for " + ", ".join(missing) + ("" if require_all else " (not required here)"),
    )


def allreduce_expected(world, numel, modulus=251):
    """Element i of the summed tensor when rank r contributes (i % modulus) + r."""
    return [world * (i % modulus) + world * (world - 1) // 2 for i in range(numel)]


def bus_bandwidth_gbs(nbytes, seconds, world):
    """NCCL-tests' all-reduce bus bandwidth: algbw * 2(n-1)/n."""
    if seconds <= 0 or world < 2:
        return None
    return nbytes / seconds / 1e9 * 2.0 * (world - 1) / world


def evaluate_allreduce(result):
    if result is None or result.get("error"):
        return check("nccl_allreduce", FAIL, None, "correct sum", (result or {}).get("error", "no result"))
    return check(
        "nccl_allreduce",
        PASS if result["correct"] else FAIL,
        {
            "busbw_gbs": _round(result.get("busbw_gbs")),
            "world": result["world"],
            "bytes": result["bytes"],
            "max_abs_error": result["max_abs_error"],
        },
        "correct sum",
        "" if result["correct"] else "all-reduce returned a wrong sum",
    )


def host_verdict(report):
    all_checks = list(report["host_checks"])
    for gpu in report["gpus"]:
        all_checks.extend(gpu["checks"])
    counts = {v: 0 for v in (PASS, WARN, FAIL, SKIP, INFO)}
    for c in all_checks:
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    failures = [
        "{}{}: {}".format(
            "" if c.get("_gpu") is None else "gpu{} ".format(c["_gpu"]), c["name"], c["detail"] or c["measured"]
        )
        for c in all_checks
        if c["verdict"] == FAIL
    ]
    return (FAIL if counts[FAIL] else PASS), counts, failures


# ============================================================================================
# CUDA work through torch (correctness, throughput, memory test, burn, collectives)
# ============================================================================================
def import_torch():
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # same order as NVML
    try:
        import torch  # noqa: PLC0415 - optional dependency

        return torch, None
    except Exception as exc:  # ImportError, or a broken install raising OSError
        return None, f"{type(exc).__name__}: {exc}"


def torch_index_for(torch, uuid, fallback):
    """torch device index of the GPU with this NVML UUID ('GPU-...')."""
    for i in range(torch.cuda.device_count()):
        props_uuid = getattr(torch.cuda.get_device_properties(i), "uuid", None)
        if props_uuid is not None and uuid and str(props_uuid) in uuid:
            return i
    return fallback


def matmul_correctness(torch, dev, n=1024):
    """fp32 matmul (TF32 off) against a float64 CPU reference: relative Frobenius error."""
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        gen = torch.Generator().manual_seed(int(time.time()))
        a = torch.randn(n, n, generator=gen, dtype=torch.float32)
        b = torch.randn(n, n, generator=gen, dtype=torch.float32)
        out = torch.full((n, n), float("nan"), device=dev)  # poisoned: every element must be written
        torch.matmul(a.to(dev), b.to(dev), out=out)
        got = out.cpu().double()
        ref = a.double() @ b.double()
        rel = (torch.linalg.norm(got - ref) / torch.linalg.norm(ref)).item()
        finite = bool(torch.isfinite(got).all().item())
        return {"rel_error": rel, "finite": finite, "n": n}
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev


def timed(torch, dev, fn, target_s=0.15, repeats=5, warmup_s=0.2):
    """Median seconds per call of fn on dev, timed with CUDA events over batches of calls.

    The warm-up is by time, not by count: a GPU boosts above its sustained clock for a moment
    and then settles at its power cap; a handful of warm-up calls would time the boost and
    over-report (seen on the H100: +5 % for fp16 matmul)."""
    deadline = time.perf_counter() + warmup_s
    while True:
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize(dev)
        if time.perf_counter() >= deadline:
            break
    per = max(time.perf_counter() - t0, 1e-6)
    batch = max(1, min(500, int(target_s / per)))
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(batch):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1000.0 / batch)
    return statistics.median(times)


def matmul_tflops(torch, dev, dtype_name, n=8192):
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": torch.float32, "fp32": torch.float32}[dtype_name]
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = dtype_name == "tf32"
    try:
        a = torch.randn(n, n, device=dev, dtype=dtype)
        b = torch.randn(n, n, device=dev, dtype=dtype)
        c = torch.empty(n, n, device=dev, dtype=dtype)
        secs = timed(torch, dev, lambda: torch.matmul(a, b, out=c), target_s=0.2, warmup_s=1.0)
        return 2.0 * n**3 / secs / 1e12
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev


def device_memory_bandwidth_gbs(torch, dev, nbytes=1 << 30):
    """Device-to-device copy, counting bytes read plus bytes written."""
    src = torch.randint(0, 255, (nbytes,), dtype=torch.uint8, device=dev)
    dst = torch.empty_like(src)
    secs = timed(torch, dev, lambda: dst.copy_(src))
    return 2.0 * nbytes / secs / 1e9


def pcie_bandwidth_gbs(torch, dev, nbytes=256 << 20):
    """Pinned host<->device copy bandwidth in each direction."""
    host = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
    host.fill_(7)
    devbuf = torch.empty(nbytes, dtype=torch.uint8, device=dev)
    h2d = timed(torch, dev, lambda: devbuf.copy_(host, non_blocking=True))
    d2h = timed(torch, dev, lambda: host.copy_(devbuf, non_blocking=True))
    return nbytes / h2d / 1e9, nbytes / d2h / 1e9


def memory_pattern_test(torch, dev, fraction, block_bytes=512 << 20, headroom_bytes=1 << 30):
    """Fill `fraction` of VRAM (capped at free memory less headroom) with patterns; verify all
    blocks only after all were written, so that addressing faults between blocks show."""
    torch.cuda.empty_cache()
    free, total = torch.cuda.mem_get_info(dev)
    target = min(int(total * fraction), max(0, free - headroom_bytes - block_bytes))
    numel = block_bytes // 8
    blocks = []
    while (len(blocks) + 1) * block_bytes <= target:
        blocks.append(torch.empty(numel, dtype=torch.int64, device=dev))
    expect = torch.empty(numel, dtype=torch.int64, device=dev)
    base = torch.arange(numel, dtype=torch.int64, device=dev)
    t0 = time.perf_counter()
    errors = {}
    constants = (("zeros", 0), ("ones", -1), ("0xAA", -0x5555555555555556), ("0x55", 0x5555555555555555))
    for name, value in constants:
        for blk in blocks:
            blk.fill_(value)
        errors[name] = int(sum((blk != value).sum().item() for blk in blocks))
    for name, invert in (("address", False), ("inverse_address", True)):
        for i, blk in enumerate(blocks):
            torch.add(base, i * numel, out=blk)
            if invert:
                torch.bitwise_not(blk, out=blk)
        bad = 0
        for i, blk in enumerate(blocks):
            torch.add(base, i * numel, out=expect)
            if invert:
                torch.bitwise_not(expect, out=expect)
            bad += int((blk != expect).sum().item())
        errors[name] = bad
    torch.cuda.synchronize(dev)
    tested = len(blocks) * block_bytes
    del blocks, expect, base
    torch.cuda.empty_cache()
    return {
        "tested_gib": _round(tested / 2.0**30),
        "total_gib": _round(total / 2.0**30),
        "errors": errors,
        "seconds": _round(time.perf_counter() - t0),
    }


def pcie_load(torch, dev, nbytes=256 << 20, seconds=0.4):
    """Keep host->device copies in flight for a while (the link trains up under load)."""
    host = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
    devbuf = torch.empty(nbytes, dtype=torch.uint8, device=dev)
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        for _ in range(4):
            devbuf.copy_(host, non_blocking=True)
        torch.cuda.synchronize(dev)


def compute_load(torch, dev, seconds=0.4, n=4096):
    a = torch.randn(n, n, device=dev, dtype=torch.float16)
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        for _ in range(8):
            torch.matmul(a, a)
        torch.cuda.synchronize(dev)
    del a


def burn(torch, nvml, devices, minutes, window_s=5.0, n=8192):
    """Sustained matmul load on every GPU at once; per-window TFLOP/s and NVML samples."""
    per_gpu = {}
    for nvml_index, dev, dtype_name in devices:
        dtype = torch.bfloat16 if dtype_name == "bf16" else torch.float16
        a = torch.randn(n, n, device=dev, dtype=dtype)
        b = torch.randn(n, n, device=dev, dtype=dtype)
        handle = nvml.nvmlDeviceGetHandleByIndex(nvml_index)
        per_gpu[nvml_index] = {
            "dev": dev,
            "a": a,
            "b": b,
            "c": torch.empty_like(a),
            "series": [],
            "ecc_before": ecc_counts(nvml, handle),
            "sampler": LoadSampler(nvml, nvml_index, 0.5),
            "dtype": dtype_name,
            "batch": 20,
        }
    for g in per_gpu.values():
        g["sampler"].start()
    t_end = time.perf_counter() + minutes * 60.0
    while time.perf_counter() < t_end:
        marks = {}
        for idx, g in per_gpu.items():
            with torch.cuda.device(g["dev"]):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(g["batch"]):
                    torch.matmul(g["a"], g["b"], out=g["c"])
                end.record()
                marks[idx] = (start, end)
        for idx, (start, end) in marks.items():
            end.synchronize()
            secs = start.elapsed_time(end) / 1000.0
            g = per_gpu[idx]
            g["series"].append(2.0 * n**3 * g["batch"] / secs / 1e12)
            g["batch"] = max(1, min(5000, int(g["batch"] * window_s / max(secs, 1e-3))))
    out = {}
    for idx, g in per_gpu.items():
        load = g["sampler"].stop()
        series = g["series"][1:] if len(g["series"]) > 2 else g["series"]  # first window: clocks ramping
        out[idx] = {
            "series": series,
            "load": load,
            "ecc_before": g["ecc_before"],
            "ecc_after": ecc_counts(nvml, nvml.nvmlDeviceGetHandleByIndex(idx)),
            "dtype": g["dtype"],
        }
        del g["a"], g["b"], g["c"]
    torch.cuda.empty_cache()
    return out


def p2p_matrix(nvml, torch, count):
    """matrix[i][j]: can GPU i read GPU j's memory (NVML p2p status and CUDA agree)."""
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    matrix = []
    for i in range(count):
        row = []
        for j in range(count):
            if i == j:
                row.append(None)
                continue
            status, _ = _nv(nvml.nvmlDeviceGetP2PStatus, handles[i], handles[j], nvml.NVML_P2P_CAPS_INDEX_READ)
            ok = status == nvml.NVML_P2P_STATUS_OK
            if torch is not None and ok:
                ok = bool(torch.cuda.can_device_access_peer(i, j))
            row.append(ok)
        matrix.append(row)
    return matrix


def allreduce_worker(rank, world, store_path, backend, out_path, nbytes):
    """One rank of the all-reduce check (run in its own process)."""
    import torch  # noqa: PLC0415
    import torch.distributed as dist  # noqa: PLC0415

    dist.init_process_group(backend, init_method="file://" + store_path, rank=rank, world_size=world)
    try:
        dev = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        numel = nbytes // 4
        base = (torch.arange(numel, device=dev) % 251).to(torch.float32)
        x = base + rank
        dist.all_reduce(x)
        expected = base * world + world * (world - 1) // 2
        max_err = (x - expected).abs().max().item()
        times = []
        for i in range(8):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(x)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            if i >= 2:  # warm-up rounds excluded
                times.append(time.perf_counter() - t0)
        secs = statistics.median(times)
        if rank == 0:
            result = {
                "world": world,
                "backend": backend,
                "bytes": numel * 4,
                "correct": max_err == 0.0,
                "max_abs_error": max_err,
                "seconds": secs,
                "busbw_gbs": bus_bandwidth_gbs(numel * 4, secs, world),
            }
            with open(out_path, "w") as fh:
                json.dump(result, fh)
    finally:
        dist.destroy_process_group()


def run_allreduce(world, backend="nccl", nbytes=256 << 20, timeout_s=180):
    """Start one process per rank (this file, --allreduce-worker) with NVLink multicast off."""
    tmp = tempfile.mkdtemp(prefix="autoglm-allreduce-")
    store, out = os.path.join(tmp, "store"), os.path.join(tmp, "result.json")
    env = dict(os.environ, **NCCL_SAFE_ENV)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--allreduce-worker",
                str(r),
                str(world),
                store,
                backend,
                out,
                str(nbytes),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for r in range(world)
    ]
    logs, deadline = [], time.time() + timeout_s
    try:
        for p in procs:
            stdout, _ = p.communicate(timeout=max(1, deadline - time.time()))
            logs.append(stdout.decode("utf-8", "replace")[-400:])
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        return {"error": f"all-reduce did not finish within {timeout_s} s"}
    if any(p.returncode for p in procs) or not os.path.exists(out):
        return {"error": "all-reduce worker failed: " + " | ".join(s.strip() for s in logs if s.strip())}
    with open(out) as fh:
        return json.load(fh)


# ============================================================================================
# Orchestration
# ============================================================================================
def new_report(opts):
    return {
        "schema": SCHEMA,
        "program_version": PROGRAM_VERSION,
        "host": socket.gethostname(),
        "level": opts.level,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "gpu_present": None,
        "verdict": None,
        "verdict_reason": "",
        "wall_time_s": None,
        "options": vars(opts).copy(),
        "environment": {
            "python": platform.python_version(),
            "python_executable": sys.executable,
            "kernel": platform.release(),
        },
        "host_checks": [],
        "gpus": [],
        "multi_gpu": None,
    }


def run_smoke(
    opts,
    nvml_loader=load_nvml,
    torch_loader=import_torch,
    sysfs_root="/sys",
    proc_version="/proc/driver/nvidia/version",
    kernel_log_reader=read_kernel_log,
):
    """Run every check for opts.level and return the report dict (verdict included)."""
    t_start = time.perf_counter()
    report = new_report(opts)
    pci_gpus = scan_pci_gpus(sysfs_root)
    module_version = read_kernel_module_version(proc_version)
    nvml, nvml_source = nvml_loader()
    report["environment"]["nvml_bindings"] = nvml_source
    report["environment"]["pci_gpus"] = pci_gpus
    nvml_error = None
    if nvml is not None:
        try:
            nvml.nvmlInit()
        except Exception as exc:
            nvml_error = f"NVML init failed: {exc}"
    else:
        nvml_error = nvml_source

    if nvml_error is None:
        count, err = _nv(nvml.nvmlDeviceGetCount)
        if not count:
            nvml_error = "NVML device count failed: " + err if err else None
            _nv(nvml.nvmlShutdown)
            return finish_no_gpu(report, opts, pci_gpus, module_version, nvml_error, t_start)
    else:
        return finish_no_gpu(report, opts, pci_gpus, module_version, nvml_error, t_start)

    try:
        return run_with_nvml(report, opts, nvml, pci_gpus, module_version, torch_loader, kernel_log_reader, t_start)
    finally:
        _nv(nvml.nvmlShutdown)


def finish_no_gpu(report, opts, pci_gpus, module_version, nvml_error, t_start):
    """No usable NVIDIA GPU: say why (no GPU on the bus / no driver / no bindings / NVML error)."""
    report["gpu_present"] = False
    if pci_gpus:
        why = "{} NVIDIA GPU(s) on the PCI bus but the driver stack does not work: {}".format(
            len(pci_gpus), nvml_error or "NVML sees 0 GPUs"
        )
        if module_version is None:
            why += " (no nvidia kernel module loaded)"
    else:
        why = "no NVIDIA GPU/driver: no NVIDIA GPU on the PCI bus" + ("; " + nvml_error if nvml_error else "")
    if "mismatch" in (nvml_error or "").lower():
        why += ": reboot needed"
    report["environment"]["kernel_module_version"] = module_version
    required = opts.require_gpu
    report["host_checks"].append(
        check(
            "nvidia_gpu_present",
            FAIL if required else PASS,
            {"pci_gpus": len(pci_gpus or []), "nvml": nvml_error or "0 GPUs"},
            "at least one working NVIDIA GPU" if required else "none required",
            why,
        )
    )
    if opts.expected_gpus and required:
        report["host_checks"].append(evaluate_gpu_count(len(pci_gpus or []), 0, opts.expected_gpus))
    return finalize(report, t_start, why if required else "no NVIDIA GPU/driver; the inventory says none is needed")


def run_with_nvml(report, opts, nvml, pci_gpus, module_version, torch_loader, kernel_log_reader, t_start):
    report["gpu_present"] = True
    nvml_driver = _text(_nv(nvml.nvmlSystemGetDriverVersion)[0])
    report["environment"].update({"driver_nvml": nvml_driver, "kernel_module_version": module_version})
    report["host_checks"].append(evaluate_driver(nvml_driver, module_version))
    count = nvml.nvmlDeviceGetCount()
    facts = [nvml_gpu_facts(nvml, i) for i in range(count)]

    log_text, log_source = kernel_log_reader()
    xids = parse_xids(log_text) if log_text is not None else None

    torch, torch_error = torch_loader()
    cuda_ok, cuda_error = False, torch_error
    if torch is not None:
        report["environment"]["torch"] = torch.__version__
        report["environment"]["torch_cuda"] = getattr(torch.version, "cuda", None)
        try:
            cuda_ok = bool(torch.cuda.is_available())
            cuda_error = (
                None if cuda_ok else (f"torch {torch.__version__} cannot use CUDA (CPU-only build or driver too old)")
            )
        except Exception as exc:
            cuda_error = f"torch CUDA init failed: {exc}"
    torch_count = torch.cuda.device_count() if cuda_ok else None
    report["host_checks"].append(
        evaluate_gpu_count(None if pci_gpus is None else len(pci_gpus), count, opts.expected_gpus, torch_count)
    )
    if cuda_ok:
        report["host_checks"].append(
            check("torch_cuda", PASS, {"torch": torch.__version__, "cuda": torch.version.cuda}, "CUDA usable")
        )
    else:
        verdict = WARN if opts.allow_missing_torch else FAIL
        report["host_checks"].append(
            check(
                "torch_cuda",
                verdict,
                None,
                "CUDA usable through torch",
                "not run: "
                + str(cuda_error)
                + (
                    " (allowed by --allow-missing-torch)"
                    if opts.allow_missing_torch
                    else ": correctness and throughput checks cannot run"
                ),
            )
        )

    burn_devices = []
    for f in facts:
        gpu = run_gpu(opts, nvml, f, xids, log_source, torch if cuda_ok else None, cuda_error)
        report["gpus"].append(gpu)
        if gpu.get("_torch_dev") is not None:
            burn_devices.append((f["index"], gpu.pop("_torch_dev"), gpu.pop("_burn_dtype")))
        gpu.pop("_torch_dev", None)
        gpu.pop("_burn_dtype", None)

    if opts.level == "burn" and burn_devices:
        run_burn_phase(report, opts, nvml, torch, burn_devices, facts)

    if count > 1 and opts.level in ("standard", "burn"):
        run_multi_gpu(report, opts, nvml, torch if cuda_ok else None, count)
    return finalize(report, t_start)


def run_gpu(opts, nvml, facts, xids, log_source, torch, cuda_error):
    """All checks for one GPU at opts.level."""
    idx = facts["index"]
    sku = match_sku(facts.get("pci_device_id"), facts.get("name"))
    gpu = {
        "index": idx,
        "name": facts.get("name"),
        "uuid": facts.get("uuid"),
        "pci_bus_id": facts.get("pci_bus_id"),
        "pci_device_id": hex_id(facts.get("pci_device_id")),
        "sku": sku["sku"] if sku else None,
        "figures": {},
        "nvml": facts,
        "checks": [],
    }
    load, cuda_checks = None, []
    if torch is not None:
        dev = torch.device("cuda", torch_index_for(torch, facts.get("uuid"), idx))
        sampler = LoadSampler(nvml, idx)
        sampler.start()
        try:
            pcie_load(torch, dev)
            compute_load(torch, dev)
        finally:
            load = sampler.stop()
        gpu["under_load"] = load
        cuda_checks.append(guarded("cuda_matmul_correctness", lambda: correctness_check(torch, dev)))
        if opts.level in ("standard", "burn"):
            cuda_checks.extend(throughput_checks(opts, torch, dev, facts, sku, gpu["figures"]))
        gpu["_torch_dev"] = dev
        cc = facts.get("compute_capability") or [0, 0]
        gpu["_burn_dtype"] = "bf16" if cc[0] >= 8 else "fp16"
    else:
        cuda_checks.append(
            check(
                "cuda_matmul_correctness",
                WARN if opts.allow_missing_torch else FAIL,
                None,
                "rel error < 1e-4 vs CPU",
                "not run: " + str(cuda_error),
            )
        )
    gpu["checks"] = evaluate_gpu_health(facts, opts, xids, log_source, load) + cuda_checks
    for c in gpu["checks"]:
        c["_gpu"] = idx
    return gpu


def guarded(name, fn):
    """Run one check; an exception becomes a failed check, not a crashed program."""
    try:
        return fn()
    except Exception as exc:
        return check(name, FAIL, None, None, f"check raised {type(exc).__name__}: {str(exc)[:300]}")


def correctness_check(torch, dev):
    r = matmul_correctness(torch, dev)
    ok = r["finite"] and r["rel_error"] < 1e-4
    return check(
        "cuda_matmul_correctness",
        PASS if ok else FAIL,
        {"rel_error": float("{:.3g}".format(r["rel_error"])), "all_finite": r["finite"], "n": r["n"]},
        "rel error < 1e-4 vs float64 CPU reference, all finite",
    )


def throughput_checks(opts, torch, dev, facts, sku, figures):
    out = []
    cc = facts.get("compute_capability") or [0, 0]
    dtypes = ["fp16"] + (["bf16", "tf32"] if cc[0] >= 8 else ["fp32"])
    for dt in dtypes:
        key = f"matmul_{dt}_tflops"

        def measure(dt=dt, key=key):
            figures[key] = matmul_tflops(torch, dev, dt)
            peak, floor = sku_reference(sku, "matmul", dt)
            return evaluate_figure(key, figures[key], peak, floor, "TFLOP/s", "(8192^3 matmul, CUDA events)")

        out.append(guarded(key, measure))

    def mem_bw():
        figures["memory_bw_gbs"] = device_memory_bandwidth_gbs(torch, dev)
        peak, floor = sku_reference(sku, "memory_bw")
        return evaluate_figure(
            "memory_bw_gbs", figures["memory_bw_gbs"], peak, floor, "GB/s", "(1 GiB D2D copy, read+write)"
        )

    out.append(guarded("memory_bw_gbs", mem_bw))

    def pcie_bw():
        h2d, d2h = pcie_bandwidth_gbs(torch, dev)
        figures["h2d_gbs"], figures["d2h_gbs"] = h2d, d2h
        pcie = facts.get("pcie") or {}
        link = (pcie.get("max_gen"), pcie.get("max_width"))
        if None in link and sku:
            link = sku["pcie"]
        peak, floor = sku_reference(sku, "pcie", pcie_peak_gbs(*link))
        note = "(256 MiB pinned copies; peak from link Gen{} x{})".format(*link)
        return [
            evaluate_figure("h2d_gbs", h2d, peak, floor, "GB/s", note),
            evaluate_figure("d2h_gbs", d2h, peak, floor, "GB/s", note),
        ]

    res = guarded("pcie_bandwidth", pcie_bw)
    out.extend(res if isinstance(res, list) else [res])

    def memtest():
        r = memory_pattern_test(torch, dev, opts.memtest_fraction)
        bad = sum(r["errors"].values())
        return check(
            "memory_pattern_test",
            FAIL if bad or r["tested_gib"] == 0 else PASS,
            r,
            f"0 mismatches over {opts.memtest_fraction:.0%} of VRAM",
            f"{bad} mismatching words" if bad else "",
        )

    out.append(guarded("memory_pattern_test", memtest))
    return out


def run_burn_phase(report, opts, nvml, torch, devices, facts):
    try:
        results = burn(torch, nvml, devices, opts.burn_minutes)
    except Exception as exc:
        report["host_checks"].append(
            check("burn", FAIL, None, None, f"burn raised {type(exc).__name__}: {str(exc)[:300]}")
        )
        return
    for gpu in report["gpus"]:
        r = results.get(gpu["index"])
        if r is None:
            continue
        f = facts[gpu["index"]]
        limit = min(opts.max_temperature_c, f.get("temperature_slowdown_c") or opts.max_temperature_c)
        checks = evaluate_burn(
            r["series"],
            opts.burn_tolerance,
            r["ecc_before"],
            r["ecc_after"],
            r["load"]["clock_events"],
            r["load"]["temperature_c_max"],
            limit,
        )
        for c in checks:
            c["_gpu"] = gpu["index"]
        gpu["checks"].extend(checks)
        gpu["burn"] = {
            "dtype": r["dtype"],
            "minutes": opts.burn_minutes,
            "tflops_series": [_round(v, 1) for v in r["series"]],
            "samples": r["load"],
        }
        if r["series"]:
            gpu["figures"]["burn_{}_tflops_median".format(r["dtype"])] = statistics.median(r["series"])


def run_multi_gpu(report, opts, nvml, torch, count):
    multi = {"gpus": count}
    matrix = p2p_matrix(nvml, torch, count)
    multi["p2p_matrix"] = matrix
    report["host_checks"].append(evaluate_p2p(matrix, opts.require_p2p))
    if torch is None:
        report["host_checks"].append(
            check(
                "nccl_allreduce",
                WARN if opts.allow_missing_torch else FAIL,
                None,
                "correct sum",
                "not run: torch missing",
            )
        )
    else:
        result = run_allreduce(count)
        multi["allreduce"] = result
        report["host_checks"].append(evaluate_allreduce(result))
    report["multi_gpu"] = multi


def finalize(report, t_start, reason=None):
    verdict, counts, failures = host_verdict(report)
    report["verdict"] = verdict
    report["counts"] = counts
    report["failures"] = failures
    report["verdict_reason"] = reason or (
        "; ".join(failures)
        if failures
        else "all checks passed" + (f" ({counts[WARN]} warning(s))" if counts[WARN] else "")
    )
    for gpu in report["gpus"]:
        gpu["figures"] = {k: _round(v) for k, v in gpu["figures"].items()}
    for c in report["host_checks"] + [c for g in report["gpus"] for c in g["checks"]]:
        c.pop("_gpu", None)
    report["wall_time_s"] = _round(time.perf_counter() - t_start)
    return report


def summary_text(report):
    lines = [
        "autoglm GPU smoke test ({} level) on {}: {} in {:.1f} s".format(
            report["level"], report["host"], report["verdict"].upper(), report["wall_time_s"]
        )
    ]
    if report["verdict_reason"]:
        lines.append("  " + report["verdict_reason"])
    for c in report["host_checks"]:
        lines.append("  [{:4}] host  {:<26} {}".format(c["verdict"], c["name"], _short(c)))
    for gpu in report["gpus"]:
        lines.append("  GPU {} {} ({}) {}".format(gpu["index"], gpu["name"], gpu["sku"] or "unknown SKU", gpu["uuid"]))
        for c in gpu["checks"]:
            lines.append("  [{:4}] gpu{}  {:<26} {}".format(c["verdict"], gpu["index"], c["name"], _short(c)))
    return "\n".join(lines)


def _short(c):
    m = c["measured"]
    exp = c["expected"]
    if isinstance(exp, dict) and "min" in exp:
        exp = ">= {} {}".format(exp["min"], exp["unit"])
    text = f"{json.dumps(m) if isinstance(m, (dict, list)) else m} (expected {exp})"
    if c["detail"]:
        text += ": " + c["detail"]
    return text[:240]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--level", choices=LEVELS, default="quick")
    p.add_argument("--expected-gpus", type=int, default=None, help="GPU count the inventory expects")
    p.add_argument(
        "--no-require-gpu",
        dest="require_gpu",
        action="store_false",
        help="a host without NVIDIA GPU/driver passes (the inventory says it needs none)",
    )
    p.add_argument("--min-memory-gib", type=float, default=8.0)
    p.add_argument("--min-compute-capability", default="7.5")
    p.add_argument(
        "--allow-missing-torch",
        action="store_true",
        help="torch/CUDA missing is a warning, not a failure (NVML-only checks)",
    )
    p.add_argument("--require-persistence-mode", action="store_true")
    p.add_argument(
        "--no-require-ecc",
        dest="require_ecc",
        action="store_false",
        help="ECC disabled on an ECC-capable GPU warns instead of failing",
    )
    p.add_argument("--require-p2p", action="store_true", help="fail when any GPU pair lacks peer access")
    p.add_argument("--max-temperature-c", type=float, default=87.0)
    p.add_argument("--memtest-fraction", type=float, default=0.5, help="fraction of VRAM the pattern test covers")
    p.add_argument("--burn-minutes", type=float, default=10.0)
    p.add_argument(
        "--burn-tolerance",
        type=float,
        default=0.05,
        help="each burn throughput sample must be within this fraction of the median",
    )
    p.add_argument("--json-out", default=None, help="write the JSON report here ('-' for stdout)")
    p.add_argument("--quiet", action="store_true", help="no readable summary on stdout")
    opts = p.parse_args(argv)
    if not 0.0 < opts.memtest_fraction <= 0.95:
        p.error(f"--memtest-fraction must be in (0, 0.95], got {opts.memtest_fraction}")
    if not 0.0 < opts.burn_tolerance < 1.0:
        p.error(f"--burn-tolerance must be in (0, 1), got {opts.burn_tolerance}")
    if opts.burn_minutes <= 0:
        p.error(f"--burn-minutes must be > 0, got {opts.burn_minutes}")
    if not re.match(r"^\d+\.\d+$", opts.min_compute_capability):
        p.error(f"--min-compute-capability must look like 7.5, got {opts.min_compute_capability!r}")
    return opts


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--allreduce-worker"]:
        rank, world, store, backend, out, nbytes = argv[1:7]
        allreduce_worker(int(rank), int(world), store, backend, out, int(nbytes))
        return 0
    opts = parse_args(argv)
    report = run_smoke(opts)
    text = json.dumps(report, indent=1, sort_keys=False, default=str)
    if opts.json_out == "-":
        sys.stdout.write(text + "\n")
    elif opts.json_out:
        with open(opts.json_out, "w") as fh:
            fh.write(text + "\n")
    if not opts.quiet and opts.json_out != "-":
        print(summary_text(report))
    return 0 if report["verdict"] == PASS else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(2)
