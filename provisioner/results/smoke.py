"""Fleet view of GPU smoke results: a slow node is a faulty node.

Every GPU's throughput figures are compared with the median of all GPUs of the same SKU in the
run (across hosts); a figure more than ``threshold`` below that median flags its host. Pure
function over the smoke program's JSON reports (the autoglm_smoke package).
"""

from __future__ import annotations

import statistics
from collections import defaultdict

DEFAULT_THRESHOLD = 0.10
# Fewer peers than this and a median says little (two GPUs: each is "the median" half the time).
DEFAULT_MIN_PEERS = 3
# Figures where higher is better; everything the smoke program measures is one.
COMPARED_FIGURES = (
    "matmul_bf16_tflops",
    "matmul_fp16_tflops",
    "matmul_tf32_tflops",
    "matmul_fp32_tflops",
    "memory_bw_gbs",
    "h2d_gbs",
    "d2h_gbs",
    "burn_bf16_tflops_median",
    "burn_fp16_tflops_median",
)


def _sku_key(gpu: dict) -> str:
    """Group by reference-table SKU, else by PCI device id, else by name."""
    return gpu.get("sku") or gpu.get("pci_device_id") or gpu.get("name") or "unknown"


def compare_fleet(
    reports: dict[str, dict], threshold: float = DEFAULT_THRESHOLD, min_peers: int = DEFAULT_MIN_PEERS
) -> dict[str, dict]:
    """Flag slow GPUs per host.

    ``reports`` maps host name to its smoke JSON (hosts with no report or no GPUs may be
    included; they get ``compared: 0``). Returns, per host::

        {"slow": bool, "compared": int, "flags": [{"gpu", "uuid", "sku", "figure", "value",
          "median", "peers", "deficit"}], "skipped": [why, ...]}

    ``deficit`` is the fraction below the median (0.15 = 15 % slower). Figures with fewer than
    ``min_peers`` GPUs of the SKU in the run are skipped (listed under ``skipped``).
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be between 0 and 1 (exclusive), got {threshold!r}")
    if min_peers < 2:
        raise ValueError(f"min_peers must be at least 2, got {min_peers!r}")

    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for report in reports.values():
        for gpu in (report or {}).get("gpus", []):
            for figure, value in (gpu.get("figures") or {}).items():
                if figure in COMPARED_FIGURES and isinstance(value, (int, float)) and value > 0:
                    samples[(_sku_key(gpu), figure)].append(float(value))
    medians = {key: statistics.median(values) for key, values in samples.items() if len(values) >= min_peers}

    result: dict[str, dict] = {}
    for host, report in reports.items():
        entry = {"slow": False, "compared": 0, "flags": [], "skipped": []}
        for gpu in (report or {}).get("gpus", []):
            key = _sku_key(gpu)
            for figure, value in sorted((gpu.get("figures") or {}).items()):
                if figure not in COMPARED_FIGURES or not isinstance(value, (int, float)):
                    continue
                median = medians.get((key, figure))
                if median is None:
                    entry["skipped"].append(
                        f"gpu{gpu.get('index')} {figure}: only {len(samples.get((key, figure), []))} "
                        f"GPU(s) of {key} in this run (need {min_peers})"
                    )
                    continue
                entry["compared"] += 1
                deficit = (median - value) / median
                if deficit > threshold:
                    entry["flags"].append(
                        {
                            "gpu": gpu.get("index"),
                            "uuid": gpu.get("uuid"),
                            "sku": key,
                            "figure": figure,
                            "value": value,
                            "median": round(median, 2),
                            "peers": len(samples[(key, figure)]),
                            "deficit": round(deficit, 4),
                        }
                    )
        entry["slow"] = bool(entry["flags"])
        result[host] = entry
    return result
