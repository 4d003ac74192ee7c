"""The GPU SKU table (plugins/plugin_utils/nvidia_gpu_skus.json) and the decisions made from it
(plugins/plugin_utils/nvidia_skus.py): the table's shape, model and device look-ups, the impossible
combinations validate refuses, and the kernel-module flavour decision, exhaustively."""

from __future__ import annotations

import itertools
import re

import pytest
from ansible_collections.autoglm.provision.plugins.plugin_utils import nvidia_skus as skus

# The SKUs issue 31 asks the table to carry.
ASKED = ["H100-PCIe", "H100-SXM", "H100-NVL", "H800-SXM", "H200-SXM", "H20", "A100-SXM", "A800-SXM", "L40S",
         "L40", "L4", "A10", "A30", "T4", "RTX-6000-Ada", "B200", "GB200", "GH200"]


def test_the_table_carries_every_asked_sku_with_sources_and_well_formed_fields():
    rows = {row["sku"]: row for row in skus.SKUS}
    assert set(ASKED) <= set(rows)
    for row in skus.SKUS:
        assert row["arch"] in skus.ARCHS, row["sku"]
        assert row["sources"] and set(row["sources"]) <= set(skus.DATA["sources"]), row["sku"]
        assert re.fullmatch(r"\d{3}(\.\d+){0,2}", row["min_driver"]), row["sku"]
        assert row["confidence"] in ("documented", "low"), row["sku"]
        assert row["nvswitch"] in (False, "pci", "sku"), row["sku"]
        assert all(re.fullmatch(r"0x[0-9a-f]{4}", d) for d in row["device_ids"]), row["sku"]
    ids = [d for row in skus.SKUS for d in row["device_ids"]]
    assert len(ids) == len(set(ids)), "a PCI device id in two rows"
    for arch in skus.ARCHS.values():
        assert set(arch["sources"]) <= set(skus.DATA["sources"])


def test_architecture_facts_that_the_rules_rest_on():
    assert skus.ARCHS["blackwell"]["open_modules"] == "required"
    assert skus.ARCHS["grace-hopper"]["open_modules"] == "required"
    assert skus.ARCHS["volta"]["open_modules"] == "unsupported"
    assert {row["sku"]: row["sm"] for row in skus.SKUS if row["arch"] == "blackwell"} == {"B200": 100, "GB200": 100}
    assert skus.CUDA["11.8"] == {"min_driver": "520.61.05", "max_sm": 90}
    assert skus.CUDA["12.8"]["max_sm"] >= 100 and all(c["max_sm"] == 90 for v, c in skus.CUDA.items()
                                                       if v in ("11.8", "12.0", "12.6"))


@pytest.mark.parametrize(("declared", "expected"), [
    ("H100", {"H100-SXM", "H100-PCIe", "H100-NVL"}),
    ("h100 pcie", {"H100-PCIe"}),
    ("NVIDIA H100 80GB HBM3", {"H100-SXM"}),
    ("H100 SXM5 80GB", {"H100-SXM", "H100-PCIe", "H100-NVL"}),  # falls back to the first word's family
    ("rtx 6000 ada", {"RTX-6000-Ada"}),
    ("Tesla T4", {"T4"}),
    ("b200", {"B200"}),
    ("MI300X", set()),
    ("", set()),
])
def test_find_model(declared, expected):
    assert {row["sku"] for row in skus.find_model(declared)} == expected


@pytest.mark.parametrize(("device_id", "sku", "arch", "known_by"), [
    ("0x2330", "H100-SXM", "hopper", "SKU table"),
    ("0x2342", "GH200", "grace-hopper", "SKU table"),  # in the Hopper id range: the row decides
    ("0x2901", "B200", "blackwell", "SKU table"),
    ("0x31c2", None, "blackwell", "device-id range"),  # a Blackwell part the table does not list (GB300)
    ("0x1db4", "V100", "volta", "SKU table"),
    ("0x15f8", None, "volta", "device-id range"),  # Pascal P100: pre-Turing, proprietary only
    ("0x2684", None, None, "unknown"),  # a Turing..Ada id the table does not list
    ("zzzz", None, None, "unknown"),
])
def test_find_device(device_id, sku, arch, known_by):
    found = skus.find_device(device_id)
    assert (found["sku"], found["arch"], found["known_by"]) == (sku, arch, known_by)


# --- The kernel-module flavour, every request x branch x GPU mix ------------------------------------
# The rules, as docs/nvidia-driver.md states them: open needs Turing+ (GSP) and R515+; Blackwell and Grace Hopper
# need open; auto = open where required, else open for Turing+ from R560, else proprietary.
BRANCHES = [470, 510, 515, 535, 550, 559, 560, 570, 580]
ARCH_SETS = [set(c) for n in range(0, 3) for c in itertools.combinations(
    ["volta", "turing", "ampere", "hopper", "grace-hopper", "blackwell"], n)]


def _expected(requested, branch, archs):
    required = bool(archs & {"blackwell", "grace-hopper"})
    unsupported = "volta" in archs
    if required and unsupported:
        return requested, False
    if requested == "open" or (requested == "auto" and required):
        return "open", not unsupported and branch >= 515
    if requested == "proprietary":
        return "proprietary", not required
    if unsupported or not archs or branch < 560:
        return "proprietary", True
    return "open", True


@pytest.mark.parametrize("requested", skus.FLAVOURS)
def test_module_flavour_exhaustively(requested):
    for branch, archs in itertools.product(BRANCHES, ARCH_SETS):
        decision = skus.module_flavour(requested, str(branch), sorted(archs))
        assert (decision["type"], decision["ok"]) == _expected(requested, branch, archs), (requested, branch, archs)
        assert decision["reason"]
        if not decision["ok"]:
            assert decision["variable"] in ("nvidia_driver_kernel_module_type", "nvidia_driver_branch",
                                            "nvidia_driver_gpu_models")


def test_module_flavour_reasons_say_why():
    assert "required" in skus.module_flavour("auto", "570", ["blackwell"])["reason"]
    assert ">= 560" in skus.module_flavour("auto", "580", ["hopper"])["reason"]
    assert "< 560" in skus.module_flavour("auto", "535", ["hopper"])["reason"]
    assert "no GPU" in skus.module_flavour("auto", "580", [])["reason"]
    assert "R515" in skus.module_flavour("open", "470", [])["reason"]


# --- Impossible combinations (what validate refuses) -------------------------------------------------
def _problems(models, branch="535", pinned="", cuda="11.8", flavour="auto"):
    return skus.combination_problems(models, branch, pinned, cuda, flavour)


def test_b200_on_the_default_stack_names_driver_and_cuda():
    by_var = {p["variable"]: p for p in _problems(["B200"])}
    assert set(by_var) == {"nvidia_driver_branch", "cuda_version"}
    assert "570.133.20" in by_var["nvidia_driver_branch"]["message"]
    cuda = by_var["cuda_version"]
    assert "sm_100" in cuda["message"] and "CUDA >= 12.8" in cuda["message"]
    assert "open kernel modules" in cuda["message"]
    assert "sm_90 at most" in cuda["message"] and "nvidia_driver_gpu_models" in cuda["allowed"]


def test_blackwell_refuses_proprietary_and_accepts_open_at_570():
    problems = _problems(["GB200"], branch="570", flavour="proprietary")
    assert [p["variable"] for p in problems] == ["cuda_version", "nvidia_driver_kernel_module_type"]
    assert [p["variable"] for p in _problems(["GB200"], branch="570", flavour="open", cuda="12.8")] == []


def test_pin_below_a_documented_sku_minimum_is_refused_on_the_pin():
    (problem,) = _problems(["B200"], branch="570", pinned="570.124.06", cuda="12.8")
    assert problem["variable"] == "nvidia_driver_version" and problem["value"] == "570.124.06"


def test_hopper_and_ada_run_on_cuda_118_at_535():
    assert _problems(["H100", "H200 NVL", "H20", "L40S", "L4", "RTX 6000 Ada", "A10", "A30", "T4"]) == []


def test_volta_past_its_last_branch_and_open_on_volta_are_refused():
    (problem,) = _problems(["V100"], branch="590")
    assert problem["variable"] == "nvidia_driver_branch" and "580" in problem["allowed"]
    (problem,) = _problems(["V100"], flavour="open")
    assert problem["variable"] == "nvidia_driver_kernel_module_type" and "GSP" in problem["message"]


def test_mixed_open_only_and_proprietary_only_gpus_cannot_share_a_host():
    problems = _problems(["V100", "GH200"], branch="570")
    assert any(p["variable"] == "nvidia_driver_gpu_models" and "split" in p["message"] for p in problems)


def test_unknown_models_are_not_guessed():
    assert _problems(["MI300X", "Gaudi 3"], branch="470", flavour="open") == [
        p for p in _problems([], branch="470", flavour="open")]


# --- The role's filters (plugins/plugin_utils/nvidia_driver.py) ---------------------------------------
def test_filter_reports_each_gpu_on_the_bus_with_its_row():
    from ansible_collections.autoglm.provision.plugins.plugin_utils import nvidia_driver

    gpus = nvidia_driver.nvidia_gpu_skus(["0x2901", "0x2331", "0x2684"])
    assert [(g["sku"], g["nvswitch"], g["min_driver"], g["known_by"]) for g in gpus] == [
        ("B200", "sku", "570.133.20", "SKU table"), ("H100-PCIe", False, "525.60.13", "SKU table"),
        (None, False, None, "unknown")]


def test_filter_decides_from_declared_models_and_found_gpus_together():
    from ansible_collections.autoglm.provision.plugins.plugin_utils import nvidia_driver

    # Declared H100 at 535 alone is proprietary; a B200 found on the bus makes the open modules required.
    assert nvidia_driver.nvidia_module_flavour("auto", "535", ["H100"], [])["type"] == "proprietary"
    decision = nvidia_driver.nvidia_module_flavour("auto", 570, ["H100"], ["0x2901"])
    assert (decision["type"], decision["ok"], decision["archs"]) == ("open", True, ["blackwell", "hopper"])
    assert decision["reason"].startswith("Blackwell:")
    assert not nvidia_driver.nvidia_module_flavour("proprietary", "570", [], ["0x31c2"])["ok"]
