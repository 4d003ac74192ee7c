"""The GPU smoke-test program's NCCL all-reduce sweep: its arithmetic and verdicts, the workers'
environment, and an early worker finding its own CUDA device. Fakes: tests/fixtures/smoke_fakes.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from autoglm_smoke import NCCL_SAFE_ENV, figures
from tests.fixtures.smoke_fakes import NVML_2X, fake_torch

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


def test_an_early_worker_finds_its_own_cuda_device_by_uuid_or_bus_id(monkeypatch):
    from autoglm_smoke import collective  # noqa: PLC0415

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    torch = fake_torch(SimpleNamespace(uuid="3107f1cb-45ce-f246-4f80-1a4da2bd9e9b", pci_domain_id=0, pci_bus_id=0,
                                       pci_device_id=7))
    assert collective.find_cuda_index(torch, NVML_2X[1]["uuid"], NVML_2X[1]["pci_bus_id"]) == 0
    assert collective.find_cuda_index(torch, "-", "00000000:00:07.0") == 0
    assert collective.find_cuda_index(torch, NVML_2X[0]["uuid"], NVML_2X[0]["pci_bus_id"]) is None  # hidden


def test_the_multicast_settings_are_said_once():
    """NCCL_SAFE_ENV is the one statement of the NVLink multicast settings: the role, the action's
    documentation and the benchmarks take it from the program instead of restating it."""
    from provisioner import paths  # noqa: PLC0415

    repository = Path(__file__).resolve().parents[3]
    content = [paths.COLLECTION / part for part in ("roles", "playbooks", "plugins")]
    files = [*(f for part in content for f in part.rglob("*") if f.suffix in (".yml", ".py")),
             *(repository / "bench").glob("*.py")]
    restated = sorted(f"{f.name}: {name}" for f in files for name in NCCL_SAFE_ENV
                      if name in f.read_text(encoding="utf-8"))
    assert not restated, f"import autoglm_smoke.NCCL_SAFE_ENV (or let the program set it) instead: {restated}"
