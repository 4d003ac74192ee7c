"""The GPU smoke-test program's GPU selection: NVML and CUDA devices matched by UUID / PCI bus id,
CUDA_VISIBLE_DEVICES and --gpus. Fakes (torch's view of the 2x H200): tests/fixtures/smoke_fakes.py."""

from __future__ import annotations

from types import SimpleNamespace

from autoglm_smoke import checks, devices
from tests.fixtures.smoke_fakes import NVML_2X, fake_torch, run


# --- GPU selection: NVML and CUDA matched by UUID / PCI bus id, never by index ----------------------
# (fake_torch and NVML_2X, torch's and NVML's view of the 2x H200: tests/fixtures/smoke_fakes.py)
def test_cuda_visible_devices_hides_a_gpu_which_gets_nvml_checks_only(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    torch = fake_torch(SimpleNamespace(uuid="3107f1cb-45ce-f246-4f80-1a4da2bd9e9b", pci_domain_id=0, pci_bus_id=0,
                                       pci_device_id=7))
    plan, summary = devices.plan(NVML_2X, devices.cuda_devices(torch), None)
    assert plan[1] == (0, None)
    assert plan[0][0] is None and "hidden from CUDA (CUDA_VISIBLE_DEVICES='1')" in plan[0][1]
    c = checks.evaluate_gpu_count(2, 2, None, summary)
    assert c["verdict"] == "pass" and "hides GPU(s) [0]" in c["detail"]


def test_a_gpu_hidden_from_cuda_fails_when_the_inventory_expects_it(monkeypatch):
    """A leftover CUDA_VISIBLE_DEVICES (an /etc/environment line, a profile) hides a GPU the host is
    provisioned for: the workload would not see it either, and the smoke test measured nothing on it."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    _, summary = devices.plan(NVML_2X, devices.cuda_devices(fake_torch()), None)
    c = checks.evaluate_gpu_count(2, 2, 2, summary)
    assert c["verdict"] == "fail"  # GPU_COUNT_MISMATCH, with its remediation: test_verdicts
    assert "CUDA_VISIBLE_DEVICES='' hides GPU(s) [0, 1] from CUDA, and the inventory expects 2" in c["detail"]


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
