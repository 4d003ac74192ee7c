"""redfish_bios's AttributeRegistry check on the four vendors' real BIOS attribute registries
(tests/fixtures/redfish/registries/, README: sources). Each vendor: an allowed value passes, a value
outside the registry's enumeration and a read-only attribute are refused with a message naming the
attribute, the value, the allowed values and the registry id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.module_utils import redfish_bios_registry as registry

FIXTURES = Path(__file__).parents[3] / "fixtures" / "redfish"


def load(vendor: str) -> dict:
    return json.loads((FIXTURES / "registries" / f"{vendor}.registry.json").read_text())


def current(vendor: str) -> dict:
    """The attribute values the same vendor's real Bios resource reports (Supermicro: the Bios of the
    registry's own snapshot; the others: tests/fixtures/redfish_bios/, the same machines)."""
    if vendor == "supermicro":
        return json.loads((FIXTURES / "registries" / "supermicro.bios.json").read_text())["bios"]["Attributes"]
    return json.loads((FIXTURES.parent / "redfish_bios" / f"{vendor}.json").read_text())["bios"]["Attributes"]


# Per vendor: (registry Id, attribute redfish_bios sets, value the BIOS takes, value it does not take
# with the allowed values the message must list, an attribute the registry marks read-only or None).
CASES = {
    "dell": ("BiosAttributeRegistry.v1_0_3", "SriovGlobalEnable", "Enabled", "Enable", ["Enabled", "Disabled"], "Rmp"),
    "hpe": ("BiosAttributeRegistryA42.v1_2_60", "Sriov", "Enabled", "On", ["Enabled", "Disabled"], "SecureBootStatus"),
    "lenovo": (
        "BiosAttributeRegistry.1.0.0",
        "DevicesandIOPorts_IntelVTforDirectedIOVTd",
        "Enabled",
        "Enable",
        ["Disabled", "Enabled"],
        "MellanoxNetworkAdapter_A088C2C36F6E__Slot15_LinkStatus",
    ),
    # Supermicro's registry has no read-only attribute at all (ReadOnly is false on all 495).
    "supermicro": (
        "BiosAttributeRegistry.1_0_0",
        "SR_IOVSupport_0047",
        "Enabled",
        "Enable",
        ["Disabled", "Enabled"],
        None,
    ),
}


@pytest.mark.parametrize("vendor", sorted(CASES))
def test_allowed_value_passes(vendor):
    reg_id, name, good, _bad, _allowed, _ro = CASES[vendor]
    attributes = {**current(vendor), name: "Disabled"}
    out = registry.check(load(vendor), {name: good}, attributes)
    assert out == {"registry": reg_id, "checked": True, "refused": [], "msg": ""}


@pytest.mark.parametrize("vendor", sorted(CASES))
def test_value_outside_the_enumeration_is_refused(vendor):
    reg_id, name, _good, bad, allowed, _ro = CASES[vendor]
    attributes = {**current(vendor), name: "Disabled"}
    out = registry.check(load(vendor), {name: bad}, attributes)
    assert out["checked"] is True and out["registry"] == reg_id
    assert out["refused"] == [
        {"attribute": name, "value": bad, "problem": "value_not_allowed", "allowed": allowed, "reason": ""}
    ]
    listed = ", ".join(repr(v) for v in allowed)
    assert (
        out["msg"]
        == f"BIOS AttributeRegistry {reg_id} refuses {name}={bad!r}: not an allowed value (allowed: {listed})"
    )


@pytest.mark.parametrize("vendor", [v for v in sorted(CASES) if CASES[v][5]])
def test_read_only_attribute_is_refused(vendor):
    reg_id, _name, _good, _bad, _allowed, read_only = CASES[vendor]
    entry = next(e for e in registry.registry_attributes(load(vendor)) if e["AttributeName"] == read_only)
    value = entry["Value"][0]["ValueName"]  # even a value the enumeration lists
    out = registry.check(load(vendor), {read_only: value}, current(vendor))
    assert [(r["attribute"], r["problem"], r["reason"]) for r in out["refused"]] == [
        (read_only, "read_only", "ReadOnly")
    ]
    assert f"{read_only}={value!r}: the attribute is read-only (ReadOnly)" in out["msg"] and reg_id in out["msg"]


def test_supermicro_numeric_value_names_and_the_display_names_the_bmc_reports():
    """The Supermicro registry lists ValueName "0"/"1"; its Bios resource reports "Enabled"/"Disabled"
    (the ValueDisplayName), and that is what the BMC takes. An attribute reported by ValueName keeps
    the ValueNames."""
    reg = load("supermicro")
    assert registry.check(reg, {"SR_IOVSupport_0047": "1"}, {"SR_IOVSupport_0047": "0"})["refused"] == []
    refused = registry.check(reg, {"SR_IOVSupport_0047": "Enabled"}, {"SR_IOVSupport_0047": "0"})["refused"]
    assert refused[0]["allowed"] == ["0", "1"]


def test_hpe_workload_profile_makes_sriov_read_only():
    """HPE's registry pins Sriov (ReadOnly dependency) under the virtualization / latency / HPC
    workload profiles; the real server runs GeneralPowerEfficientCompute, which does not."""
    reg = load("hpe")
    attributes = {**current("hpe"), "Sriov": "Disabled", "WorkloadProfile": "GeneralPowerEfficientCompute"}
    assert registry.check(reg, {"Sriov": "Enabled"}, attributes)["refused"] == []
    attributes["WorkloadProfile"] = "I/OThroughput"
    out = registry.check(reg, {"Sriov": "Enabled"}, attributes)
    assert out["refused"][0]["reason"] == "ReadOnly while WorkloadProfile='I/OThroughput'"
    assert "Sriov='Enabled': the attribute is read-only (ReadOnly while WorkloadProfile='I/OThroughput')" in out["msg"]


def test_dell_virtualization_off_makes_x2apic_read_only():
    reg = load("dell")
    off = registry.check(reg, {"ProcX2Apic": "Enabled"}, {"ProcVirtualization": "Disabled"})
    assert off["refused"][0]["reason"] == "ReadOnly while ProcVirtualization='Disabled'"
    assert registry.check(reg, {"ProcX2Apic": "Enabled"}, {"ProcVirtualization": "Enabled"})["refused"] == []


def test_attribute_missing_from_the_registry_is_refused():
    out = registry.check(load("lenovo"), {"Processors_IntelVTforDirectedIOVTd": "Enabled"}, {})
    assert out["refused"][0]["problem"] == "not_in_registry"
    assert "Processors_IntelVTforDirectedIOVTd='Enabled': no such attribute in the registry" in out["msg"]


def test_without_a_registry_nothing_is_checked_and_the_result_says_so():
    out = registry.check({}, {"SriovGlobalEnable": "Enabled"}, {"SriovGlobalEnable": "Disabled"})
    assert out["checked"] is False and out["registry"] is None and out["refused"] == []
    assert "were not checked" in out["msg"]


def test_dependency_terms_and_conditions():
    attrs = {"A": "x", "B": "5"}
    term = {"MapFromProperty": "CurrentValue", "MapFromAttribute": "A", "MapFromCondition": "EQU", "MapFromValue": "x"}
    assert registry.dependency_holds({"MapFrom": [term]}, attrs) is True
    other = {**term, "MapFromAttribute": "B", "MapFromCondition": "GTR", "MapFromValue": 7}
    assert registry.dependency_holds({"MapFrom": [term, {**other, "MapTerms": "AND"}]}, attrs) is False
    assert registry.dependency_holds({"MapFrom": [term, {**other, "MapTerms": "OR"}]}, attrs) is True
    unknown = {**term, "MapFromProperty": "ReadOnly"}  # not a current value: cannot be told, never refuse
    assert registry.dependency_holds({"MapFrom": [unknown]}, attrs) is False


@pytest.mark.parametrize(
    ("bios_names", "entry_or_document"),
    [
        ("BiosAttributeRegistry.v1_0_0", "BiosAttributeRegistry.1.0.0"),  # Supermicro: Bios vs Registries entry
        ("BiosAttributeRegistry.v1_0_0", "BiosAttributeRegistry.1_0_0"),  # Supermicro: Bios vs the document
        ("BiosAttributeRegistry.v1_0_3", "BiosAttributeRegistry.v1_0_3"),  # Dell: Bios vs the document
    ],
)
def test_registry_ids_as_the_vendors_spell_them(bios_names, entry_or_document):
    assert registry.same_registry(bios_names, entry_or_document)
    assert not registry.same_registry("BiosAttributeRegistry.v1_0_3", "BiosAttributeRegistry.v1_0_0")
