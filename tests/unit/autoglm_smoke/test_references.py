"""The GPU smoke-test program's reference table: SKU matching, complete rows, figures judged
against its floors, PCIe link peaks."""

from __future__ import annotations

import pytest

from autoglm_smoke import figures, references


# --- reference table and figures ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("device_id", "name", "sku"),
    [
        (0x2330, "NVIDIA H100 80GB HBM3", "H100-SXM5-80GB"),
        (None, "NVIDIA H100 PCIe", "H100-PCIe-80GB"),
        (0x2335, "NVIDIA H200", "H200-SXM-141GB"),
        (None, "NVIDIA H200 NVL", "H200-NVL-141GB"),
        (None, "NVIDIA H200", "H200-SXM-141GB"),
        (0x20B0, "NVIDIA A100-SXM4-40GB", "A100-SXM4-40GB"),
        (None, "NVIDIA A100 80GB PCIe", "A100-PCIe-80GB"),
        (None, "NVIDIA A10", "A10"),
        (None, "NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB"),
        (0x26B9, "NVIDIA L40S", "L40S"),
        (None, "Tesla T4", "T4"),
        (0x2684, "NVIDIA GeForce RTX 4090", "RTX-4090"),
        (None, "NVIDIA GeForce RTX 3090", "RTX-3090"),
        (None, "NVIDIA GeForce RTX 3090 Ti", None),
        (0x1234, "NVIDIA Mystery GPU", None),
    ],
)
def test_sku_matching(device_id, name, sku):
    row = references.match_sku(device_id, name)
    assert (row["sku"] if row else None) == sku


def test_every_table_row_is_complete():
    for row in references.SKU_TABLE:
        assert row["device_ids"] and row["memory_bw_gbs"] > 0 and row["pcie"][1] == 16
        assert set(row["floors"]) == {"matmul", "memory_bw", "pcie"}
        assert all(0 < f < 1 for f in row["floors"].values())
        assert "fp16" in row["peak"] and ("tf32" in row["peak"] or "fp32" in row["peak"])


def test_figure_below_floor_fails_and_unknown_sku_is_reported_not_judged():
    h100 = references.match_sku(0x2330, None)
    peak, floor = references.sku_reference(h100, "matmul", "bf16")
    assert figures.evaluate_figure("matmul_bf16_tflops", 700.0, peak, floor, "TFLOP/s")["verdict"] == "pass"
    slow = figures.evaluate_figure("matmul_bf16_tflops", 400.0, peak, floor, "TFLOP/s")
    assert slow["verdict"] == "fail" and slow["expected"]["min"] == pytest.approx(0.55 * 989.4, abs=0.01)
    unknown = figures.evaluate_figure("matmul_bf16_tflops", 123.0, *references.sku_reference(None, "matmul", "bf16"),
                                    "TFLOP/s")
    assert unknown["verdict"] == "info" and unknown["measured"] == 123.0 and "not judged" in unknown["detail"]
    assert references.sku_reference(references.match_sku(0x1EB8, None), "matmul", "bf16") == (None, None)  # T4: no bf16


def test_pcie_peak_from_link():
    assert references.pcie_peak_gbs(5, 16) == pytest.approx(63.01, abs=0.01)
    assert references.pcie_peak_gbs(4, 8) == pytest.approx(15.75, abs=0.01)
    assert references.pcie_peak_gbs(None, 16) is None
