"""Fabric manager package pinning and the GPUs' fabric state (plugins/plugin_utils/nvidia_fabric.py), on
fixtures of `nvidia-smi -q` Fabric blocks quoted from public threads (tests/fixtures/nvidia_smi_fabric;
each file's header says where it comes from and what was added or reconstructed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.plugin_utils import nvidia_fabric as fabric

FIXTURES = Path(__file__).parents[3] / "fixtures" / "nvidia_smi_fabric"


def _states(name):
    return fabric.fabric_states((FIXTURES / name).read_text())


@pytest.mark.parametrize(("branch", "first", "second"), [
    ("535", "nvidia-fabricmanager-535=535.183.06-*", "nvidia-fabricmanager=535.183.06-*"),
    ("575", "nvidia-fabricmanager-575=575.57.08-*", "nvidia-fabricmanager=575.57.08-*"),
    ("580", "nvidia-fabricmanager=580.65.06-*", "nvidia-fabricmanager-580=580.65.06-*"),
    (590, "nvidia-fabricmanager=590.48.01-*", "nvidia-fabricmanager-590=590.48.01-*"),
])
def test_candidates_put_the_branchs_naming_first_and_pin_the_exact_version(branch, first, second):
    version = {"535": "535.183.06", "575": "575.57.08", "580": "580.65.06", 590: "590.48.01"}[branch]
    assert fabric.fabricmanager_candidates(branch, version) == [first, second]


def test_pick_takes_the_first_spec_apt_resolves():
    candidates = fabric.fabricmanager_candidates("580", "580.65.06")
    # NVIDIA/gpu-driver-container#451: the virtual branch name cannot carry a version.
    virtual = {"rc": 100, "stderr": "Package nvidia-fabricmanager-580 is a virtual package provided by:\n"
                                    "E: Version '580.65.06-1' for 'nvidia-fabricmanager-580' was not found"}
    picked = fabric.pick_fabricmanager(list(reversed(candidates)), [virtual, {"rc": 0, "stderr": ""}])
    assert picked["spec"] == "nvidia-fabricmanager=580.65.06-*" and picked["package"] == "nvidia-fabricmanager"
    assert picked["tried"][0]["error"].startswith("E: Version '580.65.06-1'")


def test_pick_reports_every_failure_when_nothing_resolves():
    candidates = fabric.fabricmanager_candidates("535", "535.183.06")
    picked = fabric.pick_fabricmanager(candidates, [{"rc": 100, "stderr": "E: no"}, {"rc": 100, "msg": "E: neither"}])
    assert picked["spec"] == "" and [t["error"] for t in picked["tried"]] == ["E: no", "E: neither"]


def test_pcie_not_supported_never_fails_a_host():
    result = _states("pcie_not_supported.txt")
    assert result["verdict"] == "not_applicable" and result["failures"] == []
    assert [g["gpu"] for g in result["gpus"]] == ["00000000:17:00.0", "00000000:65:00.0"]
    assert {g["state"] for g in result["gpus"]} == {"Not Supported"}


def test_a_gpu_that_has_not_joined_the_fabric_fails_naming_fabric_manager_and_error_802():
    result = _states("hgx_fm_not_running.txt")
    assert result["verdict"] == "fail"
    ok, failed = result["gpus"]
    assert (ok["verdict"], ok["clique_id"]) == ("ok", "32766")
    assert failed["state"] == "Not Started" and failed["verdict"] == "fail"
    (failure,) = result["failures"]
    assert failure.startswith("00000000:2A:00.0") and "nvidia-fabricmanager" in failure and "802" in failure


def test_joined_but_unhealthy_fails_with_the_health_summary():
    (gpu,) = _states("hgx_unhealthy.txt")["gpus"]
    assert (gpu["state"], gpu["status"], gpu["clique_id"], gpu["health"]) == ("Completed", "Success", "2", "Unhealthy")
    assert gpu["cluster_uuid"] == "dc6e40c4-d722-4357-9ba6-5291dd461278"
    assert gpu["verdict"] == "fail" and "Unhealthy" in gpu["why"]


def test_completed_with_an_error_status_fails():
    result = _states("insufficient_resources.txt")
    assert result["verdict"] == "fail"
    assert "Insufficient Resources" in result["failures"][0]


def test_output_without_a_fabric_block_is_unknown():
    assert fabric.fabric_states("GPU 00000000:18:00.0\n    Product Name : Tesla T4\n")["verdict"] == "unknown"
    assert fabric.fabric_states("")["gpus"] == []
