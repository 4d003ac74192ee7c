"""The GPU smoke-test program's health verdicts per GPU: failure modes that cannot be produced on
demand, the PCIe link read under load, burn. Fakes: tests/fixtures/smoke_fakes.py (what is faked
and why)."""

from __future__ import annotations

import pytest

from autoglm_smoke import checks, figures
from tests.fixtures.smoke_fakes import healthy_gpu, run, verdicts


# --- per-GPU failure modes that cannot be produced on demand ------------------------------------
@pytest.mark.parametrize(
    ("over", "check_name", "verdict", "text", "code"),
    [
        ({"ecc": {(0, 0): 3, (0, 1): 9, (1, 0): 2, (1, 1): 2}}, "ecc_uncorrected", "fail", "2 uncorrectable",
         "GPU_ECC_UNCORRECTABLE_VOLATILE"),
        ({"ecc": {(0, 0): 0, (0, 1): 0, (1, 0): 0, (1, 1): 4}}, "ecc_uncorrected", "warn", "lifetime",
         "GPU_ECC_UNCORRECTABLE_LIFETIME"),
        ({"ecc": {(0, 0): 0, (0, 1): 0, (1, 0): None, (1, 1): 0}}, "ecc_uncorrected", "warn", "not readable",
         "GPU_ECC_COUNTERS_UNREADABLE"),
        ({"ecc_mode": (0, 0)}, "ecc_mode", "fail", "", "GPU_ECC_DISABLED"),
        ({"ecc_mode": None}, "ecc_mode", "skip", "not supported", None),
        ({"remap": (0, 1, 1, 0)}, "memory_remap", "fail", "reset/reboot needed", "GPU_ROW_REMAP_PENDING"),
        ({"remap": (0, 0, 0, 1)}, "memory_remap", "fail", "needs service", "GPU_ROW_REMAP_FAILED"),
        ({"remap": None, "retired_pending": 1}, "memory_remap", "fail", "page retirement pending",
         "GPU_PAGE_RETIREMENT_PENDING"),
        ({"clock_events": 0x1 | 0x40}, "clock_event_reasons", "fail", "hw_thermal_slowdown", "GPU_CLOCK_EVENT_THERMAL"),
        ({"clock_events": 0x80}, "clock_event_reasons", "fail", "hw_power_brake_slowdown",
         "GPU_CLOCK_EVENT_POWER_BRAKE"),
        ({"clock_events": 0x8}, "clock_event_reasons", "fail", "hw_slowdown", "GPU_CLOCK_EVENT_HW_SLOWDOWN"),
        ({"clock_events": 0x4}, "clock_event_reasons", "pass", "", None),
        ({"temp": 91}, "temperature_c", "fail", "slowdown threshold 89", "GPU_THERMAL"),
        ({"cc": (6, 0)}, "compute_capability", "fail", "", "GPU_COMPUTE_CAPABILITY_LOW"),
        ({"mem": 6 * 2**30}, "memory_total_gib", "fail", "", "GPU_MEMORY_TOO_SMALL"),
        ({"persistence": 0}, "persistence_mode", "warn", "nvidia-persistenced", "GPU_PERSISTENCE_OFF"),
        ({"uuid": None}, "identity", "fail", "", "GPU_IDENTITY_UNREADABLE"),
        ({"pcie": (1, 16, 5, 16, 5)}, "pcie_link", "warn", "idle", "GPU_PCIE_LINK_UNVERIFIED"),
    ],
)
def test_failure_modes(tmp_path, over, check_name, verdict, text, code):
    gpu = healthy_gpu(**over)
    if over.get("uuid", "x") is None:
        gpu["uuid"] = None
    report = run(tmp_path, gpus=[gpu])
    c = verdicts(report)[check_name]
    assert c["verdict"] == verdict, c
    assert text in c["detail"], c
    assert report["verdict"] == ("fail" if verdict == "fail" else "pass")
    # the verdict contract: a failed or warned check says what it is and what to do
    assert c.get("code") == code, c
    if code:
        assert c["severity"] in ("fatal", "degraded", "info") and c["remediation"]
        assert code in report["codes"]
    else:
        assert "severity" not in c and "remediation" not in c


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


# --- burn ----------------------------------------------------------------------------------------
def test_burn_stable_passes_and_sagging_fails():
    ecc = {"corrected_volatile": 0, "uncorrected_volatile": 0}
    ok = figures.evaluate_burn([675, 676, 674, 675], 0.05, ecc, ecc, 0x4, 81, 87)
    assert [c["verdict"] for c in ok] == ["pass"] * 4
    sag = figures.evaluate_burn([675, 676, 674, 560], 0.05, ecc, ecc, 0x4 | 0x40, 88, 87)
    by = {c["name"]: c for c in sag}
    assert by["burn_throughput_stability"]["verdict"] == "fail"
    assert by["burn_clock_event_reasons"]["verdict"] == "fail"
    assert by["burn_temperature_c"]["verdict"] == "fail"


def test_burn_ecc_deltas():
    before = {"corrected_volatile": 1, "uncorrected_volatile": 0}
    after = {"corrected_volatile": 5, "uncorrected_volatile": 1}
    by = {c["name"]: c for c in figures.evaluate_burn([1.0], 0.05, before, after, 0, 50, 87)}
    assert by["burn_ecc_delta"]["verdict"] == "fail"
    assert by["burn_ecc_delta"]["measured"] == {"corrected_volatile": 4, "uncorrected_volatile": 1}
