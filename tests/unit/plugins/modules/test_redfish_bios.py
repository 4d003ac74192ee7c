"""redfish_bios's attribute mapping and verdicts (pure functions; the BMC runs for real in
tests/integration/test_redfish_emulator.py)."""

from __future__ import annotations

from ansible_collections.autoglm.provision.plugins.modules import redfish_bios

judge = redfish_bios.judge


def test_dell_names():
    attrs = {"ProcVirtualization": "Enabled", "SriovGlobalEnable": "Disabled", "MmioAbove4Gb": "Enabled"}
    assert judge("iommu", attrs, {}, [], {})["verdict"] == "PASS"
    sriov = judge("sriov", attrs, {}, [], {})
    assert sriov["verdict"] == "FAIL" and sriov["cause"] == "disabled_in_bios"
    assert sriov["wanted"] == {"SriovGlobalEnable": "Enabled"}
    assert "SriovGlobalEnable = 'Disabled' (Dell" in sriov["evidence"][0]


def test_hpe_needs_both_virtualization_and_vtd():
    attrs = {"ProcVirtualization": "Enabled", "IntelProcVtd": "Disabled", "Sriov": "Enabled"}
    iommu = judge("iommu", attrs, {}, [], {})
    assert iommu["verdict"] == "FAIL" and iommu["wanted"] == {"IntelProcVtd": "Enabled"}
    assert set(iommu["attributes"]) == {"ProcVirtualization", "IntelProcVtd"}
    assert judge("above_4g", attrs, {}, [], {})["verdict"] == "UNKNOWN"


def test_enable_disable_vocabulary_and_pending():
    attrs = {"VTdSupport": "Disable", "Processors_IntelVTforDirectedIOVTd": "Enable"}
    out = judge("iommu", attrs, {"VTdSupport": "Enable"}, [], {})
    assert out["wanted"] == {"VTdSupport": "Enable"} and out["cause"] == "pending_reboot"
    assert "already staged" in out["remediation"]


def test_inventory_names_and_registry_fallback():
    attrs = {"CustomVtd": "Off", "Vt_0042": "Disabled"}
    assert judge("iommu", attrs, {}, ["CustomVtd"], {})["wanted"] == {"CustomVtd": "On"}
    entries = [
        {
            "AttributeName": "Vt_0042",
            "DisplayName": "Intel(R) VT for Directed I/O",
            "Value": [{"ValueName": "Dis"}, {"ValueName": "Enabled"}],
        },
        {"AttributeName": "Absent", "DisplayName": "SR-IOV Support"},
    ]
    matched = redfish_bios.registry_matches(entries, attrs)
    assert list(matched) == ["iommu"]
    out = judge("iommu", attrs, {}, [], matched)
    assert out["wanted"] == {"Vt_0042": "Enabled"}
    assert "AttributeRegistry display name" in out["evidence"][0]
