"""The GPU smoke-test program's verdict logic (roles/gpu_smoke/files/autoglm_gpu_smoke.py).

What is faked and why: NVML (a FakeNvml object with the pynvml functions the program calls),
the sysfs PCI tree, /proc/driver/nvidia/version and the kernel log. ECC errors, pending row
remaps, throttling, a degraded PCIe link, XIDs or a GPU missing from NVML cannot be produced on
demand on real hardware (and CI has no GPU). The real paths run elsewhere: the no-GPU verdict on
this machine (test_cli_* below), everything else on the H100 (docs/gpu-smoke.md).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "roles" / "gpu_smoke" / "files" / "autoglm_gpu_smoke.py"
spec = importlib.util.spec_from_file_location("autoglm_gpu_smoke", PROGRAM)
smoke = importlib.util.module_from_spec(spec)
spec.loader.exec_module(smoke)


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
    opts = smoke.parse_args(list(argv) + (["--allow-missing-torch"] if torch_missing else []))
    return smoke.run_smoke(
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
    assert smoke.scan_pci_gpus(str(sysfs)) == ["0000:3b:00.0", "0000:65:00.0"]


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
    c = smoke.evaluate_pcie({"max_gen": 5, "max_width": 16, "gpu_max_gen": 5}, {"pcie_gen": 4, "pcie_width": 8})
    assert c["verdict"] == "fail" and c["measured"] == "Gen4 x8 under load" and c["expected"] == "Gen5 x16"


def test_full_link_under_load_passes_even_if_idle_link_was_low():
    c = smoke.evaluate_pcie({"current_gen": 1, "current_width": 16, "max_gen": 5, "max_width": 16},
                            {"pcie_gen": 5, "pcie_width": 16})
    assert c["verdict"] == "pass"


def test_low_idle_link_without_load_is_not_judged(tmp_path):
    report = run(tmp_path, gpus=[healthy_gpu(pcie=(1, 16, 5, 16, 5))])
    c = verdicts(report)["pcie_link"]
    assert c["verdict"] == "warn" and "idle" in c["detail"]


def test_slot_limiting_the_gpu_warns():
    c = smoke.evaluate_pcie({"max_gen": 4, "max_width": 16, "gpu_max_gen": 5}, {"pcie_gen": 4, "pcie_width": 16})
    assert c["verdict"] == "warn" and "slot" in c["detail"]


def test_throttling_seen_only_under_load_fails():
    c = smoke.evaluate_clock_events(0x1, {"clock_events": 0x4 | 0x20})
    assert c["verdict"] == "fail" and "sw_thermal_slowdown" in c["detail"]


# --- XIDs from the kernel log -------------------------------------------------------------------
XID_LOG = """\
[  12.3] nvidia: loading out-of-tree module taints kernel.
[ 812.1] NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.
[ 900.2] NVRM: Xid (PCI:0000:5e:00): 13, pid=4321, name=python3, Graphics Exception
"""


def test_xid_parsing_maps_bus_ids():
    events = smoke.parse_xids(XID_LOG)
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
    row = smoke.match_sku(device_id, name)
    assert (row["sku"] if row else None) == sku


def test_every_table_row_is_complete():
    for row in smoke.SKU_TABLE:
        assert row["device_ids"] and row["memory_bw_gbs"] > 0 and row["pcie"][1] == 16
        assert set(row["floors"]) == {"matmul", "memory_bw", "pcie"}
        assert all(0 < f < 1 for f in row["floors"].values())
        assert "fp16" in row["peak"] and ("tf32" in row["peak"] or "fp32" in row["peak"])


def test_figure_below_floor_fails_and_unknown_sku_is_reported_not_judged():
    h100 = smoke.match_sku(0x2330, None)
    peak, floor = smoke.sku_reference(h100, "matmul", "bf16")
    assert smoke.evaluate_figure("matmul_bf16_tflops", 700.0, peak, floor, "TFLOP/s")["verdict"] == "pass"
    slow = smoke.evaluate_figure("matmul_bf16_tflops", 400.0, peak, floor, "TFLOP/s")
    assert slow["verdict"] == "fail" and slow["expected"]["min"] == pytest.approx(0.55 * 989.4, abs=0.01)
    unknown = smoke.evaluate_figure("matmul_bf16_tflops", 123.0, *smoke.sku_reference(None, "matmul", "bf16"),
                                    "TFLOP/s")
    assert unknown["verdict"] == "info" and unknown["measured"] == 123.0 and "not judged" in unknown["detail"]
    assert smoke.sku_reference(smoke.match_sku(0x1EB8, None), "matmul", "bf16") == (None, None)  # T4: no bf16


def test_pcie_peak_from_link():
    assert smoke.pcie_peak_gbs(5, 16) == pytest.approx(63.01, abs=0.01)
    assert smoke.pcie_peak_gbs(4, 8) == pytest.approx(15.75, abs=0.01)
    assert smoke.pcie_peak_gbs(None, 16) is None


# --- burn ----------------------------------------------------------------------------------------
def test_burn_stable_passes_and_sagging_fails():
    ecc = {"corrected_volatile": 0, "uncorrected_volatile": 0}
    ok = smoke.evaluate_burn([675, 676, 674, 675], 0.05, ecc, ecc, 0x4, 81, 87)
    assert [c["verdict"] for c in ok] == ["pass"] * 4
    sag = smoke.evaluate_burn([675, 676, 674, 560], 0.05, ecc, ecc, 0x4 | 0x40, 88, 87)
    by = {c["name"]: c for c in sag}
    assert by["burn_throughput_stability"]["verdict"] == "fail"
    assert by["burn_clock_event_reasons"]["verdict"] == "fail"
    assert by["burn_temperature_c"]["verdict"] == "fail"


def test_burn_ecc_deltas():
    before = {"corrected_volatile": 1, "uncorrected_volatile": 0}
    after = {"corrected_volatile": 5, "uncorrected_volatile": 1}
    by = {c["name"]: c for c in smoke.evaluate_burn([1.0], 0.05, before, after, 0, 50, 87)}
    assert by["burn_ecc_delta"]["verdict"] == "fail"
    assert by["burn_ecc_delta"]["measured"] == {"corrected_volatile": 4, "uncorrected_volatile": 1}


# --- multi-GPU: P2P and all-reduce arithmetic ---------------------------------------------------
def test_p2p_matrix_from_nvml_and_verdicts():
    nvml = FakeNvml([healthy_gpu()] * 3, p2p={(0, 2): 4, (2, 0): 4})  # 4 = NVML_P2P_STATUS_NOT_SUPPORTED
    matrix = smoke.p2p_matrix(nvml, None, 3)
    assert matrix == [[None, True, False], [True, None, True], [False, True, None]]
    assert smoke.evaluate_p2p(matrix, require_all=False)["verdict"] == "warn"
    assert smoke.evaluate_p2p(matrix, require_all=True)["verdict"] == "fail"
    full = [[None, True], [True, None]]
    assert smoke.evaluate_p2p(full, require_all=True)["verdict"] == "pass"


def test_allreduce_arithmetic():
    # rank r contributes (i % 251) + r: with 4 ranks element i sums to 4*(i%251) + 6
    assert smoke.allreduce_expected(4, 3) == [6, 10, 14]
    assert smoke.bus_bandwidth_gbs(1e9, 0.01, 8) == pytest.approx(175.0)
    assert smoke.bus_bandwidth_gbs(1e9, 0.01, 1) is None
    good = {"world": 2, "bytes": 1 << 28, "correct": True, "max_abs_error": 0.0, "busbw_gbs": 350.0}
    assert smoke.evaluate_allreduce(good)["verdict"] == "pass"
    assert smoke.evaluate_allreduce(dict(good, correct=False, max_abs_error=3.0))["verdict"] == "fail"
    assert smoke.evaluate_allreduce({"error": "worker failed"})["verdict"] == "fail"


def test_collective_workers_get_nvlink_multicast_disabled():
    assert smoke.NCCL_SAFE_ENV == {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
                                   "NVSHMEM_DISABLE_NVLS": "1"}


# --- the real program on this machine (no GPU here) ---------------------------------------------
def test_cli_real_no_gpu_path(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(PROGRAM), "--json-out", str(out)], capture_output=True, text=True,
                          timeout=60, check=False)
    report = json.loads(out.read_text())
    if report["gpu_present"]:
        pytest.skip("this machine has a working NVIDIA GPU")
    assert proc.returncode == 1 and report["verdict"] == "fail"
    assert "no NVIDIA GPU/driver" in report["verdict_reason"] or "driver stack does not work" in report[
        "verdict_reason"]
    assert "FAIL" in proc.stdout
    ok = subprocess.run([sys.executable, str(PROGRAM), "--no-require-gpu", "--json-out", "-"], capture_output=True,
                        text=True, timeout=60, check=False)
    assert ok.returncode == 0 and json.loads(ok.stdout)["verdict"] == "pass"


def test_cli_rejects_bad_options():
    proc = subprocess.run([sys.executable, str(PROGRAM), "--memtest-fraction", "1.5"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "--memtest-fraction must be in (0, 0.95]" in proc.stderr


def test_program_is_python38_syntax():
    ast.parse(PROGRAM.read_text(), feature_version=(3, 8))
    ast.parse((PROGRAM.parent / "autoglm_vendored_pynvml.py").read_text(), feature_version=(3, 8))
