"""The GPU smoke-test program (the autoglm_smoke package) end to end through run_smoke: health
verdicts of a healthy host and the torch decision, no GPU / no driver, driver and GPU counts, the
early NCCL sweep. Fakes: tests/fixtures/smoke_fakes.py (what is faked and why)."""

from __future__ import annotations

import json

from autoglm_smoke import cli
from tests.fixtures.smoke_fakes import NVML_2X, FakeNvml, run, verdicts


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


# --- the early NCCL sweep -------------------------------------------------------------------------
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
