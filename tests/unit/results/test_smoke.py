"""provisioner.results.smoke: slow-node detection against the median of same-SKU GPUs in a run.

Inputs are smoke reports in the program's JSON shape; the per-GPU figures are made up around
what the real H100 measured (bf16 ~700 TFLOP/s, memory ~3000 GB/s), one of them slow.
"""

import json

import pytest

from provisioner.results.smoke import (
    compare_fleet,
    explain_p2p,
    failure_message,
    finding_lines,
    host_verdict,
    judge_run,
)
from tests.fixtures.signoff_run import faulty_smoke_report


def report(*gpus):
    return {"verdict": "pass", "gpus": [dict(index=i, uuid=f"GPU-{i}", **g) for i, g in enumerate(gpus)]}


def h100(bf16=700.0, mem=3000.0):
    return {"sku": "H100-SXM5-80GB", "figures": {"matmul_bf16_tflops": bf16, "memory_bw_gbs": mem}}


def test_slow_gpu_flags_its_host_only():
    reports = {
        "a": report(h100(), h100(705.0)),
        "b": report(h100(698.0), h100(560.0)),  # gpu1: 20 % below the median
        "c": report(h100(702.0, 2990.0)),
    }
    out = compare_fleet(reports)
    assert out["a"]["slow"] is False and out["c"]["slow"] is False
    assert out["b"]["slow"] is True
    (flag,) = out["b"]["flags"]
    assert flag["gpu"] == 1 and flag["figure"] == "matmul_bf16_tflops" and flag["peers"] == 5
    assert flag["median"] == 700.0 and flag["deficit"] == pytest.approx(0.2)
    assert out["a"]["compared"] == 4


def test_threshold_is_configurable():
    reports = {"a": report(h100(), h100()), "b": report(h100(640.0))}  # 8.6 % below
    assert compare_fleet(reports)["b"]["slow"] is False
    assert compare_fleet(reports, threshold=0.05)["b"]["slow"] is True


def test_skus_are_compared_separately_and_small_groups_skipped():
    a100 = {"sku": "A100-SXM4-80GB", "figures": {"matmul_bf16_tflops": 250.0}}
    reports = {"h": report(h100(), h100(), h100()), "a": report(a100)}
    out = compare_fleet(reports)
    assert out["a"]["slow"] is False and out["a"]["compared"] == 0
    assert "only 1 GPU(s) of A100-SXM4-80GB" in out["a"]["skipped"][0]
    assert out["h"]["compared"] == 6


def test_unknown_sku_groups_by_device_id():
    gpu = {"sku": None, "pci_device_id": "0x1234", "figures": {"memory_bw_gbs": 900.0}}
    slow = dict(gpu, figures={"memory_bw_gbs": 600.0})
    out = compare_fleet({"x": report(gpu, gpu), "y": report(slow)})
    assert out["y"]["slow"] is True and out["y"]["flags"][0]["sku"] == "0x1234"


def test_hosts_without_gpus_or_reports():
    out = compare_fleet({"cpu-node": {"verdict": "pass", "gpu_present": False, "gpus": []}, "broken": None})
    assert out == {"cpu-node": {"slow": False, "compared": 0, "flags": [], "skipped": []},
                   "broken": {"slow": False, "compared": 0, "flags": [], "skipped": []}}


def test_non_figures_and_missing_values_are_ignored():
    gpu = {"sku": "H100-SXM5-80GB", "figures": {"matmul_bf16_tflops": None, "something_else": 1.0}}
    out = compare_fleet({"a": report(gpu, gpu, gpu)})
    assert out["a"] == {"slow": False, "compared": 0, "flags": [], "skipped": []}


@pytest.mark.parametrize(("kwargs", "text"), [({"threshold": 0}, "threshold"), ({"threshold": 1.5}, "threshold"),
                                              ({"min_peers": 1}, "min_peers")])
def test_bad_arguments(kwargs, text):
    with pytest.raises(ValueError, match=text):
        compare_fleet({}, **kwargs)


def one_gpu(value):
    return {"index": 0, "sku": "H100-SXM5-80GB", "figures": {"matmul_bf16_tflops": value}}


def test_fleet_view_flags_the_slow_node(tmp_path):
    (tmp_path / "smoke").mkdir()
    for host, value in (("a", 690.0), ("b", 700.0), ("c", 560.0), ("d", 695.0)):
        (tmp_path / "smoke" / f"{host}.json").write_text(json.dumps({"gpus": [one_gpu(value)]}))
    report = judge_run(tmp_path, 0.10)  # the run's one judgement: what report.json records
    assert report.fleet["c"]["slow"] and not report.fleet["a"]["slow"]
    assert any(w.startswith("SLOW NODE c GPU 0") for w in report.warnings)


def test_fleet_view_skips_damaged_smoke_results_with_a_warning(tmp_path):
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "a.json").write_text(json.dumps({"gpus": [one_gpu(690.0)]}))
    (tmp_path / "smoke" / "b.json").write_text("{truncated")
    (tmp_path / "smoke" / "c.json").write_text(json.dumps({"gpus": ["not a gpu"]}))
    (tmp_path / "smoke" / "d.json").mkdir()
    report = judge_run(tmp_path, 0.10)  # the run's one judgement: what report.json records
    assert set(report.fleet) == {"a"}
    assert sum("smoke result" in w for w in report.warnings) == 3


# --- the verdict contract: each host's codes, severity and remediation -------------------------
def test_host_verdict_reads_the_codes_failures_first():
    view = host_verdict(faulty_smoke_report("gpu-a01"))
    assert view["verdict"] == "fail" and view["level"] == "standard"
    assert view["codes"] == ["GPU_H2D_LOW", "GPU_PERSISTENCE_OFF"]
    first, second = view["findings"]
    assert (first["verdict"], first["code"], first["severity"], first["where"], first["check"]) == (
        "fail", "GPU_H2D_LOW", "degraded", "gpu0", "h2d_gbs")
    assert first["remediation"].startswith("re-run the smoke test") and "44% of spec peak" in first["detail"]
    assert (second["verdict"], second["code"], second["where"]) == ("warn", "GPU_PERSISTENCE_OFF", "gpu1")
    assert "nvidia-persistenced" in second["remediation"]


def test_a_report_from_before_the_contract_gets_its_codes_from_the_catalog():
    old = faulty_smoke_report("gpu-a01")
    del old["codes"]
    for gpu in old["gpus"]:
        for check in gpu["checks"]:
            for key in ("code", "severity", "remediation"):
                check.pop(key, None)
    old["gpus"][0]["checks"].append({"name": "a_check_of_the_future", "verdict": "fail", "detail": "?"})
    view = host_verdict(old)
    assert view["codes"] == ["GPU_CHECK_FAILED", "GPU_H2D_LOW", "GPU_PERSISTENCE_OFF"]  # never uncoded
    assert "code" not in old["gpus"][0]["checks"][0]  # the report itself is left as read
    assert host_verdict(None) == {"verdict": None, "level": None, "codes": [], "findings": []}


def test_judgement_carries_each_hosts_verdict_and_the_junit_line(tmp_path):
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "a.json").write_text(json.dumps(faulty_smoke_report("a")))
    (tmp_path / "smoke" / "b.json").write_text(json.dumps({"verdict": "pass", "codes": [], "gpus": [one_gpu(700.0)]}))
    judgement = judge_run(tmp_path)
    assert judgement.verdicts["a"]["codes"] == ["GPU_H2D_LOW", "GPU_PERSISTENCE_OFF"]
    assert judgement.verdicts["b"]["codes"] == [] and failure_message(judgement.verdicts["b"]) == ""
    message = failure_message(judgement.verdicts["a"])
    assert message.startswith("GPU smoke failed: GPU_H2D_LOW (degraded) gpu0 h2d_gbs. Next: GPU_H2D_LOW: re-run")
    assert "GPU_PERSISTENCE_OFF" not in message  # a warning does not fail the host
    lines = finding_lines(judgement.verdicts["a"])
    assert lines[0].startswith("FAIL GPU_H2D_LOW (degraded) gpu0 h2d_gbs: 44% of spec peak")
    assert lines[1].startswith("  next: re-run") and lines[2].startswith("WARN GPU_PERSISTENCE_OFF (degraded) gpu1")


def test_smoke_files_are_read_under_the_host_names_the_role_encoded(tmp_path):
    """The gpu_smoke role names each file with autoglm.provision.host_file_name: non-ASCII and odd
    names come back as they were; a name too long to encode is matched to the run's host by digest."""
    from ansible_collections.autoglm.provision.plugins.plugin_utils.host_files import host_file_name

    long_name = "n" * 300
    (tmp_path / "smoke").mkdir()
    for host, value in (("节点-01", 690.0), ("机器-01", 700.0), ("../x", 560.0), (long_name, 695.0)):
        (tmp_path / "smoke" / f"{host_file_name(host)}.json").write_text(json.dumps({"gpus": [one_gpu(value)]}))
    report = judge_run(tmp_path, 0.10, hosts=["节点-01", long_name])
    assert set(report.fleet) == {"节点-01", "机器-01", "../x", long_name}
    assert report.fleet["../x"]["slow"] and not report.fleet["机器-01"]["slow"]


def test_slow_p2p_and_nccl_name_acs_when_the_platform_check_saw_it():
    """bios_check's p2p requirement saw ACS redirect and a translated domain: the P2P / NCCL
    findings say so first; other findings and hosts without such a platform are left alone."""
    view = {"verdict": "fail", "codes": ["GPU_NCCL_BW_LOW", "GPU_P2P_BW_LOW", "GPU_PERSISTENCE_OFF"], "findings": [
        {"code": "GPU_P2P_BW_LOW", "verdict": "fail", "remediation": "check nvlink"},
        {"code": "GPU_NCCL_BW_LOW", "verdict": "warn", "remediation": "check the fabric manager"},
        {"code": "GPU_PERSISTENCE_OFF", "verdict": "warn", "remediation": "start nvidia-persistenced"}]}
    platform = {"verdict": "FAIL", "cause": "acs_redirect", "redirect_bridges": ["0000:02:00.0"],
                "translated_domains": ["DMA-FQ"]}
    out = explain_p2p(view, platform)
    p2p, nccl, other = out["findings"]
    assert p2p["likely_cause"] == nccl["likely_cause"] == (
        "ACS redirect on PCIe bridge(s) 0000:02:00.0 (bios_check p2p: FAIL); "
        "IOMMU in translated mode (DMA-FQ): boot with iommu=pt")
    assert p2p["remediation"].startswith("likely cause: ACS redirect") and p2p["remediation"].endswith("check nvlink")
    assert "likely_cause" not in other and other["remediation"] == "start nvidia-persistenced"
    assert "likely_cause" not in view["findings"][0]  # the judgement's own view is not changed
    clean = {"verdict": "PASS", "cause": None, "redirect_bridges": [], "translated_domains": []}
    assert explain_p2p(view, clean) is view and explain_p2p(view, None) is view and explain_p2p(None, platform) is None
