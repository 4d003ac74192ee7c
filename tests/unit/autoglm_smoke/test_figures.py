"""The GPU smoke-test program's figures bounded by physics: impossible figures fail as measurement
errors, and the references they are bounded by match the published datasheets' values and units."""

from __future__ import annotations

import pytest

from autoglm_smoke import figures, references

# --- physically impossible figures fail (the 2-GPU bug: GPU 1 timed on GPU 0's stream) ----------
# Figures below are GPU 1's from the 2x H200 run before the fix (issue "GPU smoke test correct on
# multi-GPU hosts"): they passed then.
H200 = references.match_sku(0x2335, "NVIDIA H200")


@pytest.mark.parametrize(("dtype", "value"), [("fp16", 72152.0), ("bf16", 84324.0), ("tf32", 44510.0)])
def test_impossible_matmul_figures_fail_as_measurement_errors(dtype, value):
    peak, floor = references.sku_reference(H200, "matmul", dtype)
    c = figures.evaluate_figure(f"matmul_{dtype}_tflops", value, peak, floor, "TFLOP/s",
                                bound=references.physical_bound(H200, "matmul", dtype))
    assert c["verdict"] == "fail"
    assert c["detail"].startswith(f"measurement error: {value} TFLOP/s exceeds the physical peak")


def test_real_h200_figures_pass_and_a_figure_just_under_the_bound_is_judged_normally():
    peak, floor = references.sku_reference(H200, "matmul", "bf16")
    bound = references.physical_bound(H200, "matmul", "bf16")
    assert bound == pytest.approx(989.4 * 1.05, abs=0.01)
    assert figures.evaluate_figure("m", 663.48, peak, floor, "TFLOP/s", bound=bound)["verdict"] == "pass"
    assert figures.evaluate_figure("m", bound - 0.1, peak, floor, "TFLOP/s", bound=bound)["verdict"] == "pass"


def test_unknown_sku_is_still_bounded_by_the_fastest_known_part_and_host_copies_by_the_link():
    bound = references.physical_bound(None, "matmul", "fp16")
    c = figures.evaluate_figure("matmul_fp16_tflops", 72152.0, None, None, "TFLOP/s", bound=bound)
    assert c["verdict"] == "fail" and "measurement error" in c["detail"]
    assert figures.evaluate_figure("matmul_fp16_tflops", 500.0, None, None, "TFLOP/s", bound=bound)["verdict"] == "info"
    link = references.pcie_peak_gbs(5, 16)
    for value in (14589.0, 54004.0):  # GPU 1's H2D and D2H before the fix
        c = figures.evaluate_figure("h2d_gbs", value, link, 0.55, "GB/s",
                                    bound=references.physical_bound(None, "pcie", link), bound_why="PCIe link peak")
        assert c["verdict"] == "fail" and "exceeds the physical peak 66.16 GB/s" in c["detail"]


def test_references_match_published_spec_values_in_the_right_units():
    # NVIDIA datasheets: H200 SXM 4.8 TB/s HBM3e, dense BF16 989.4 TFLOP/s (1,979 with sparsity), TF32 494.7;
    # H100 SXM 3.35 TB/s; A100 80GB SXM 2,039 GB/s; L40S 864 GB/s; T4 320 GB/s. GB/s is 1e9 bytes/s:
    # the H200's floor must not be copied from a table that lists "2333" in an MB/s field.
    assert (H200["memory_bw_gbs"], H200["peak"]["bf16"], H200["peak"]["tf32"]) == (4800, 989.4, 494.7)
    by_sku = {row["sku"]: row for row in references.SKU_TABLE}
    assert by_sku["H100-SXM5-80GB"]["memory_bw_gbs"] == 3350
    assert by_sku["A100-SXM4-80GB"]["memory_bw_gbs"] == 2039
    assert by_sku["L40S"]["memory_bw_gbs"] == 864
    assert by_sku["T4"]["memory_bw_gbs"] == 320
    for row in references.SKU_TABLE:
        assert 100 <= row["memory_bw_gbs"] <= 10000, row["sku"]  # GB/s, not TB/s or MB/s
        assert all(0 < f < 1 for f in row["floors"].values()), row["sku"]
        # a floor is at most 70 % of what the datasheet promises: 2333 GB/s would be 49 % of 4800 - fine,
        # but a floor in MB/s (2,333,000) or TB/s (4.8) would be absurd either way
        floor = row["floors"]["memory_bw"] * row["memory_bw_gbs"]
        assert 50 <= floor <= row["memory_bw_gbs"], row["sku"]
    assert references.nvlink_peak_gbs(6, 18) == pytest.approx(478.12, abs=0.01)  # NVLink 4, as nvidia-smi reports
