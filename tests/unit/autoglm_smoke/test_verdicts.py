"""The verdict contract (autoglm_smoke.verdicts): every catalog entry well formed, every check name the
program emits mapped to a specific code, the producers' own codes, annotate() on a report (unknown
codes never pass silently, figures dragged down by another process say so), and docs/gpu-smoke.md
listing exactly the catalog. Fakes: tests/fixtures/smoke_fakes.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from autoglm_smoke import checks, figures, measure, verdicts
from autoglm_smoke.smoke_json import finalize, new_smoke_json
from autoglm_smoke.verdicts import BY_CHECK, CODES, GENERIC, annotate
from tests.fixtures.smoke_fakes import FakeNvml, healthy_gpu, run
from tests.fixtures.smoke_fakes import verdicts as by_name

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "autoglm_smoke"
# Names from DCGM's dcgmlib/dcgm_errors.h (dcgmError_enum; the CLOCKS_EVENT names are DCGM 4's for
# the former CLOCK_THROTTLE_THERMAL and THROTTLING_VIOLATION): the only DCGM names the catalog may use.
DCGM_NAMES = {
    "DCGM_FR_DEVICE_COUNT_MISMATCH", "DCGM_FR_PCIE_GENERATION", "DCGM_FR_PCIE_WIDTH", "DCGM_FR_PERSISTENCE_MODE",
    "DCGM_FR_ECC_DISABLED", "DCGM_FR_VOLATILE_DBE_DETECTED", "DCGM_FR_SBE_VIOLATION", "DCGM_FR_PENDING_ROW_REMAP",
    "DCGM_FR_ROW_REMAP_FAILURE", "DCGM_FR_PENDING_PAGE_RETIREMENTS", "DCGM_FR_XID_ERROR",
    "DCGM_FR_CLOCKS_EVENT_VIOLATION", "DCGM_FR_CLOCKS_EVENT_THERMAL", "DCGM_FR_TEMP_VIOLATION",
    "DCGM_FR_GFLOPS_THRESHOLD_VIOLATION", "DCGM_FR_MEMORY_BANDWIDTH", "DCGM_FR_LOW_BANDWIDTH",
    "DCGM_FR_MEMORY_MISMATCH",
}
PEAKS, KINDS = [[None, 478.1], [478.1, None]], [[None, "nvlink"], ["nvlink", None]]
PRODUCERS = ("check", "evaluate_figure", "impossible", "evaluate_p2p_bandwidth", "guarded", "step")


def test_every_catalog_entry_is_complete():
    assert len(CODES) >= 40
    for code, (severity, meaning, remediation, dcgm) in CODES.items():
        assert re.fullmatch(r"GPU_[A-Z0-9_]+", code), code
        assert severity in verdicts.SEVERITIES, code
        assert meaning and remediation, code
        assert {d for d in dcgm.split(", ") if d} <= DCGM_NAMES, (code, dcgm)
        described = verdicts.describe(code)
        assert described == {"severity": severity, "meaning": meaning, "remediation": remediation, "dcgm": dcgm}
    assert verdicts.describe("NO_SUCH_CODE")["severity"] == "fatal"  # unknown: assume the worst


def test_every_code_is_reachable():
    """A code is a name's default or a producer names it: no dead entry in the catalog."""
    defaults = {code for mapping in BY_CHECK.values() for code in mapping.values()}
    assert defaults <= set(CODES)
    sources = " ".join(p.read_text() for p in PACKAGE.glob("*.py") if p.name != "verdicts.py")
    named = {code for code in CODES if f'"{code}"' in sources} | {code for _, code in verdicts.CLOCK_EVENT_CODES}
    assert set(CODES) - defaults - named == {GENERIC, verdicts.CONTENDED}


def _emitted_names():
    """Every check name the package's producers are called with: literal names, and the f-string
    ones as patterns."""
    names, patterns = set(), set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0]
            if func not in PRODUCERS:
                continue
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
            elif isinstance(first, ast.JoinedStr):
                parts = [re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z0-9]+" for v in first.values]
                patterns.add("".join(parts))
    return names, patterns


def test_every_emitted_check_name_maps_to_a_specific_code():
    names, patterns = _emitted_names()
    assert {"program", "nvidia_gpu_present", "h2d_gbs", "nccl_allreduce", "burn_ecc_delta", "load"} <= names
    assert set(names) - set(BY_CHECK) == set()
    for pattern in patterns:
        assert any(re.fullmatch(pattern, name) for name in BY_CHECK), pattern
    for dtype in ("fp16", "bf16", "tf32", "fp32"):  # the matmul figures, named by an f-string
        assert BY_CHECK[f"matmul_{dtype}_tflops"]["fail"] == f"GPU_MATMUL_{dtype.upper()}_LOW"
    for name, mapping in BY_CHECK.items():
        assert set(mapping) <= {"fail", "warn"}, name
        assert name == "cuda_measurement" or "fail" in mapping, name  # skip only
    # checks another engineer's change adds (other processes on the GPU) have their codes already
    assert BY_CHECK["foreign_processes"] == {"fail": "GPU_FOREIGN_PROCESS", "warn": "GPU_FOREIGN_PROCESS"}
    assert BY_CHECK["memory_pattern_test"]["warn"] == "GPU_MEMTEST_COVERAGE_LOW"


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: figures.evaluate_figure("h2d_gbs", 20.0, 63.0, 0.55, "GB/s"), "GPU_H2D_LOW"),
        (lambda: figures.evaluate_figure("d2h_gbs", 20.0, 63.0, 0.55, "GB/s"), "GPU_D2H_LOW"),
        (lambda: figures.evaluate_figure("memory_bw_gbs", 900.0, 3350.0, 0.7, "GB/s"), "GPU_MEMORY_BW_LOW"),
        (lambda: figures.evaluate_figure("matmul_bf16_tflops", 300.0, 989.0, 0.55, "TFLOP/s"), "GPU_MATMUL_BF16_LOW"),
        (lambda: figures.evaluate_figure("matmul_fp16_tflops", 300.0, 989.0, 0.55, "TFLOP/s"), "GPU_MATMUL_FP16_LOW"),
        (lambda: figures.evaluate_figure("matmul_tf32_tflops", 100.0, 494.0, 0.55, "TFLOP/s"), "GPU_MATMUL_TF32_LOW"),
        (lambda: figures.evaluate_figure("matmul_fp32_tflops", 4.0, 8.1, 0.55, "TFLOP/s"), "GPU_MATMUL_FP32_LOW"),
        (lambda: figures.evaluate_figure("matmul_fp16_tflops", 72152.0, 989.0, 0.55, "TFLOP/s", bound=1039.0),
         "GPU_MEASUREMENT_ERROR"),
        (lambda: figures.evaluate_p2p_bandwidth("p2p_bandwidth_oneway", [[None, 10.0], [380.0, None]],
                                                PEAKS, KINDS, ["a", "b"]),
         "GPU_P2P_BW_LOW"),
        (lambda: figures.evaluate_p2p_bandwidth("p2p_bandwidth_oneway", [[None, 900.0], [380.0, None]],
                                                PEAKS, KINDS, ["a", "b"]),
         "GPU_MEASUREMENT_ERROR"),
        (lambda: figures.evaluate_p2p_access([[None, False], [True, None]], None, False, ["a", "b"]),
         "GPU_P2P_ACCESS_MISSING"),
        (lambda: figures.evaluate_allreduce({"error": "NCCL error: unhandled system error"}, "nvlink", 478.1),
         "GPU_NCCL_ERROR"),
        (lambda: figures.evaluate_allreduce({"world": 2, "sweep": [{"bytes": 1 << 27, "busbw_gbs": 300.0,
                                                                     "correct": False}]}, "nvlink", 478.1),
         "GPU_NCCL_WRONG_RESULT"),
        (lambda: figures.evaluate_allreduce({"world": 2, "sweep": [{"bytes": 1 << 27, "busbw_gbs": 50.0,
                                                                     "correct": True}]}, "nvlink", 478.1),
         "GPU_NCCL_BW_LOW"),
        (lambda: checks.evaluate_driver("580.159.04", "570.86.15"), "GPU_DRIVER_MISMATCH"),
        (lambda: checks.evaluate_driver("580.159.04", None), "GPU_DRIVER_VERSION_UNVERIFIED"),
        (lambda: checks.evaluate_driver(None, "580.159.04"), "GPU_DRIVER_NOT_WORKING"),
        (lambda: checks.evaluate_gpu_count(2, 1, 2), "GPU_COUNT_MISMATCH"),
        (lambda: checks.evaluate_pcie({"max_gen": 5, "max_width": 16}, {"pcie_gen": 4, "pcie_width": 16}),
         "GPU_PCIE_LINK_DEGRADED"),
        (lambda: checks.evaluate_pcie({"max_gen": 4, "max_width": 16, "gpu_max_gen": 5},
                                      {"pcie_gen": 4, "pcie_width": 16}), "GPU_PCIE_SLOT_LIMITED"),
        (lambda: checks.evaluate_xids("00000000:3B:00.0", [{"bus": "3b:00", "xid": 79, "hardware": True}], "dmesg"),
         "GPU_XID_HW"),
        (lambda: checks.evaluate_xids("00000000:3B:00.0", [{"bus": "3b:00", "xid": 13, "hardware": False}], "dmesg"),
         "GPU_XID_APP"),
        (lambda: checks.evaluate_xids("00000000:3B:00.0", None, "dmesg: not permitted"), "GPU_XID_LOG_UNREADABLE"),
    ],
)
def test_producers_name_the_fault(make, code):
    smoke_json = {"host_checks": [make()], "gpus": []}
    (c,) = annotate(smoke_json)["host_checks"]
    assert c["verdict"] in ("fail", "warn") and c["code"] == code, c
    assert smoke_json["codes"] == [code]


def test_measurement_codes(monkeypatch):
    """Wrong results from the GPU, and a check that raises."""
    monkeypatch.setattr(measure, "matmul_correctness", lambda torch, dev: {"finite": False, "rel_error": 0.5, "n": 8})
    wrong = verdicts.annotate_check(measure.correctness_check(None, "cuda:0"))
    assert (wrong["verdict"], wrong["code"], wrong["severity"]) == ("fail", "GPU_COMPUTE_INCORRECT", "fatal")

    def broken(gpu):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    raised = verdicts.annotate_check(measure.guarded("matmul_bf16_tflops", broken, {}))
    assert raised["code"] == "GPU_SMOKE_ERROR"  # not GPU_MATMUL_BF16_LOW: nothing was measured


def test_every_code_has_a_unit_test():
    """Each code is asserted by name somewhere in the unit tests (a producer giving it, or annotate)."""
    text = " ".join(p.read_text() for p in (ROOT / "tests" / "unit").rglob("*.py"))
    assert [code for code in CODES if f'"{code}"' not in text and code not in (GENERIC, verdicts.CONTENDED)] == []


def test_burn_codes():
    ecc0 = {"corrected_volatile": 0, "uncorrected_volatile": 0}
    out = figures.evaluate_burn([675, 676, 674, 560], 0.05, ecc0, {"corrected_volatile": 3, "uncorrected_volatile": 0},
                                0x4 | 0x40, 88, 87)
    smoke_json = annotate({"host_checks": [], "gpus": [{"checks": out}]})
    assert {c["name"]: c.get("code") for c in out} == {
        "burn_throughput_stability": "GPU_BURN_UNSTABLE", "burn_clock_event_reasons": "GPU_CLOCK_EVENT_THERMAL",
        "burn_ecc_delta": "GPU_ECC_CORRECTABLE_BURN", "burn_temperature_c": "GPU_THERMAL"}
    assert smoke_json["codes"] == sorted({c["code"] for c in out})
    (none,) = figures.evaluate_burn([], 0.05, ecc0, ecc0, 0, 50, 87)[:1]
    assert verdicts.annotate_check(none)["code"] == "GPU_SMOKE_ERROR"


def test_run_level_codes(tmp_path):
    """Through run_smoke: no GPU, a driver that does not work, a library mismatch, torch missing,
    a GPU count the inventory does not expect, a --gpus naming no GPU."""
    gone = run(tmp_path / "a", gpus=[], nvml="absent", pci={}, module_version=None)
    assert gone["codes"] == ["GPU_NOT_FOUND"] and gone["verdict_reason"].endswith("[GPU_NOT_FOUND]")
    bus = {"0000:3b:00.0": ("0x10de", "0x030200")}
    broken = run(tmp_path / "b", nvml=FakeNvml([], init_error="Driver Not Loaded"), pci=bus, module_version=None)
    assert broken["codes"] == ["GPU_DRIVER_NOT_WORKING"]
    mismatch = run(tmp_path / "c", nvml=FakeNvml([], init_error="RM has detected an NVML/RM version mismatch."),
                   pci=bus)
    assert mismatch["codes"] == ["GPU_DRIVER_MISMATCH"]
    no_torch = run(tmp_path / "d", torch_missing=False)
    assert no_torch["codes"] == ["GPU_TORCH_CUDA_UNUSABLE"]
    assert by_name(no_torch)["cuda_matmul_correctness"]["code"] == "GPU_TORCH_CUDA_UNUSABLE"
    counted = run(tmp_path / "e", argv=["--expected-gpus", "2", "--gpus", "7"])
    assert {"GPU_COUNT_MISMATCH", "GPU_SELECTION_INVALID"} <= set(counted["codes"])
    assert "[GPU_COUNT_MISMATCH]" in counted["verdict_reason"]  # the failure lines carry the code


def test_no_failed_or_warned_check_of_the_fakes_is_left_generic(tmp_path):
    gpus = [healthy_gpu(ecc={(0, 0): 1, (0, 1): 1, (1, 0): 1, (1, 1): 1}, remap=(0, 0, 1, 0), clock_events=0x8,
                        temp=95, persistence=0, pcie=(1, 8, 5, 16, 5), ecc_mode=(1, 0))]
    log = "NVRM: Xid (PCI:0000:3b:00): 79, pid=0, GPU has fallen off the bus.\n"
    smoke_json = run(tmp_path, gpus=gpus, log=log, argv=["--expected-gpus", "2"])
    checks = smoke_json["host_checks"] + smoke_json["gpus"][0]["checks"]
    judged = [c for c in checks if c["verdict"] in ("fail", "warn")]
    assert len(judged) >= 8
    assert all(c["code"] in CODES and c["code"] != GENERIC for c in judged), judged
    assert smoke_json["codes"] == sorted({c["code"] for c in judged})


def _report(*gpu_checks, host_checks=()):
    return {"host_checks": list(host_checks), "gpus": [{"index": i, "checks": list(cs)}
                                                       for i, cs in enumerate(gpu_checks)]}


def test_annotate_unknown_and_explicit_codes():
    smoke_json = annotate(_report([
        checks.check("brand_new_check", "fail", 1, 0, "something new"),
        checks.check("h2d_gbs", "warn", 30.0, None, "", code="NOT_IN_THE_CATALOG"),
        checks.check("memory_pattern_test", "fail", None, None, "", code="GPU_MEMTEST_COVERAGE_LOW"),
        checks.check("h2d_gbs", "pass", 55.0, None, "", code="GPU_H2D_LOW"),
        checks.check("cuda_measurement", "skip", None, None, "hidden"),
    ]))
    new, unknown, explicit, passed, skipped = smoke_json["gpus"][0]["checks"]
    assert new["code"] == GENERIC and new["severity"] == "fatal" and "autoglm_smoke/verdicts.py" in new["remediation"]
    assert unknown["code"] == GENERIC and unknown["unknown_code"] == "NOT_IN_THE_CATALOG"
    assert explicit["code"] == "GPU_MEMTEST_COVERAGE_LOW"  # the producer's code wins over the name's default
    assert explicit["remediation"] == CODES["GPU_MEMTEST_COVERAGE_LOW"][2]
    assert "code" not in passed and "code" not in skipped
    assert smoke_json["codes"] == [GENERIC, "GPU_MEMTEST_COVERAGE_LOW"]


def test_a_low_figure_beside_a_foreign_process_is_contended():
    foreign = checks.check("foreign_processes", "warn", [{"pid": 4242, "name": "python3", "memory_mib": 71680}])
    low = figures.evaluate_figure("matmul_bf16_tflops", 300.0, 989.0, 0.55, "TFLOP/s")
    h2d = figures.evaluate_figure("h2d_gbs", 20.0, 63.0, 0.55, "GB/s")
    mismatch = checks.check("memory_pattern_test", "fail", None, None, "3 mismatching words",
                            code="GPU_MEMTEST_MISMATCH")
    alone = figures.evaluate_figure("matmul_bf16_tflops", 300.0, 989.0, 0.55, "TFLOP/s")
    nccl = figures.evaluate_allreduce({"world": 2, "sweep": [{"bytes": 1 << 27, "busbw_gbs": 50.0, "correct": True}]},
                                      "nvlink", 478.1)
    smoke_json = annotate(_report([foreign, low, h2d, mismatch], [alone], host_checks=[nccl]))
    assert foreign["code"] == "GPU_FOREIGN_PROCESS"
    assert low["code"] == h2d["code"] == "GPU_CONTENDED" and low["hardware_code"] == "GPU_MATMUL_BF16_LOW"
    assert h2d["hardware_code"] == "GPU_H2D_LOW"
    assert mismatch["code"] == "GPU_MEMTEST_MISMATCH"  # wrong data is the GPU's, whoever else is on it
    assert alone["code"] == "GPU_MATMUL_BF16_LOW"  # the other GPU has the card to itself
    assert nccl["code"] == "GPU_CONTENDED"  # a collective over a contended GPU
    assert "GPU_CONTENDED" in smoke_json["codes"] and "GPU_FOREIGN_PROCESS" in smoke_json["codes"]


def test_finalize_annotates_and_the_summary_says_what_to_do():
    import argparse  # noqa: PLC0415

    from autoglm_smoke.smoke_json import summary_text  # noqa: PLC0415

    smoke_json = new_smoke_json(argparse.Namespace(level="standard"))
    smoke_json["gpus"].append({"index": 0, "name": "NVIDIA H100 80GB HBM3", "sku": "H100-SXM5-80GB", "uuid": "GPU-1",
                           "measured": True, "figures": {"h2d_gbs": 27.9},
                           "checks": [figures.evaluate_figure("h2d_gbs", 27.9, 63.0, 0.55, "GB/s")]})
    finalize(smoke_json, 0.0)
    assert smoke_json["verdict"] == "fail" and smoke_json["codes"] == ["GPU_H2D_LOW"]
    assert smoke_json["failures"] == ["gpu0 h2d_gbs: 44% of spec peak [GPU_H2D_LOW]"]
    text = summary_text(smoke_json)
    assert "[GPU_H2D_LOW]" in text and "next steps:" in text
    assert "GPU_H2D_LOW (degraded): re-run the smoke test" in text


def test_the_docs_list_every_code_as_the_catalog_says():
    """docs/gpu-smoke.md's "Verdict codes" table is the catalog's (python -m autoglm_smoke.verdicts)."""
    doc = (ROOT / "docs" / "gpu-smoke.md").read_text()
    assert "## Verdict codes" in doc
    section = doc.split("## Verdict codes", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|")) + "\n"
    assert table == verdicts.markdown_table(), "regenerate it: python -m autoglm_smoke.verdicts"
    for code in CODES:
        assert f"`{code}`" in section
