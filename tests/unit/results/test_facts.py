"""provisioner.results.facts: the one reader of the role-fact contract, and its one verdict vocabulary.
Facts are built with tests/fixtures/role_facts.py (keys the roles publish, read from their tasks)."""

from __future__ import annotations

import pytest

from provisioner.results import facts
from tests.fixtures.role_facts import fact, published_keys


@pytest.mark.parametrize("role", sorted(facts.READS))
def test_every_key_read_is_one_the_role_publishes(role):
    """What this module reads of a role's fact, the role's report task publishes (the driver bug of
    issue 15: `installed_version` was read, `version_installed` published)."""
    assert role in published_keys(), f"no role publishes autoglm_report_{role}"
    assert set(facts.READS[role]) <= published_keys()[role], (role, set(facts.READS[role]) - published_keys()[role])


@pytest.mark.parametrize(("word", "verdict"), [
    ("pass", "PASS"), ("PASS", "PASS"), ("ok", "PASS"), ("qualified", "PASS"), (True, "PASS"),
    ("fail", "FAIL"), ("FAIL", "FAIL"), (False, "FAIL"), ("warn", "WARN"), ("UNKNOWN", "UNKNOWN"),
    ("NOT_APPLICABLE", "NOT_APPLICABLE"), ("info", "INFO"), (None, None), ("", None)])
def test_one_verdict_vocabulary(word, verdict):
    assert facts.verdict(word) == verdict
    assert facts.verdict(word) in (*facts.VERDICTS, None)


def test_host_summary_from_the_roles_own_keys():
    host_facts = {
        "host": fact("host", os="Ubuntu 22.04", kernel="5.15.0-91-generic"),
        "preflight": fact("preflight", qualified=True, failures=[], thresholds_lowered=["disk_gb_minimum: 200 -> 50"],
                          checks=[{"status": "ok", "message": "RAM: measured 2015.6 GB, minimum 32 GB"}]),
        "bios_check": fact("bios_check", verdict="PASS", failed_mandatory=[], requirements={
            "iommu": {"verdict": "PASS", "mandatory": True, "label": "VT-d", "source": "in_band"}}),
        "nvidia_driver": fact("nvidia_driver", version_installed="535.183.01", version_loaded="535.183.01",
                              branch="535", reboot_pending=True),
        "cuda": fact("cuda", version="11.8", package_version="11.8.0-1"),
        "python_venv": fact("python_venv", profile="cu118-torch2.7", python_version="3.10.12",
                            packages={"torch": "2.7.1+cu118"}),
        "gpu_smoke": fact("gpu_smoke", verdict="pass", level="standard", reason="all checks passed",
                          gpus=[{"sku": "H100-SXM5-80GB"}] * 8, warnings=["WARNING: slow disk"]),
    }
    summary = facts.host_summary(host_facts)
    assert summary["driver"] == "535.183.01" and summary["driver_branch"] == "535" and summary["reboot_pending"]
    assert (summary["preflight"], summary["bios"], summary["smoke"]) == ("PASS", "PASS", "PASS")
    assert summary["cuda"] == "11.8" and summary["venv_torch"] == "2.7.1+cu118" and summary["gpus"] == 8
    assert summary["skus"] == ["H100-SXM5-80GB"] and summary["warnings"] == ["gpu_smoke: WARNING: slow disk"]
    lines = facts.qualification(host_facts)
    assert [v for v, _, _ in lines] == ["PASS", "WARN", "PASS", "PASS"]  # one vocabulary: "ok" is PASS


def test_a_failed_gate_says_why():
    bios = fact("bios_check", failed_mandatory=["sriov"], requirements={"sriov": {
        "verdict": "FAIL", "mandatory": True, "label": "SR-IOV", "source": "in_band",
        "evidence": ["sriov_totalvfs=0"], "remediation": "enable SR-IOV"}})
    assert facts.bios_verdict({"bios_check": bios}) == "FAIL"
    (line,) = facts.qualification({"bios_check": bios})
    assert line == ("FAIL", "BIOS       SR-IOV (mandatory, via in_band)",
                    ["evidence: sriov_totalvfs=0", "remediation: enable SR-IOV"])
    assert facts.smoke_verdict({}, {"verdict": "fail"}) == "FAIL"  # the smoke program's report, where no fact came


def test_the_driver_fact_carries_the_module_flavour_and_the_fabric_verdict():
    failed = {"verdict": "fail", "failures": ["00000000:2A:00.0: fabric state Not Started"],
              "gpus": [{"gpu": "00000000:18:00.0", "verdict": "ok"}, {"gpu": "00000000:2A:00.0", "verdict": "fail"}]}
    host_facts = {"nvidia_driver": fact("nvidia_driver", kernel_module_type="open", fabric=failed)}
    summary = facts.host_summary(host_facts)
    assert (summary["driver_module"], summary["fabric"]) == ("open", "FAIL")
    (line,) = facts.qualification(host_facts)
    assert line == ("FAIL", "NVLink     fabric: 1 of 2 GPU(s) joined", ["00000000:2A:00.0: fabric state Not Started"])
    pcie = {"nvidia_driver": fact("nvidia_driver", fabric={"verdict": "not_applicable", "gpus": [], "failures": []})}
    assert facts.host_summary(pcie)["fabric"] == "NOT_APPLICABLE" and facts.qualification(pcie) == []
    assert facts.host_summary({})["fabric"] is None


def test_the_driver_fact_carries_the_gpudirect_path_and_verdict():
    refused = {"requested": "auto", "path": "peermem",
               "reason": "auto: RDMA NIC(s) 0000:b3:00.0, nvidia-peermem loadable", "verdict": "FAIL",
               "detail": "nvidia-peermem did not load: disagrees about version of symbol x"}
    host_facts = {"nvidia_driver": fact("nvidia_driver", gpudirect=refused)}
    assert facts.host_summary(host_facts)["gpudirect"] == "peermem"
    (line,) = facts.qualification(host_facts)
    assert line == ("FAIL", f"GPUDirect  peermem: {refused['reason']}", [refused["detail"]])
    not_needed = {**refused, "path": "none", "verdict": "NOT_APPLICABLE"}
    no_nic = {"nvidia_driver": fact("nvidia_driver", gpudirect=not_needed)}
    assert facts.host_summary(no_nic)["gpudirect"] == "none" and facts.qualification(no_nic) == []
    assert facts.gpudirect({}) is None and facts.host_summary({})["gpudirect"] is None


def test_the_signoff_fixture_publishes_only_what_roles_publish(tmp_path):
    """The HTML report's and the runbooks' run (tests/fixtures/signoff_run.py) types its facts; they
    must be keys the roles publish, or those tests would agree with a wrong reader."""
    from provisioner.results.report import load
    from provisioner.results.state import summarize
    from tests.fixtures.signoff_run import OK_HOSTS, build_run

    data = load(build_run(tmp_path))
    for name, host in data["hosts"].items():
        for role, value in host["facts"].items():
            assert set(value) <= published_keys()[role], (name, role, set(value) - published_keys()[role])
    assert summarize(data["hosts"][OK_HOSTS[0]]["facts"])["driver"] == "535.183.01"  # `status` shows it


def test_p2p_platform_from_the_report_filter_output():
    """The p2p requirement as the role's filter publishes it (pcie_p2p's verdict merged by
    bios_check_report): the reader returns the redirect bridges for the smoke's explanation."""
    from ansible_collections.autoglm.provision.plugins.plugin_utils.bios_check import bios_check_report

    probe = {"p2p": {"verdict": "FAIL", "cause": "acs_redirect", "evidence": ["bridge 0000:02:00.0 ..."],
                     "remediation": "turn ACS redirect off", "details": {
                         "redirect_bridges": {"0000:02:00.0": {"bits": ["ReqRedir"], "between": []}},
                         "translated_domains": ["DMA-FQ"]}}}
    report = bios_check_report({"requirements": {}}, None, ["p2p"], True, False, probe)
    assert report["failed_mandatory"] == ["p2p"]
    summary = facts.host_summary({"bios_check": fact("bios_check", **report)})
    assert summary["p2p_platform"] == {"verdict": "FAIL", "cause": "acs_redirect",
                                       "redirect_bridges": ["0000:02:00.0"], "translated_domains": ["DMA-FQ"]}
    assert ("p2p", "FAIL", True) in summary["bios_requirements"]
    assert facts.p2p_platform({}) is None


def test_p2p_is_in_band_only_and_not_a_failure_on_a_bmc_only_host():
    from ansible_collections.autoglm.provision.plugins.plugin_utils.bios_check import bios_check_report

    report = bios_check_report(None, {"requirements": {}, "bmc_status": "ok"}, ["p2p"], True)
    assert report["requirements"]["p2p"]["verdict"] == "NOT_APPLICABLE" and report["failed_mandatory"] == []
    assert facts.p2p_platform({"bios_check": report}) is None
    failed = bios_check_report({"requirements": {}}, None, ["p2p"], True, False, {"failed": True, "msg": "boom"})
    assert failed["requirements"]["p2p"]["cause"] == "probe_error" and failed["failed_mandatory"] == ["p2p"]


def test_the_driver_fact_carries_gds_where_it_was_asked():
    passed = {"asked": True, "package": "nvidia-fs-dkms", "file": "/lib/modules/k/updates/dkms/nvidia-fs.ko",
              "version": "2.17.5", "loaded": True, "signer": "autoglm-provision test module signing key",
              "signature": "signed", "verdict": "PASS",
              "detail": "nvidia-fs 2.17.5 loaded, /proc/driver/nvidia-fs present"}
    host_facts = {"nvidia_driver": fact("nvidia_driver", gds=passed)}
    (line,) = facts.qualification(host_facts)
    assert line == ("PASS", "GDS        nvidia-fs 2.17.5", [passed["detail"]])
    not_asked = {**passed, "asked": False, "verdict": "NOT_APPLICABLE"}
    assert facts.gds({"nvidia_driver": fact("nvidia_driver", gds=not_asked)}) is None
    assert facts.qualification({"nvidia_driver": fact("nvidia_driver", gds=not_asked)}) == []
    assert facts.gds({}) is None
