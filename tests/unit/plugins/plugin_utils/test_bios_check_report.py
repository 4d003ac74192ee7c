"""bios_check_report: the in-band, Redfish and P2P verdicts merged into the host's gate and report
(the filter the role's report task calls; results/facts.py reads what it returns)."""

from __future__ import annotations

from ansible_collections.autoglm.provision.plugins.plugin_utils.bios_check import (
    bios_check_failure_text,
    bios_check_report,
)


def req(verdict, cause=None, evidence=(), remediation=""):
    return {"verdict": verdict, "cause": cause, "evidence": list(evidence), "remediation": remediation, "details": {}}


INBAND = {"requirements": {"iommu": req("PASS"), "sriov": req("FAIL", "not_enabled", ["no VFs"], "enable SR-IOV"),
                           "above_4g": req("UNKNOWN", "unreadable")}, "host": {"cpu_vendor": "intel"}}


def test_kernel_view_decides_and_bmc_disagreement_and_staging_are_warned():
    redfish = {"bmc_status": "ok", "requirements": {
        "iommu": req("FAIL", "disabled", ["ProcVirtualization=Disabled"]),
        "sriov": req("FAIL", "pending_reboot", ["SriovGlobalEnable staged"]),
        "above_4g": req("PASS", None, ["MmioAbove4Gb=Enabled"])}}
    p2p = {"p2p": req("WARN", "iommu_translated", ["domain DMA-FQ"], "boot with iommu=pt")}
    out = bios_check_report(INBAND, redfish, ["iommu", "sriov", "above_4g", "p2p"], True, False, p2p)
    reqs = out["requirements"]
    assert (reqs["iommu"]["verdict"], reqs["iommu"]["source"]) == ("PASS", "in_band")
    assert (reqs["above_4g"]["verdict"], reqs["above_4g"]["source"]) == ("PASS", "redfish")  # in-band UNKNOWN
    assert (reqs["p2p"]["verdict"], reqs["p2p"]["source"], reqs["p2p"]["redfish"]) == ("WARN", "in_band", None)
    assert out["failed_mandatory"] == ["sriov"] and out["verdict"] == "FAIL" and out["mode"] == "in_band+redfish"
    assert any("in-band says PASS but the BMC's BIOS attributes say FAIL" in w for w in out["warnings"])
    assert any("SR-IOV: BIOS change staged on the BMC" in w for w in out["warnings"])
    assert "PCIe P2P paths (ACS, IOMMU mode, BARs): boot with iommu=pt" in out["warnings"]
    assert "SR-IOV: FAIL (in_band, cause not_enabled)" in bios_check_failure_text(out)


def test_optional_failures_warn_and_a_failed_bmc_module_is_unknown():
    out = bios_check_report(INBAND, {"failed": True, "msg": "no sushy"}, ["iommu"], True)
    assert out["failed_mandatory"] == [] and out["verdict"] == "PASS"
    assert out["requirements"]["above_4g"]["cause"] == "bmc_error"
    assert "no sushy" in out["requirements"]["above_4g"]["evidence"]
    assert any(w.startswith("SR-IOV: FAIL (not mandatory for this host)") for w in out["warnings"])
    assert out["requirements"]["p2p"]["cause"] == "in_band_only"  # no pcie_p2p result: not judged


def test_unknown_is_a_failure_only_when_asked():
    assert bios_check_report(INBAND, None, ["above_4g"], True)["failed_mandatory"] == ["above_4g"]
    assert bios_check_report(INBAND, None, ["above_4g"], False)["failed_mandatory"] == []
    none = bios_check_report(None, None, ["iommu"], True)
    assert none["requirements"]["iommu"]["cause"] == "not_checked" and none["mode"] == "none"
