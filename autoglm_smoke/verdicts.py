"""The verdict contract: every check that fails or warns carries a stable ``code``, a ``severity``
and a ``remediation`` (the next rung of the repair ladder), from the catalog below. Data, plus
annotate(smoke_json), which smoke_json.finalize calls: a producer may name a code (check(..., code=...));
otherwise the check's name and verdict pick it (BY_CHECK). A fail or warn whose code the catalog
does not know gets GPU_CHECK_FAILED, never nothing. Where NVIDIA's DCGM names the same fault
(dcgm_errors.h, DCGM_FR_*), ``dcgm`` says which.

    python -m autoglm_smoke.verdicts     prints the table of docs/gpu-smoke.md "Verdict codes"
"""

from __future__ import annotations

FATAL, DEGRADED, INFO = "fatal", "degraded", "info"
SEVERITIES = (FATAL, DEGRADED, INFO)
GENERIC = "GPU_CHECK_FAILED"
CONTENDED = "GPU_CONTENDED"

# The repair ladder, rung by rung: each remediation starts at the rung that fits the fault.
EVIDENCE = "nvidia-bug-report.sh output and the smoke JSON (smoke/<host>.json)"
RERUN = "re-run the smoke test"
DRAIN_RESET = "drain the node and reset the GPU (`nvidia-smi -r -i <gpu>`, nothing running on it), then re-run"
REBOOT = "reboot the host, then re-run"
RMA = "reseat the GPU, then RMA it with " + EVIDENCE


def ladder(*rungs):
    """Rungs of the repair ladder, each tried when the one before did not clear the fault."""
    return "; if it persists, ".join(rungs)


FIGURE = ladder(
    RERUN + " (one low reading can be transient; read clock_event_reasons, temperature_c, pcie_link and "
    "foreign_processes of the same GPU)",
    DRAIN_RESET,
    REBOOT,
    RMA,
)
CONFIG = "a setting of the host or inventory, not a fault: "
COOLING = "check cooling (fans, airflow, inlet temperature, heatsink), then " + RERUN
POWER = "check the power supplies and the BMC's power capping, then " + RERUN

# code: (severity, meaning, remediation, DCGM equivalent or "")
CODES = {
    GENERIC: (FATAL, "a check failed or warned with no specific code (a gap in this catalog)",
              "read the check's detail; " + RERUN + "; report the missing code (autoglm_smoke/verdicts.py)", ""),
    CONTENDED: (DEGRADED, "a figure is low while another process uses the GPU: the other process, not the hardware,"
                " is the likely cause (the figure's own code is kept as hardware_code)",
                "stop the process foreign_processes names, or drain the node, then " + RERUN
                + "; judge the hardware only on a run with the GPU to itself", ""),
    "GPU_FOREIGN_PROCESS": (DEGRADED, "another process (pid, name, memory from NVML) uses the GPU during the test",
                            "stop the named process, or drain the node, then " + RERUN, ""),
    "GPU_SMOKE_ERROR": (FATAL, "the smoke program or one of its checks raised an error: the GPU is not qualified",
                        RERUN + "; a Python error in the detail points at the program: report it with the smoke "
                        "JSON; a CUDA error points at the GPU: " + ladder(DRAIN_RESET, REBOOT, RMA), ""),
    "GPU_MEASUREMENT_ERROR": (FATAL, "a figure above the physical peak: the measurement is broken, not the GPU fast",
                              RERUN + "; if it repeats, report it with the smoke JSON (the figure was not timed on "
                              "this GPU's own work)", ""),
    "GPU_NOT_FOUND": (FATAL, "no NVIDIA GPU on the PCI bus (or no NVML)",
                      "if the host should have GPUs: check the BIOS (slot enabled, Above 4G decoding) and `lspci -d "
                      "10de:`; " + ladder(REBOOT, RMA) + "; a host without GPUs by design: set "
                      "gpu_smoke_require_gpu: false", ""),
    "GPU_DRIVER_NOT_WORKING": (FATAL, "GPUs on the PCI bus, but the driver stack (kernel module, NVML) does not work",
                               "run `site` (nvidia_driver role) and read `dmesg | grep NVRM`; " + ladder(REBOOT, RMA),
                               ""),
    "GPU_DRIVER_MISMATCH": (FATAL, "the user-space driver (NVML) differs from the loaded kernel module",
                            REBOOT + " (the driver was upgraded without a reboot)", ""),
    "GPU_DRIVER_VERSION_UNVERIFIED": (INFO, "/proc/driver/nvidia/version not readable: driver agreement not checked",
                                      "run the test where /proc/driver/nvidia is visible (not in a restricted "
                                      "container)", ""),
    "GPU_COUNT_MISMATCH": (FATAL, "GPUs on the PCI bus, in NVML, in CUDA and in the inventory disagree",
                           "compare `lspci -d 10de:`, `nvidia-smi -L` and gpu_smoke_expected_gpu_count; a GPU missing "
                           "from NVML: " + ladder(REBOOT, RMA) + "; a wrong inventory count: fix the inventory; GPUs "
                           "hidden by CUDA_VISIBLE_DEVICES: unset it where the smoke test and the workload run "
                           "(the task's environment, /etc/environment, the login shell's profile)",
                           "DCGM_FR_DEVICE_COUNT_MISMATCH"),
    "GPU_BAR1_UNASSIGNED": (FATAL, "the kernel assigned the GPU no BAR1, or one smaller than the driver uses",
                            "enable Above 4G Decoding (and MMIO high size / Resizable BAR where the BIOS has them) "
                            "and check `dmesg | grep -i 'BAR 1'` for 'no space' / 'failed to assign' (docs/bios.md); "
                            + REBOOT, ""),
    "GPU_BAR1_MISMATCH": (INFO, "BAR1 size in sysfs differs from NVML's (a hypervisor's or bridge's view)",
                          "compare `lspci -vv -s <gpu>` Region 1 with `nvidia-smi -q -d MEMORY` BAR1 Total; "
                          "in a VM, check the hypervisor's MMIO window for the GPU", ""),
    "GPU_SELECTION_INVALID": (FATAL, "--gpus (gpu_smoke_gpus) names no GPU of this host",
                              CONFIG + "fix gpu_smoke_gpus (NVML indices, UUIDs or PCI bus ids)", ""),
    "GPU_TORCH_CUDA_UNUSABLE": (FATAL, "torch missing, CPU-only or unable to use CUDA: correctness and figures not run",
                                "run `site` (python_venv role) for a CUDA torch, check the driver against torch's CUDA "
                                "version; --allow-missing-torch only where NVML checks are enough", ""),
    "GPU_IDENTITY_UNREADABLE": (FATAL, "NVML cannot read the GPU's UUID", ladder(DRAIN_RESET, REBOOT, RMA), ""),
    "GPU_COMPUTE_CAPABILITY_LOW": (FATAL, "compute capability below the minimum (or unreadable)",
                                   CONFIG + "use a supported GPU model, or lower gpu_smoke_min_compute_capability", ""),
    "GPU_MEMORY_TOO_SMALL": (FATAL, "GPU memory below the minimum",
                             CONFIG + "use a GPU with more memory, or lower gpu_smoke_min_memory_gib", ""),
    "GPU_PCIE_LINK_DEGRADED": (DEGRADED, "the PCIe link trained below its maximum generation or width under load",
                               ladder(REBOOT, "check the slot's PCIe speed in the BIOS and the riser", RMA),
                               "DCGM_FR_PCIE_GENERATION, DCGM_FR_PCIE_WIDTH"),
    "GPU_PCIE_SLOT_LIMITED": (INFO, "the GPU supports a faster PCIe generation than its slot/system gives it",
                              "check the slot's PCIe speed setting in the BIOS, or accept the platform's limit", ""),
    "GPU_PCIE_LINK_UNVERIFIED": (INFO, "the link was read at idle only (no CUDA load), where GPUs lower it",
                                 "install a CUDA torch so the link is read under load, then " + RERUN, ""),
    "GPU_PERSISTENCE_OFF": (DEGRADED, "persistence mode off: driver state is torn down between jobs",
                            "`systemctl enable --now nvidia-persistenced`, then " + RERUN, "DCGM_FR_PERSISTENCE_MODE"),
    "GPU_ECC_DISABLED": (DEGRADED, "ECC is off on an ECC-capable GPU (or a change is pending)",
                         "`nvidia-smi -e 1 -i <gpu>`, then " + REBOOT, "DCGM_FR_ECC_DISABLED"),
    "GPU_ECC_UNCORRECTABLE_VOLATILE": (FATAL, "uncorrectable ECC errors since the driver loaded (or during burn)",
                                       ladder(DRAIN_RESET, REBOOT, RMA),
                                       "DCGM_FR_VOLATILE_DBE_DETECTED"),
    "GPU_ECC_UNCORRECTABLE_LIFETIME": (INFO, "no uncorrectable ECC error since boot, but some in the GPU's lifetime",
                                       "nothing now; watch memory_remap and run the burn level; RMA if the count grows",
                                       ""),
    "GPU_ECC_COUNTERS_UNREADABLE": (INFO, "ECC is on but NVML does not report its error counters",
                                    "check `nvidia-smi -q -d ECC`; " + RERUN, ""),
    "GPU_ECC_CORRECTABLE_BURN": (DEGRADED, "correctable ECC errors appeared during the burn",
                                 ladder("run the burn level again and watch memory_remap", DRAIN_RESET, RMA),
                                 "DCGM_FR_SBE_VIOLATION"),
    "GPU_ROW_REMAP_PENDING": (FATAL, "a row remap is pending: the spare row is used only after a GPU reset",
                              ladder(DRAIN_RESET, REBOOT), "DCGM_FR_PENDING_ROW_REMAP"),
    "GPU_ROW_REMAP_FAILED": (FATAL, "row remapping failed: the GPU has no spare row left for a bad one", RMA,
                             "DCGM_FR_ROW_REMAP_FAILURE"),
    "GPU_PAGE_RETIREMENT_PENDING": (FATAL, "a page retirement is pending (pre-Ampere): effective after a reboot",
                                    REBOOT, "DCGM_FR_PENDING_PAGE_RETIREMENTS"),
    "GPU_XID_HW": (FATAL, "hardware-class XIDs in the kernel log since boot (e.g. 48, 79, 94, 95)",
                   ladder(DRAIN_RESET, REBOOT, RMA), "DCGM_FR_XID_ERROR"),
    "GPU_XID_APP": (INFO, "application-class XIDs since boot (usually a crashed job)",
                    "nothing for the hardware; a reboot clears the log; recurring ones: look at the jobs", ""),
    "GPU_XID_LOG_UNREADABLE": (INFO, "the kernel log was not readable: XIDs not checked",
                               "let the test read dmesg (kernel.dmesg_restrict) or journalctl, then " + RERUN, ""),
    "GPU_CLOCK_EVENT_HW_SLOWDOWN": (DEGRADED, "clocks held down by the hardware slowdown signal",
                                    ladder("check the power supplies and cooling, then " + RERUN, REBOOT, RMA),
                                    "DCGM_FR_CLOCKS_EVENT_VIOLATION"),
    "GPU_CLOCK_EVENT_POWER_BRAKE": (DEGRADED, "clocks held down by the system's power brake",
                                    ladder(POWER, REBOOT),
                                    "DCGM_FR_CLOCKS_EVENT_VIOLATION"),
    "GPU_CLOCK_EVENT_THERMAL": (DEGRADED, "clocks held down by a software or hardware thermal slowdown",
                                ladder(COOLING, RMA),
                                "DCGM_FR_CLOCKS_EVENT_THERMAL"),
    "GPU_THERMAL": (DEGRADED, "GPU temperature at or above min(configured limit, NVML slowdown threshold)",
                    ladder(COOLING, RMA),
                    "DCGM_FR_TEMP_VIOLATION"),
    "GPU_COMPUTE_INCORRECT": (FATAL, "a CUDA matmul gave wrong or non-finite results against a CPU reference",
                              ladder(DRAIN_RESET, REBOOT, RMA), ""),
    "GPU_MATMUL_FP16_LOW": (DEGRADED, "fp16 matmul TFLOP/s below the SKU's floor", FIGURE,
                            "DCGM_FR_GFLOPS_THRESHOLD_VIOLATION"),
    "GPU_MATMUL_BF16_LOW": (DEGRADED, "bf16 matmul TFLOP/s below the SKU's floor", FIGURE,
                            "DCGM_FR_GFLOPS_THRESHOLD_VIOLATION"),
    "GPU_MATMUL_TF32_LOW": (DEGRADED, "tf32 matmul TFLOP/s below the SKU's floor", FIGURE,
                            "DCGM_FR_GFLOPS_THRESHOLD_VIOLATION"),
    "GPU_MATMUL_FP32_LOW": (DEGRADED, "fp32 matmul TFLOP/s below the SKU's floor (pre-Ampere)", FIGURE,
                            "DCGM_FR_GFLOPS_THRESHOLD_VIOLATION"),
    "GPU_MEMORY_BW_LOW": (DEGRADED, "device memory bandwidth below the SKU's floor", FIGURE,
                          "DCGM_FR_MEMORY_BANDWIDTH"),
    "GPU_H2D_LOW": (DEGRADED, "host-to-device copy bandwidth below the PCIe link's floor",
                    FIGURE + "; also check the BIOS (IOMMU passthrough, PCIe settings) and the GPU's NUMA node",
                    "DCGM_FR_LOW_BANDWIDTH"),
    "GPU_D2H_LOW": (DEGRADED, "device-to-host copy bandwidth below the PCIe link's floor",
                    FIGURE + "; also check the BIOS (IOMMU passthrough, PCIe settings) and the GPU's NUMA node",
                    "DCGM_FR_LOW_BANDWIDTH"),
    "GPU_MEMTEST_MISMATCH": (FATAL, "the VRAM pattern test read back words it did not write",
                             ladder(DRAIN_RESET, REBOOT, RMA), "DCGM_FR_MEMORY_MISMATCH"),
    "GPU_MEMTEST_COVERAGE_LOW": (DEGRADED, "the VRAM pattern test covered too little memory (held by another process)",
                                 "stop the process holding the memory (foreign_processes names it), or drain the node, "
                                 "then " + RERUN, ""),
    "GPU_P2P_ACCESS_MISSING": (DEGRADED, "CUDA denies peer access between GPUs",
                               "check `nvidia-smi topo -m` and the BIOS (PCIe ACS, IOMMU); consumer cards have none by "
                               "design; then " + REBOOT, ""),
    "GPU_P2P_BW_LOW": (DEGRADED, "peer-copy bandwidth below the link's floor, or a pair not measured",
                       "check `nvidia-smi nvlink -s` and `nvidia-smi topo -m`; " + FIGURE, "DCGM_FR_LOW_BANDWIDTH"),
    "GPU_NCCL_ERROR": (FATAL, "the NCCL all-reduce did not run or gave no result",
                       ladder(RERUN + " (read the error; NCCL_DEBUG=INFO says more)", DRAIN_RESET, REBOOT), ""),
    "GPU_NCCL_WRONG_RESULT": (FATAL, "the NCCL all-reduce returned wrong sums",
                              ladder(DRAIN_RESET, REBOOT, RMA), ""),
    "GPU_NCCL_BW_LOW": (DEGRADED, "NCCL all-reduce bus bandwidth below the interconnect's floor",
                        "check `nvidia-smi nvlink -s` and the fabric manager; " + FIGURE, ""),
    "GPU_BURN_UNSTABLE": (DEGRADED, "throughput sagged under sustained load (or no burn samples)",
                          ladder("read burn_clock_event_reasons and burn_temperature_c, check cooling and power, "
                                 "then " + RERUN, REBOOT, RMA), ""),
}

# check name -> {verdict: code}: what a fail or warn of this check means when its producer named
# no code. Every check name the program emits is here; {} marks one that never fails or warns.
BY_CHECK = {
    "program": {"fail": "GPU_SMOKE_ERROR"}, "load": {"fail": "GPU_SMOKE_ERROR"},
    "burn": {"fail": "GPU_SMOKE_ERROR"}, "pcie_bandwidth": {"fail": "GPU_SMOKE_ERROR"},
    "p2p_bandwidth": {"fail": "GPU_SMOKE_ERROR"},
    "nvidia_gpu_present": {"fail": "GPU_NOT_FOUND"},
    "driver_version": {"fail": "GPU_DRIVER_MISMATCH", "warn": "GPU_DRIVER_VERSION_UNVERIFIED"},
    "gpu_count": {"fail": "GPU_COUNT_MISMATCH"},
    "gpu_selection": {"fail": "GPU_SELECTION_INVALID"},
    "torch_cuda": {"fail": "GPU_TORCH_CUDA_UNUSABLE", "warn": "GPU_TORCH_CUDA_UNUSABLE"},
    "foreign_processes": {"fail": "GPU_FOREIGN_PROCESS", "warn": "GPU_FOREIGN_PROCESS"},
    "identity": {"fail": "GPU_IDENTITY_UNREADABLE"},
    "compute_capability": {"fail": "GPU_COMPUTE_CAPABILITY_LOW"},
    "memory_total_gib": {"fail": "GPU_MEMORY_TOO_SMALL"},
    "pcie_link": {"fail": "GPU_PCIE_LINK_DEGRADED", "warn": "GPU_PCIE_SLOT_LIMITED"},
    "bar1": {"fail": "GPU_BAR1_UNASSIGNED", "warn": "GPU_BAR1_MISMATCH"},
    "persistence_mode": {"fail": "GPU_PERSISTENCE_OFF", "warn": "GPU_PERSISTENCE_OFF"},
    "ecc_mode": {"fail": "GPU_ECC_DISABLED", "warn": "GPU_ECC_DISABLED"},
    "ecc_uncorrected": {"fail": "GPU_ECC_UNCORRECTABLE_VOLATILE", "warn": "GPU_ECC_UNCORRECTABLE_LIFETIME"},
    "memory_remap": {"fail": "GPU_ROW_REMAP_PENDING"},
    "xid_events": {"fail": "GPU_XID_HW", "warn": "GPU_XID_APP"},
    "clock_event_reasons": {"fail": "GPU_CLOCK_EVENT_HW_SLOWDOWN"},
    "temperature_c": {"fail": "GPU_THERMAL"},
    "cuda_matmul_correctness": {"fail": "GPU_COMPUTE_INCORRECT", "warn": "GPU_TORCH_CUDA_UNUSABLE"},
    "cuda_measurement": {},
    "matmul_fp16_tflops": {"fail": "GPU_MATMUL_FP16_LOW", "warn": "GPU_MATMUL_FP16_LOW"},
    "matmul_bf16_tflops": {"fail": "GPU_MATMUL_BF16_LOW", "warn": "GPU_MATMUL_BF16_LOW"},
    "matmul_tf32_tflops": {"fail": "GPU_MATMUL_TF32_LOW", "warn": "GPU_MATMUL_TF32_LOW"},
    "matmul_fp32_tflops": {"fail": "GPU_MATMUL_FP32_LOW", "warn": "GPU_MATMUL_FP32_LOW"},
    "memory_bw_gbs": {"fail": "GPU_MEMORY_BW_LOW", "warn": "GPU_MEMORY_BW_LOW"},
    "h2d_gbs": {"fail": "GPU_H2D_LOW", "warn": "GPU_H2D_LOW"},
    "d2h_gbs": {"fail": "GPU_D2H_LOW", "warn": "GPU_D2H_LOW"},
    "memory_pattern_test": {"fail": "GPU_MEMTEST_MISMATCH", "warn": "GPU_MEMTEST_COVERAGE_LOW"},
    "host_copy_aggregate": {"fail": "GPU_MEASUREMENT_ERROR"},
    "p2p_access": {"fail": "GPU_P2P_ACCESS_MISSING", "warn": "GPU_P2P_ACCESS_MISSING"},
    "p2p_bandwidth_oneway": {"fail": "GPU_P2P_BW_LOW", "warn": "GPU_P2P_BW_LOW"},
    "p2p_bandwidth_bidirectional": {"fail": "GPU_P2P_BW_LOW", "warn": "GPU_P2P_BW_LOW"},
    "nccl_allreduce": {"fail": "GPU_NCCL_ERROR", "warn": "GPU_NCCL_BW_LOW"},
    "burn_throughput_stability": {"fail": "GPU_BURN_UNSTABLE", "warn": "GPU_BURN_UNSTABLE"},
    "burn_clock_event_reasons": {"fail": "GPU_CLOCK_EVENT_HW_SLOWDOWN"},
    "burn_ecc_delta": {"fail": "GPU_ECC_UNCORRECTABLE_VOLATILE", "warn": "GPU_ECC_CORRECTABLE_BURN"},
    "burn_temperature_c": {"fail": "GPU_THERMAL"},
}
# Figures another process on the GPU drags down: with one there, they say GPU_CONTENDED.
CONTENTION_SENSITIVE = {
    "GPU_MATMUL_FP16_LOW", "GPU_MATMUL_BF16_LOW", "GPU_MATMUL_TF32_LOW", "GPU_MATMUL_FP32_LOW", "GPU_MEMORY_BW_LOW",
    "GPU_H2D_LOW", "GPU_D2H_LOW", "GPU_P2P_BW_LOW", "GPU_NCCL_BW_LOW", "GPU_BURN_UNSTABLE",
}
# Clock-event reason bits (nvml.h), most specific first: the code a failed clock check gets.
CLOCK_EVENT_CODES = ((0x80, "GPU_CLOCK_EVENT_POWER_BRAKE"), (0x40 | 0x20, "GPU_CLOCK_EVENT_THERMAL"),
                     (0x8, "GPU_CLOCK_EVENT_HW_SLOWDOWN"))
JUDGED = ("fail", "warn")


def clock_event_code(mask):
    """The code of a clock-event mask with a bad reason in it (None when it has none)."""
    return next((code for bits, code in CLOCK_EVENT_CODES if mask & bits), None)


def describe(code):
    """{severity, meaning, remediation, dcgm} of a code (GPU_CHECK_FAILED's for an unknown one)."""
    severity, meaning, remediation, dcgm = CODES.get(code) or CODES[GENERIC]
    return {"severity": severity, "meaning": meaning, "remediation": remediation, "dcgm": dcgm}


def code_for(check):
    """The code of a failed or warned check: its producer's, else its name's, else GENERIC."""
    code = check.get("code") or BY_CHECK.get(check.get("name"), {}).get(check.get("verdict"))
    return code if code in CODES else GENERIC


def _has_foreign(checks):
    return any(c.get("name") == "foreign_processes" and c.get("verdict") in JUDGED for c in checks)


def annotate_check(check, contended=False):
    """Give a failed or warned check its code, severity and remediation (in place); a check that
    passed, was skipped or is info carries none."""
    if check.get("verdict") not in JUDGED:
        for key in ("code", "severity", "remediation"):
            check.pop(key, None)
        return check
    code = code_for(check)
    if check.get("code") and check["code"] != code:
        check["unknown_code"] = check["code"]
    if contended and code in CONTENTION_SENSITIVE:
        check["hardware_code"] = code
        code = CONTENDED
    entry = describe(code)
    check.update(code=code, severity=entry["severity"], remediation=entry["remediation"])
    return check


def annotate(smoke_json):
    """Annotate every check of a smoke JSON and set smoke_json["codes"] (sorted, unique codes of
    its failed and warned checks). A GPU with another process on it (a failed or warned
    foreign_processes check, its own or the host's) gets GPU_CONTENDED for its low figures; the
    host's multi-GPU figures get it when any GPU has one."""
    host_checks = smoke_json.get("host_checks") or []
    host_foreign = _has_foreign(host_checks)
    any_foreign = host_foreign
    codes = set()
    for gpu in smoke_json.get("gpus") or []:
        busy = host_foreign or _has_foreign(gpu.get("checks") or [])
        any_foreign = any_foreign or busy
        for c in gpu.get("checks") or []:
            codes.add(annotate_check(c, busy).get("code"))
    for c in host_checks:
        codes.add(annotate_check(c, any_foreign).get("code"))
    smoke_json["codes"] = sorted(code for code in codes if code)
    return smoke_json


def markdown_table():
    """The table of docs/gpu-smoke.md's "Verdict codes" section, from the catalog."""
    rows = ["| code | severity | meaning | remediation | DCGM |", "|---|---|---|---|---|"]
    for code in sorted(CODES):
        severity, meaning, remediation, dcgm = CODES[code]
        cells = [f"`{code}`", severity, meaning, remediation, ", ".join(f"`{d}`" for d in dcgm.split(", ") if d)]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
