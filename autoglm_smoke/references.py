"""Reference figures as data (references.json): per-SKU spec peaks and floors, PCIe lane and
NVLink link rates, and the physical bounds above which a figure is a measurement error."""

from __future__ import annotations

import json
import pkgutil
import re

_DATA = json.loads(pkgutil.get_data("autoglm_smoke", "references.json").decode("utf-8"))

PHYSICAL_MARGIN = float(_DATA["physical_margin"])
INTERCONNECT_FLOORS = dict(_DATA["interconnect_floors"])
PCIE_LANE_GBS = {int(k): float(v) for k, v in _DATA["pcie_lane_gbs"].items()}
NVLINK_LINK_GBS = {int(k): float(v) for k, v in _DATA["nvlink_link_gbs_by_nvml_version"].items() if k.isdigit()}


def _row(raw):
    row = dict(raw)
    row["device_ids"] = [int(x, 16) for x in raw["device_ids"]]
    row["pcie"] = tuple(raw["pcie"])
    row["floors"] = dict(_DATA["floor_sets"][raw["floors"]])
    return row


SKU_TABLE = [_row(r) for r in _DATA["skus"]]


def match_sku(pci_device_id, name):
    """The reference row for a GPU: by PCI device id, else by name; None when unknown."""
    for row in SKU_TABLE:
        if pci_device_id is not None and pci_device_id in row["device_ids"]:
            return row
    for row in SKU_TABLE:
        if name and re.search(row["name_re"], name):
            return row
    return None


def sku_reference(sku, metric_kind, key=None):
    """(peak, floor_fraction) from a table row, or (None, None) for an unknown SKU/figure.
    metric_kind: 'matmul' (key = dtype), 'memory_bw', or 'pcie' (key = the link's peak GB/s)."""
    if sku is None:
        return None, None
    if metric_kind == "matmul":
        peak = sku["peak"].get(key)
    elif metric_kind == "memory_bw":
        peak = sku["memory_bw_gbs"]
    else:
        peak = key
    return (peak, sku["floors"][metric_kind]) if peak else (None, None)


def physical_bound(sku, metric_kind, key=None):
    """The figure no healthy measurement can exceed: the SKU's spec peak, or for an unknown SKU
    the fastest known part's; for links, the link's peak. Margin included."""
    if metric_kind == "matmul":
        peak = sku["peak"].get(key) if sku else None
        if peak is None:
            peak = max(row["peak"].get(key, 0.0) for row in SKU_TABLE) or None
    elif metric_kind == "memory_bw":
        peak = sku["memory_bw_gbs"] if sku else max(row["memory_bw_gbs"] for row in SKU_TABLE)
    else:
        peak = key
    return None if not peak else round(peak * (1.0 + PHYSICAL_MARGIN), 2)


def pcie_peak_gbs(gen, width):
    """Usable payload bandwidth of a PCIe link per direction, GB/s."""
    if gen is None or width is None or gen not in PCIE_LANE_GBS:
        return None
    return round(PCIE_LANE_GBS[gen] * width, 2)


def nvlink_peak_gbs(version, links):
    """Per-direction peak of `links` NVLink links of NVML version code `version`, GB/s."""
    rate = NVLINK_LINK_GBS.get(version)
    if rate is None or not links:
        return None
    return round(rate * links, 2)
