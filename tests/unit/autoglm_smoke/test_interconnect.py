"""The GPU smoke-test program between GPUs: P2P access (CUDA's answer, NVML's beside it),
NVLink/NVSwitch/PCIe pair links and peer bandwidth. Fakes: tests/fixtures/smoke_fakes.py."""

from __future__ import annotations

import pytest

from autoglm_smoke import figures, interconnect, nvml
from tests.fixtures.smoke_fakes import FakeNvml, healthy_gpu


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
