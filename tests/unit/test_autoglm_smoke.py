"""The GPU smoke-test program (the autoglm_smoke package): health verdicts, figures bounded by
physics, GPU selection, the zipapp.

What is faked and why: NVML (a FakeNvml object with the pynvml functions the program calls),
the sysfs PCI tree, /proc/driver/nvidia/version and the kernel log. ECC errors, pending row
remaps, throttling, a degraded PCIe link, XIDs or a GPU missing from NVML cannot be produced on
demand on real hardware (and CI has no GPU). The real paths run elsewhere: the no-GPU verdict on
this machine (test_cli_* below, through the built zipapp), everything else on 2x H200 and an H100
(docs/gpu-smoke.md, bench/results/).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from autoglm_smoke import NCCL_SAFE_ENV, build, checks, cli, devices, figures, host, interconnect, nvml, references
from autoglm_smoke.run import run_smoke

ROOT = Path(__file__).resolve().parents[2]


class FakeNVMLError(Exception):
    pass


def healthy_gpu(**over):
    """NVML readings of a healthy H100 SXM (values as the real H100 reported them)."""
    gpu = {
        "name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-93fed4fc-da3b-d140-8ccf-080c8cbe621f",
        "bus": "00000000:3B:00.0", "device_id": 0x2330, "cc": (9, 0), "mem": 85520809984,
        "pcie": (5, 16, 5, 16, 5), "persistence": 1, "ecc_mode": (1, 1),
        "ecc": {(0, 0): 0, (0, 1): 0, (1, 0): 0, (1, 1): 0}, "remap": (0, 0, 0, 0), "retired_pending": None,
        "clock_events": 0x1, "temp": 40, "slowdown": 89, "power_limit": 700000, "sm_clock": 1980, "power": 300000,
    }
    gpu.update(over)
    return gpu


class FakeNvml:
    """The subset of pynvml the program uses. A value of None raises 'Not Supported' like NVML."""

    NVML_TEMPERATURE_GPU = 0
    NVML_TEMPERATURE_THRESHOLD_SLOWDOWN = 1
    NVML_MEMORY_ERROR_TYPE_CORRECTED = 0
    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
    NVML_VOLATILE_ECC = 0
    NVML_AGGREGATE_ECC = 1
    NVML_CLOCK_SM = 1
    NVML_P2P_CAPS_INDEX_READ = 0
    NVML_P2P_STATUS_OK = 0

    def __init__(self, gpus, driver="580.159.04", init_error=None, p2p=None):
        self.gpus, self.driver, self.init_error, self.p2p = gpus, driver, init_error, p2p or {}

    def _v(self, value):
        if value is None:
            raise FakeNVMLError("Not Supported")
        return value

    def nvmlInit(self):
        if self.init_error:
            raise FakeNVMLError(self.init_error)

    def nvmlShutdown(self):
        pass

    def nvmlSystemGetDriverVersion(self):
        return self.driver

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return self.gpus[h]["name"]

    def nvmlDeviceGetUUID(self, h):
        return self.gpus[h]["uuid"]

    def nvmlDeviceGetPciInfo(self, h):
        g = self.gpus[h]
        return SimpleNamespace(busId=g["bus"].encode(), pciDeviceId=(g["device_id"] << 16) | 0x10DE)

    def nvmlDeviceGetCudaComputeCapability(self, h):
        return self.gpus[h]["cc"]

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(total=self.gpus[h]["mem"])

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h):
        return self._v(self.gpus[h]["pcie"][0])

    def nvmlDeviceGetCurrPcieLinkWidth(self, h):
        return self._v(self.gpus[h]["pcie"][1])

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h):
        return self._v(self.gpus[h]["pcie"][2])

    def nvmlDeviceGetMaxPcieLinkWidth(self, h):
        return self._v(self.gpus[h]["pcie"][3])

    def nvmlDeviceGetGpuMaxPcieLinkGeneration(self, h):
        return self._v(self.gpus[h]["pcie"][4])

    def nvmlDeviceGetPersistenceMode(self, h):
        return self._v(self.gpus[h]["persistence"])

    def nvmlDeviceGetEccMode(self, h):
        return self._v(self.gpus[h]["ecc_mode"])

    def nvmlDeviceGetTotalEccErrors(self, h, etype, ctype):
        return self._v(self.gpus[h]["ecc"].get((etype, ctype)))

    def nvmlDeviceGetRetiredPagesPendingStatus(self, h):
        return self._v(self.gpus[h]["retired_pending"])

    def nvmlDeviceGetRemappedRows(self, h):
        return self._v(self.gpus[h]["remap"])

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        return self._v(self.gpus[h]["clock_events"])

    def nvmlDeviceGetTemperature(self, h, sensor):
        return self._v(self.gpus[h]["temp"])

    def nvmlDeviceGetTemperatureThreshold(self, h, kind):
        return self._v(self.gpus[h]["slowdown"])

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        return self._v(self.gpus[h]["power_limit"])

    def nvmlDeviceGetClockInfo(self, h, clock):
        return self._v(self.gpus[h]["sm_clock"])

    def nvmlDeviceGetPowerUsage(self, h):
        return self._v(self.gpus[h]["power"])

    def nvmlDeviceGetP2PStatus(self, h1, h2, index):
        return self.p2p.get((h1, h2), 0)


def make_sysfs(tmp_path, functions):
    """A fake /sys/bus/pci/devices tree: {bus_id: (vendor, class)}."""
    base = tmp_path / "sys" / "bus" / "pci" / "devices"
    base.mkdir(parents=True)
    for bus, (vendor, pci_class) in functions.items():
        (base / bus).mkdir()
        (base / bus / "vendor").write_text(vendor + "\n")
        (base / bus / "class").write_text(pci_class + "\n")
    return tmp_path / "sys"


def run(tmp_path, gpus=None, nvml=None, argv=(), pci=None, module_version="580.159.04", log="", torch_missing=True):
    """run_smoke with fakes; by default one healthy H100 on the bus and torch missing (allowed)."""
    gpus = [healthy_gpu()] if gpus is None else gpus
    nvml = nvml or FakeNvml(gpus)
    if pci is None:
        pci = {"0000:" + g["bus"][-7:].lower(): ("0x10de", "0x030200") for g in gpus}
    sysfs = make_sysfs(tmp_path, pci)
    version = tmp_path / "version"
    if module_version:
        version.write_text(f"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  {module_version}  Build\n")
    opts = cli.parse_args(list(argv) + (["--allow-missing-torch"] if torch_missing else []))
    return run_smoke(
        opts,
        nvml_loader=lambda: (nvml, "fake NVML (test)") if nvml != "absent" else (None, "no NVML bindings"),
        torch_loader=lambda: (None, "ImportError: No module named 'torch' (test)"),
        sysfs_root=str(sysfs),
        proc_version=str(version),
        kernel_log_reader=lambda: (log, "fake kernel log") if log is not None else (None, "dmesg: not permitted"),
    )


def verdicts(report, gpu=0):
    out = {c["name"]: c for c in report["host_checks"]}
    if report["gpus"]:
        out.update({c["name"]: c for c in report["gpus"][gpu]["checks"]})
    return out


# --- healthy host, and the torch decision -------------------------------------------------------
def test_healthy_gpu_passes_with_every_quick_check_present(tmp_path):
    report = run(tmp_path)
    assert report["verdict"] == "pass", report["failures"]
    names = set(verdicts(report))
    assert {"driver_version", "gpu_count", "torch_cuda", "identity", "compute_capability", "memory_total_gib",
            "pcie_link", "persistence_mode", "ecc_mode", "ecc_uncorrected", "memory_remap", "xid_events",
            "clock_event_reasons", "temperature_c", "cuda_matmul_correctness"} <= names
    assert report["gpus"][0]["sku"] == "H100-SXM5-80GB"
    json.dumps(report)  # the report must be JSON as-is


def test_torch_missing_fails_by_default_and_warns_when_allowed(tmp_path):
    failed = run(tmp_path / "a", torch_missing=False)
    assert failed["verdict"] == "fail"
    assert verdicts(failed)["torch_cuda"]["verdict"] == "fail"
    assert "not run" in verdicts(failed)["cuda_matmul_correctness"]["detail"]
    allowed = run(tmp_path / "b")
    assert allowed["verdict"] == "pass"
    assert verdicts(allowed)["torch_cuda"]["verdict"] == "warn"


# --- no GPU / no driver -------------------------------------------------------------------------
def test_no_gpu_no_driver_fails_when_a_gpu_is_required(tmp_path):
    report = run(tmp_path, gpus=[], nvml="absent", pci={}, module_version=None)
    assert report["verdict"] == "fail" and report["gpu_present"] is False
    assert report["verdict_reason"].startswith("no NVIDIA GPU/driver")


def test_no_gpu_passes_when_the_inventory_needs_none(tmp_path):
    report = run(tmp_path, gpus=[], nvml="absent", pci={}, module_version=None, argv=["--no-require-gpu"])
    assert report["verdict"] == "pass" and report["gpu_present"] is False
    assert "none is needed" in report["verdict_reason"]


def test_gpu_on_bus_but_driver_not_loaded(tmp_path):
    nvml = FakeNvml([], init_error="Driver Not Loaded")
    report = run(tmp_path, nvml=nvml, pci={"0000:3b:00.0": ("0x10de", "0x030200")}, module_version=None)
    assert report["verdict"] == "fail"
    assert "1 NVIDIA GPU(s) on the PCI bus but the driver stack does not work" in report["verdict_reason"]
    assert "no nvidia kernel module loaded" in report["verdict_reason"]


def test_nvml_library_mismatch_says_reboot_needed(tmp_path):
    nvml = FakeNvml([], init_error="RM has detected an NVML/RM version mismatch.")
    report = run(tmp_path, nvml=nvml, pci={"0000:3b:00.0": ("0x10de", "0x030200")})
    assert report["verdict"] == "fail" and "reboot needed" in report["verdict_reason"]


# --- driver and counts --------------------------------------------------------------------------
def test_user_space_and_kernel_module_versions_disagree(tmp_path):
    report = run(tmp_path, module_version="535.129.03")
    c = verdicts(report)["driver_version"]
    assert c["verdict"] == "fail" and "reboot needed" in c["detail"]


def test_gpu_missing_from_nvml_and_from_inventory_count(tmp_path):
    pci = {"0000:3b:00.0": ("0x10de", "0x030200"), "0000:5e:00.0": ("0x10de", "0x030200")}
    report = run(tmp_path, pci=pci, argv=["--expected-gpus", "2"])
    c = verdicts(report)["gpu_count"]
    assert c["verdict"] == "fail"
    assert c["measured"] == {"pci": 2, "nvml": 1}
    assert "2 GPU(s) on the PCI bus but NVML sees 1" in c["detail"] and "inventory expects 2" in c["detail"]


def test_pci_scan_counts_gpus_only(tmp_path):
    sysfs = make_sysfs(tmp_path, {
        "0000:3b:00.0": ("0x10de", "0x030200"),  # 3D controller (datacenter GPU)
        "0000:65:00.0": ("0x10de", "0x030000"),  # VGA controller (workstation GPU)
        "0000:65:00.1": ("0x10de", "0x040300"),  # its HDMI audio function
        "0000:c1:00.0": ("0x10de", "0x068000"),  # NVSwitch
        "0000:00:02.0": ("0x8086", "0x030000"),  # Intel iGPU
    })
    assert host.scan_pci_gpus(str(sysfs)) == ["0000:3b:00.0", "0000:65:00.0"]


# --- per-GPU failure modes that cannot be produced on demand ------------------------------------
@pytest.mark.parametrize(
    ("over", "check_name", "verdict", "text"),
    [
        ({"ecc": {(0, 0): 3, (0, 1): 9, (1, 0): 2, (1, 1): 2}}, "ecc_uncorrected", "fail", "2 uncorrectable"),
        ({"ecc": {(0, 0): 0, (0, 1): 0, (1, 0): 0, (1, 1): 4}}, "ecc_uncorrected", "warn", "lifetime"),
        ({"ecc_mode": (0, 0)}, "ecc_mode", "fail", ""),
        ({"ecc_mode": None}, "ecc_mode", "skip", "not supported"),
        ({"remap": (0, 1, 1, 0)}, "memory_remap", "fail", "reset/reboot needed"),
        ({"remap": (0, 0, 0, 1)}, "memory_remap", "fail", "needs service"),
        ({"remap": None, "retired_pending": 1}, "memory_remap", "fail", "page retirement pending"),
        ({"clock_events": 0x1 | 0x40}, "clock_event_reasons", "fail", "hw_thermal_slowdown"),
        ({"clock_events": 0x80}, "clock_event_reasons", "fail", "hw_power_brake_slowdown"),
        ({"clock_events": 0x8}, "clock_event_reasons", "fail", "hw_slowdown"),
        ({"clock_events": 0x4}, "clock_event_reasons", "pass", ""),
        ({"temp": 91}, "temperature_c", "fail", "slowdown threshold 89"),
        ({"cc": (6, 0)}, "compute_capability", "fail", ""),
        ({"mem": 6 * 2**30}, "memory_total_gib", "fail", ""),
        ({"persistence": 0}, "persistence_mode", "warn", "nvidia-persistenced"),
        ({"uuid": None}, "identity", "fail", ""),
    ],
)
def test_failure_modes(tmp_path, over, check_name, verdict, text):
    gpu = healthy_gpu(**over)
    if over.get("uuid", "x") is None:
        gpu["uuid"] = None
    report = run(tmp_path, gpus=[gpu])
    c = verdicts(report)[check_name]
    assert c["verdict"] == verdict, c
    assert text in c["detail"], c
    assert report["verdict"] == ("fail" if verdict == "fail" else "pass")


def test_ecc_disabled_only_warns_when_not_required(tmp_path):
    report = run(tmp_path, gpus=[healthy_gpu(ecc_mode=(0, 0))], argv=["--no-require-ecc"])
    assert verdicts(report)["ecc_mode"]["verdict"] == "warn" and report["verdict"] == "pass"


def test_persistence_mode_fails_when_required(tmp_path):
    report = run(tmp_path, gpus=[healthy_gpu(persistence=0)], argv=["--require-persistence-mode"])
    assert verdicts(report)["persistence_mode"]["verdict"] == "fail"


# --- PCIe link: read under load -----------------------------------------------------------------
def test_degraded_link_under_load_fails():
    c = checks.evaluate_pcie({"max_gen": 5, "max_width": 16, "gpu_max_gen": 5}, {"pcie_gen": 4, "pcie_width": 8})
    assert c["verdict"] == "fail" and c["measured"] == "Gen4 x8 under load" and c["expected"] == "Gen5 x16"


def test_full_link_under_load_passes_even_if_idle_link_was_low():
    c = checks.evaluate_pcie({"current_gen": 1, "current_width": 16, "max_gen": 5, "max_width": 16},
                            {"pcie_gen": 5, "pcie_width": 16})
    assert c["verdict"] == "pass"


def test_low_idle_link_without_load_is_not_judged(tmp_path):
    report = run(tmp_path, gpus=[healthy_gpu(pcie=(1, 16, 5, 16, 5))])
    c = verdicts(report)["pcie_link"]
    assert c["verdict"] == "warn" and "idle" in c["detail"]


def test_slot_limiting_the_gpu_warns():
    c = checks.evaluate_pcie({"max_gen": 4, "max_width": 16, "gpu_max_gen": 5}, {"pcie_gen": 4, "pcie_width": 16})
    assert c["verdict"] == "warn" and "slot" in c["detail"]


def test_throttling_seen_only_under_load_fails():
    c = checks.evaluate_clock_events(0x1, {"clock_events": 0x4 | 0x20})
    assert c["verdict"] == "fail" and "sw_thermal_slowdown" in c["detail"]


# --- XIDs from the kernel log -------------------------------------------------------------------
XID_LOG = """\
[  12.3] nvidia: loading out-of-tree module taints kernel.
[ 812.1] NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.
[ 900.2] NVRM: Xid (PCI:0000:5e:00): 13, pid=4321, name=python3, Graphics Exception
"""


def test_xid_parsing_maps_bus_ids():
    events = host.parse_xids(XID_LOG)
    assert [(e["bus"], e["xid"], e["hardware"]) for e in events] == [("3b:00", 79, True), ("5e:00", 13, False)]


def test_hardware_xid_on_this_gpu_fails(tmp_path):
    c = verdicts(run(tmp_path, log=XID_LOG))["xid_events"]
    assert c["verdict"] == "fail" and "fell off the bus" in c["detail"]


def test_application_xid_warns_and_other_gpus_xids_do_not_count(tmp_path):
    gpu = healthy_gpu(bus="00000000:5E:00.0")
    assert verdicts(run(tmp_path / "a", gpus=[gpu], log=XID_LOG))["xid_events"]["verdict"] == "warn"
    other = healthy_gpu(bus="00000000:AF:00.0")
    assert verdicts(run(tmp_path / "b", gpus=[other], log=XID_LOG))["xid_events"]["verdict"] == "pass"


def test_unreadable_kernel_log_warns(tmp_path):
    c = verdicts(run(tmp_path, log=None))["xid_events"]
    assert c["verdict"] == "warn" and "not permitted" in c["detail"]


# --- reference table and figures ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("device_id", "name", "sku"),
    [
        (0x2330, "NVIDIA H100 80GB HBM3", "H100-SXM5-80GB"),
        (None, "NVIDIA H100 PCIe", "H100-PCIe-80GB"),
        (0x2335, "NVIDIA H200", "H200-SXM-141GB"),
        (None, "NVIDIA H200 NVL", "H200-NVL-141GB"),
        (None, "NVIDIA H200", "H200-SXM-141GB"),
        (0x20B0, "NVIDIA A100-SXM4-40GB", "A100-SXM4-40GB"),
        (None, "NVIDIA A100 80GB PCIe", "A100-PCIe-80GB"),
        (None, "NVIDIA A10", "A10"),
        (None, "NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB"),
        (0x26B9, "NVIDIA L40S", "L40S"),
        (None, "Tesla T4", "T4"),
        (0x2684, "NVIDIA GeForce RTX 4090", "RTX-4090"),
        (None, "NVIDIA GeForce RTX 3090", "RTX-3090"),
        (None, "NVIDIA GeForce RTX 3090 Ti", None),
        (0x1234, "NVIDIA Mystery GPU", None),
    ],
)
def test_sku_matching(device_id, name, sku):
    row = references.match_sku(device_id, name)
    assert (row["sku"] if row else None) == sku


def test_every_table_row_is_complete():
    for row in references.SKU_TABLE:
        assert row["device_ids"] and row["memory_bw_gbs"] > 0 and row["pcie"][1] == 16
        assert set(row["floors"]) == {"matmul", "memory_bw", "pcie"}
        assert all(0 < f < 1 for f in row["floors"].values())
        assert "fp16" in row["peak"] and ("tf32" in row["peak"] or "fp32" in row["peak"])


def test_figure_below_floor_fails_and_unknown_sku_is_reported_not_judged():
    h100 = references.match_sku(0x2330, None)
    peak, floor = references.sku_reference(h100, "matmul", "bf16")
    assert figures.evaluate_figure("matmul_bf16_tflops", 700.0, peak, floor, "TFLOP/s")["verdict"] == "pass"
    slow = figures.evaluate_figure("matmul_bf16_tflops", 400.0, peak, floor, "TFLOP/s")
    assert slow["verdict"] == "fail" and slow["expected"]["min"] == pytest.approx(0.55 * 989.4, abs=0.01)
    unknown = figures.evaluate_figure("matmul_bf16_tflops", 123.0, *references.sku_reference(None, "matmul", "bf16"),
                                    "TFLOP/s")
    assert unknown["verdict"] == "info" and unknown["measured"] == 123.0 and "not judged" in unknown["detail"]
    assert references.sku_reference(references.match_sku(0x1EB8, None), "matmul", "bf16") == (None, None)  # T4: no bf16


def test_pcie_peak_from_link():
    assert references.pcie_peak_gbs(5, 16) == pytest.approx(63.01, abs=0.01)
    assert references.pcie_peak_gbs(4, 8) == pytest.approx(15.75, abs=0.01)
    assert references.pcie_peak_gbs(None, 16) is None


# --- burn ----------------------------------------------------------------------------------------
def test_burn_stable_passes_and_sagging_fails():
    ecc = {"corrected_volatile": 0, "uncorrected_volatile": 0}
    ok = checks.evaluate_burn([675, 676, 674, 675], 0.05, ecc, ecc, 0x4, 81, 87)
    assert [c["verdict"] for c in ok] == ["pass"] * 4
    sag = checks.evaluate_burn([675, 676, 674, 560], 0.05, ecc, ecc, 0x4 | 0x40, 88, 87)
    by = {c["name"]: c for c in sag}
    assert by["burn_throughput_stability"]["verdict"] == "fail"
    assert by["burn_clock_event_reasons"]["verdict"] == "fail"
    assert by["burn_temperature_c"]["verdict"] == "fail"


def test_burn_ecc_deltas():
    before = {"corrected_volatile": 1, "uncorrected_volatile": 0}
    after = {"corrected_volatile": 5, "uncorrected_volatile": 1}
    by = {c["name"]: c for c in checks.evaluate_burn([1.0], 0.05, before, after, 0, 50, 87)}
    assert by["burn_ecc_delta"]["verdict"] == "fail"
    assert by["burn_ecc_delta"]["measured"] == {"corrected_volatile": 4, "uncorrected_volatile": 1}


# --- physically impossible figures fail (the 2-GPU bug: GPU 1 timed on GPU 0's stream) ----------
# Figures below are GPU 1's from the 2x H200 run before the fix (issue "GPU smoke test correct on
# multi-GPU hosts"): they passed then.
H200 = references.match_sku(0x2335, "NVIDIA H200")


@pytest.mark.parametrize(("dtype", "value"), [("fp16", 72152.0), ("bf16", 84324.0), ("tf32", 44510.0)])
def test_impossible_matmul_figures_fail_as_measurement_errors(dtype, value):
    peak, floor = references.sku_reference(H200, "matmul", dtype)
    c = figures.evaluate_figure(f"matmul_{dtype}_tflops", value, peak, floor, "TFLOP/s",
                                bound=references.physical_bound(H200, "matmul", dtype))
    assert c["verdict"] == "fail"
    assert c["detail"].startswith(f"measurement error: {value} TFLOP/s exceeds the physical peak")


def test_real_h200_figures_pass_and_a_figure_just_under_the_bound_is_judged_normally():
    peak, floor = references.sku_reference(H200, "matmul", "bf16")
    bound = references.physical_bound(H200, "matmul", "bf16")
    assert bound == pytest.approx(989.4 * 1.05, abs=0.01)
    assert figures.evaluate_figure("m", 663.48, peak, floor, "TFLOP/s", bound=bound)["verdict"] == "pass"
    assert figures.evaluate_figure("m", bound - 0.1, peak, floor, "TFLOP/s", bound=bound)["verdict"] == "pass"


def test_unknown_sku_is_still_bounded_by_the_fastest_known_part_and_host_copies_by_the_link():
    bound = references.physical_bound(None, "matmul", "fp16")
    c = figures.evaluate_figure("matmul_fp16_tflops", 72152.0, None, None, "TFLOP/s", bound=bound)
    assert c["verdict"] == "fail" and "measurement error" in c["detail"]
    assert figures.evaluate_figure("matmul_fp16_tflops", 500.0, None, None, "TFLOP/s", bound=bound)["verdict"] == "info"
    link = references.pcie_peak_gbs(5, 16)
    for value in (14589.0, 54004.0):  # GPU 1's H2D and D2H before the fix
        c = figures.evaluate_figure("h2d_gbs", value, link, 0.55, "GB/s",
                                    bound=references.physical_bound(None, "pcie", link), bound_why="PCIe link peak")
        assert c["verdict"] == "fail" and "exceeds the physical peak 66.16 GB/s" in c["detail"]


def test_references_match_published_spec_values_in_the_right_units():
    # NVIDIA datasheets: H200 SXM 4.8 TB/s HBM3e, dense BF16 989.4 TFLOP/s (1,979 with sparsity), TF32 494.7;
    # H100 SXM 3.35 TB/s; A100 80GB SXM 2,039 GB/s; L40S 864 GB/s; T4 320 GB/s. GB/s is 1e9 bytes/s:
    # the H200's floor must not be copied from a table that lists "2333" in an MB/s field.
    assert (H200["memory_bw_gbs"], H200["peak"]["bf16"], H200["peak"]["tf32"]) == (4800, 989.4, 494.7)
    by_sku = {row["sku"]: row for row in references.SKU_TABLE}
    assert by_sku["H100-SXM5-80GB"]["memory_bw_gbs"] == 3350
    assert by_sku["A100-SXM4-80GB"]["memory_bw_gbs"] == 2039
    assert by_sku["L40S"]["memory_bw_gbs"] == 864
    assert by_sku["T4"]["memory_bw_gbs"] == 320
    for row in references.SKU_TABLE:
        assert 100 <= row["memory_bw_gbs"] <= 10000, row["sku"]  # GB/s, not TB/s or MB/s
        assert all(0 < f < 1 for f in row["floors"].values()), row["sku"]
        # a floor is at most 70 % of what the datasheet promises: 2333 GB/s would be 49 % of 4800 - fine,
        # but a floor in MB/s (2,333,000) or TB/s (4.8) would be absurd either way
        floor = row["floors"]["memory_bw"] * row["memory_bw_gbs"]
        assert 50 <= floor <= row["memory_bw_gbs"], row["sku"]
    assert references.nvlink_peak_gbs(6, 18) == pytest.approx(478.12, abs=0.01)  # NVLink 4, as nvidia-smi reports


# --- P2P: CUDA's answer is the verdict, NVML beside it ---------------------------------------------
def test_nvml_p2p_status_reads_index_0_not_pynvmls_tuple():
    # nvidia-ml-py 13.x defines NVML_P2P_CAPS_INDEX_READ = 0, (a tuple): passing it made NVML calls fail
    # and every pair look like "no peer access". The program uses the nvml.h value 0 itself.
    fake = FakeNvml([healthy_gpu()] * 3, p2p={(0, 2): 5})
    assert nvml.P2P_CAPS_READ == 0
    assert nvml.p2p_status(fake, 0, 1) == "ok" and nvml.p2p_status(fake, 0, 2) == "not_supported"


def test_p2p_access_verdict_follows_cuda_and_explains_nvml_disagreement():
    labels = ["gpu0", "gpu1"]
    granted = [[None, True], [True, None]]
    c = figures.evaluate_p2p_access(granted, [[None, "not_supported"], ["not_supported", None]], True, labels)
    assert c["verdict"] == "pass" and "NVML's P2P status differs from CUDA's" in c["detail"]
    denied = [[None, False], [True, None]]
    assert figures.evaluate_p2p_access(denied, [[None, "ok"], ["ok", None]], False, labels)["verdict"] == "warn"
    c = figures.evaluate_p2p_access(denied, [[None, "ok"], ["ok", None]], True, labels)
    assert c["verdict"] == "fail" and "gpu0->gpu1" in c["detail"]


def nvlink_facts(index, bus, remote_type="switch", links=18, version=6, remote=None):
    return {"index": index, "pci_bus_id": bus, "pcie": {"max_gen": 5, "max_width": 16},
            "nvlink": [{"link": k, "version": version, "remote": remote, "remote_type": remote_type}
                       for k in range(links)]}


def test_pair_links_through_switches_direct_and_pcie():
    a, b = nvlink_facts(0, "00000000:00:06.0"), nvlink_facts(1, "00000000:00:07.0")
    assert interconnect.pair_link(a, b) == ("nvlink", 18, pytest.approx(478.12, abs=0.01))  # the 2x H200 (NVSwitch)
    direct_a = nvlink_facts(0, "00000000:3b:00.0", "gpu", 12, 4, remote=(0, 0x3C, 0))
    direct_b = nvlink_facts(1, "00000000:3c:00.0", "gpu", 12, 4, remote=(0, 0x3B, 0))
    assert interconnect.pair_link(direct_a, direct_b) == ("nvlink", 12, 300.0)  # A100 pair bridged directly
    pcie_a, pcie_b = dict(a, nvlink=[]), dict(b, nvlink=[])
    assert interconnect.pair_link(pcie_a, pcie_b) == ("pcie", 0, pytest.approx(63.01, abs=0.01))


def test_peer_bandwidth_floors_and_bounds():
    labels, kinds = ["gpu0", "gpu1"], [[None, "nvlink"], ["nvlink", None]]
    peaks = [[None, 478.12], [478.12, None]]
    good = figures.evaluate_p2p_bandwidth("p2p_bandwidth_oneway", [[None, 385.5], [386.3, None]], peaks, kinds, labels)
    assert good["verdict"] == "pass"
    slow = figures.evaluate_p2p_bandwidth("p2p_bandwidth_oneway", [[None, 120.0], [386.3, None]], peaks, kinds, labels)
    assert slow["verdict"] == "fail" and "gpu0->gpu1 120.0 GB/s <" in slow["detail"]
    both = figures.evaluate_p2p_bandwidth("p2p_bandwidth_bidirectional", [[None, 756.5], [756.5, None]], peaks, kinds,
                                          labels, factor=2)
    assert both["verdict"] == "pass"
    wrong = figures.evaluate_p2p_bandwidth("p2p_bandwidth_oneway", [[None, 9000.0], [386.3, None]], peaks, kinds,
                                           labels)
    assert wrong["verdict"] == "fail" and "measurement error" in wrong["detail"]


# --- NCCL all-reduce sweep -------------------------------------------------------------------------
SWEEP = [{"bytes": 1 << 20, "busbw_gbs": 23.2, "correct": True},
         {"bytes": 256 << 20, "busbw_gbs": 299.4, "correct": True},
         {"bytes": 2 << 30, "busbw_gbs": 333.2, "correct": True}]


def test_allreduce_arithmetic_and_sweep_verdicts():
    # rank r contributes (i % 251) + r: with 4 ranks element i sums to 4*(i%251) + 6
    assert figures.allreduce_expected(4, 3) == [6, 10, 14]
    assert figures.bus_bandwidth_gbs(1e9, 0.01, 8) == pytest.approx(175.0)
    assert figures.bus_bandwidth_gbs(1e9, 0.01, 1) is None
    result = {"world": 2, "sweep": SWEEP}
    c = figures.evaluate_allreduce(result, "nvlink", 478.12)
    assert c["verdict"] == "pass" and c["measured"]["busbw_gbs_at_largest"] == 333.2
    wrong = {"world": 2, "sweep": [dict(SWEEP[0], correct=False)] + SWEEP[1:]}
    assert figures.evaluate_allreduce(wrong, "nvlink", 478.12)["detail"] == "wrong sums at sizes [1048576]"
    slow = {"world": 2, "sweep": SWEEP[:2] + [dict(SWEEP[2], busbw_gbs=120.0)]}
    assert figures.evaluate_allreduce(slow, "nvlink", 478.12)["verdict"] == "fail"
    assert figures.evaluate_allreduce(slow, "pcie", 63.01)["verdict"] == "fail"  # above a PCIe link: impossible
    assert "measurement error" in figures.evaluate_allreduce(slow, "pcie", 63.01)["detail"]
    assert figures.evaluate_allreduce({"error": "worker failed"}, "nvlink", 478.12)["verdict"] == "fail"


def test_collective_workers_get_nvlink_multicast_disabled():
    assert NCCL_SAFE_ENV == {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
                             "NVSHMEM_DISABLE_NVLS": "1"}


# --- GPU selection: NVML and CUDA matched by UUID / PCI bus id, never by index ----------------------
# CUDA devices as torch describes them on the 2x H200 with CUDA_VISIBLE_DEVICES=1: CUDA's device 0 is
# NVML's GPU 1 (torch's uuid has no "GPU-" prefix; pci_bus_id is the bus number, pci_device_id the slot).
def fake_torch(*props):
    cuda = SimpleNamespace(device_count=lambda: len(props), get_device_properties=lambda i: props[i])
    return SimpleNamespace(cuda=cuda)


NVML_2X = [{"index": 0, "uuid": "GPU-a509fa0e-7570-742b-7b99-10a83b6b5a22", "pci_bus_id": "00000000:00:06.0"},
           {"index": 1, "uuid": "GPU-3107f1cb-45ce-f246-4f80-1a4da2bd9e9b", "pci_bus_id": "00000000:00:07.0"}]


def test_cuda_visible_devices_hides_a_gpu_which_gets_nvml_checks_only(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    torch = fake_torch(SimpleNamespace(uuid="3107f1cb-45ce-f246-4f80-1a4da2bd9e9b", pci_domain_id=0, pci_bus_id=0,
                                       pci_device_id=7))
    plan, summary = devices.plan(NVML_2X, devices.cuda_devices(torch), None)
    assert plan[1] == (0, None)
    assert plan[0][0] is None and "hidden from CUDA (CUDA_VISIBLE_DEVICES='1')" in plan[0][1]
    c = checks.evaluate_gpu_count(2, 2, None, summary)
    assert c["verdict"] == "pass" and "hides GPU(s) [0]" in c["detail"]


def test_match_by_pci_bus_id_when_cuda_reports_no_uuid(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    torch = fake_torch(SimpleNamespace(uuid=None, pci_domain_id=0, pci_bus_id=0, pci_device_id=7),
                       SimpleNamespace(uuid=None, pci_domain_id=0, pci_bus_id=0, pci_device_id=6))
    mapping, unmatched = devices.match_devices(NVML_2X, devices.cuda_devices(torch))
    assert mapping == {0: 1, 1: 0} and unmatched == []


def test_fewer_cuda_devices_with_nothing_hiding_them_fails(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    torch = fake_torch(SimpleNamespace(uuid="a509fa0e-7570-742b-7b99-10a83b6b5a22", pci_domain_id=0, pci_bus_id=0,
                                       pci_device_id=6))
    _, summary = devices.plan(NVML_2X, devices.cuda_devices(torch), None)
    c = checks.evaluate_gpu_count(2, 2, None, summary)
    assert c["verdict"] == "fail" and "CUDA_VISIBLE_DEVICES is unset" in c["detail"]


def test_gpus_selection_by_index_uuid_or_bus_id_and_unknown_names():
    tokens = devices.parse_selection("1, GPU-A509FA0E-7570-742b-7b99-10a83b6b5a22")
    assert [devices.selected(f, tokens) for f in NVML_2X] == [True, True]
    assert [devices.selected(f, devices.parse_selection("0000:00:07.0")) for f in NVML_2X] == [False, True]
    assert devices.parse_selection("all") is None
    assert devices.unknown_tokens(NVML_2X, ["7", "GPU-nope"]) == ["7", "GPU-nope"]


def test_a_gpus_selection_naming_no_gpu_fails_the_run(tmp_path):
    report = run(tmp_path, argv=["--gpus", "5"])
    assert report["verdict"] == "fail" and "--gpus names no GPU of this host: ['5']" in report["verdict_reason"]


# --- the program as users run it: the zipapp -----------------------------------------------------
@pytest.fixture(scope="module")
def zipapp(tmp_path_factory):
    out = tmp_path_factory.mktemp("zipapp") / "autoglm_smoke.pyz"
    build.build(str(out))
    return out


def test_zipapp_is_reproducible_and_bundles_pynvml(zipapp, tmp_path):
    import zipfile  # noqa: PLC0415

    again = build.build(str(tmp_path / "again.pyz"))
    assert Path(again).read_bytes() == zipapp.read_bytes()  # same sources, same bytes: copy reports no change
    names = zipfile.ZipFile(zipapp).namelist()
    assert "autoglm_smoke/_bundled/pynvml.py" in names and "autoglm_smoke/references.json" in names
    assert "autoglm_smoke/build.py" not in names


def test_zipapp_bundles_the_collections_pci_scan(zipapp, tmp_path):
    """The zipapp carries the collection's module_utils/pci.py (the one definition of an NVIDIA GPU)
    and its host module imports that copy: run isolated (-I), so no source tree is on sys.path."""
    import zipfile  # noqa: PLC0415

    from ansible_collections.autoglm.provision.plugins.module_utils import pci  # noqa: PLC0415

    bundled = zipfile.ZipFile(zipapp).read("autoglm_smoke/_bundled/pci.py")
    assert bundled == Path(pci.__file__).read_bytes()
    sysfs = make_sysfs(tmp_path, {"0000:3b:00.0": ("0x10de", "0x030200"), "0000:c1:00.0": ("0x10de", "0x068000")})
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from autoglm_smoke import host; "
            "print(host.pci.__file__); print(host.scan_pci_gpus(sys.argv[2]))")
    proc = subprocess.run([sys.executable, "-I", "-c", code, str(zipapp), str(sysfs)], capture_output=True,
                          text=True, timeout=60, check=True, cwd=tmp_path)
    where, found = proc.stdout.splitlines()
    assert where.endswith("autoglm_smoke.pyz/autoglm_smoke/_bundled/pci.py")
    assert found == "['0000:3b:00.0']"


def test_cli_real_no_gpu_path(zipapp, tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(zipapp), "--json-out", str(out)], capture_output=True, text=True,
                          timeout=60, check=False)
    report = json.loads(out.read_text())
    if report["gpu_present"]:
        pytest.skip("this machine has a working NVIDIA GPU")
    assert proc.returncode == 1 and report["verdict"] == "fail"
    assert "no NVIDIA GPU/driver" in report["verdict_reason"] or "driver stack does not work" in report[
        "verdict_reason"]
    assert "FAIL" in proc.stdout
    assert report["environment"]["nvml_bindings"].startswith("installed pynvml")  # this venv has nvidia-ml-py
    ok = subprocess.run([sys.executable, str(zipapp), "--no-require-gpu", "--json-out", "-"], capture_output=True,
                        text=True, timeout=60, check=False)
    assert ok.returncode == 0 and json.loads(ok.stdout)["verdict"] == "pass"


def test_zipapp_falls_back_to_its_bundled_pynvml(zipapp, tmp_path):
    # A Python without nvidia-ml-py (as a fresh target's system python3): -S hides site-packages.
    proc = subprocess.run([sys.executable, "-S", str(zipapp), "--no-require-gpu", "--json-out", "-"],
                          capture_output=True, text=True, timeout=60, check=False)
    report = json.loads(proc.stdout)
    assert report["environment"]["nvml_bindings"].startswith("bundled pynvml")


def test_cli_rejects_bad_options(zipapp):
    for argv, text in ((["--memtest-fraction", "1.5"], "--memtest-fraction must be in (0, 0.95]"),
                       (["--expected-gpus", "-1"], "--expected-gpus must be >= 0")):
        proc = subprocess.run([sys.executable, str(zipapp), *argv], capture_output=True, text=True, timeout=60,
                              check=False)
        assert proc.returncode == 2 and text in proc.stderr


def test_an_unexpected_error_is_a_failed_check_and_the_json_is_still_written(monkeypatch, tmp_path, capsys):
    def broken(opts):
        raise RuntimeError("CUDA error: invalid device ordinal")

    monkeypatch.setattr(cli, "run_smoke", broken)
    out = tmp_path / "r.json"
    assert cli.main(["--json-out", str(out)]) == 1
    report = json.loads(out.read_text())
    assert report["verdict"] == "fail"
    assert report["failures"] == ["program: smoke program error RuntimeError: CUDA error: invalid device ordinal"]


def test_program_is_python38_syntax():
    for path in (ROOT / "autoglm_smoke").glob("*.py"):
        ast.parse(path.read_text(), feature_version=(3, 8))


def test_an_early_worker_finds_its_own_cuda_device_by_uuid_or_bus_id(monkeypatch):
    from autoglm_smoke import collective  # noqa: PLC0415

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    torch = fake_torch(SimpleNamespace(uuid="3107f1cb-45ce-f246-4f80-1a4da2bd9e9b", pci_domain_id=0, pci_bus_id=0,
                                       pci_device_id=7))
    assert collective.find_cuda_index(torch, NVML_2X[1]["uuid"], NVML_2X[1]["pci_bus_id"]) == 0
    assert collective.find_cuda_index(torch, "-", "00000000:00:07.0") == 0
    assert collective.find_cuda_index(torch, NVML_2X[0]["uuid"], NVML_2X[0]["pci_bus_id"]) is None  # hidden


def test_the_early_sweep_is_kept_only_when_it_names_exactly_the_measured_gpus():
    from autoglm_smoke import run as run_module  # noqa: PLC0415

    class Early:
        def __init__(self, gpus):
            self.gpus, self.cancelled = [(g["uuid"], g["pci_bus_id"]) for g in gpus], False

        def cancel(self):
            self.cancelled = True

    opts = cli.parse_args(["--level", "quick"])
    early = Early(NVML_2X)
    assert run_module.sweep_for(opts, early, NVML_2X) is early and not early.cancelled
    assert run_module.sweep_for(opts, early, NVML_2X[1:]) is None and early.cancelled  # one GPU hidden: no sweep
