"""Pure verdict functions for measured figures. Every figure is judged twice: against its floor
(slow = fail) and against the physical peak it cannot exceed (above = a measurement error, never
a pass)."""

from __future__ import annotations

from autoglm_smoke.checks import FAIL, INFO, PASS, WARN, _round, check
from autoglm_smoke.references import INTERCONNECT_FLOORS, PHYSICAL_MARGIN


def impossible(name, measured, bound, unit, why):
    """A failed check for a figure above what the hardware can do."""
    return check(
        name,
        FAIL,
        _round(measured),
        {"max": bound, "unit": unit},
        f"measurement error: {_round(measured)} {unit} exceeds the physical peak {bound} {unit} ({why}); "
        "the figure was not measured on this GPU's own work, or the timing is broken",
    )


def evaluate_figure(metric, measured, peak, floor_fraction, unit, detail_extra="", bound=None, bound_why="spec peak"):
    """Judge one throughput figure: a measurement error above `bound`; pass at or above
    floor_fraction * peak; reported, not judged, when there is no peak for this SKU/figure."""
    measured = _round(measured)
    if bound is not None and measured is not None and measured > bound:
        return impossible(metric, measured, bound, unit, f"{bound_why} + {PHYSICAL_MARGIN:.0%}")
    if peak is None or floor_fraction is None:
        return check(
            metric,
            INFO,
            measured,
            None if bound is None else {"max": bound, "unit": unit},
            ("no reference for this SKU: figure reported, not judged " + detail_extra).strip(),
        )
    floor = floor_fraction * peak
    expected = {"min": _round(floor), "spec_peak": peak, "floor_fraction": floor_fraction, "unit": unit}
    verdict = PASS if measured is not None and measured >= floor else FAIL
    frac = "" if measured is None else f"{measured / peak:.0%} of spec peak"
    return check(metric, verdict, measured, expected, (frac + " " + detail_extra).strip())


def _pairs(n):
    return [(i, j) for i in range(n) for j in range(n) if i != j]


def evaluate_p2p_access(cuda_access, nvml_status, require_all, labels):
    """Peer access as CUDA grants it (what NCCL and torch use) is the verdict; NVML's P2P status
    is reported beside it and a disagreement is explained, not judged."""
    n = len(cuda_access)
    missing = [f"{labels[i]}->{labels[j]}" for i, j in _pairs(n) if not cuda_access[i][j]]
    disagree = [
        f"{labels[i]}->{labels[j]}: CUDA {'grants' if cuda_access[i][j] else 'denies'}, NVML says {nvml_status[i][j]}"
        for i, j in _pairs(n)
        if nvml_status and nvml_status[i][j] is not None and (nvml_status[i][j] == "ok") != bool(cuda_access[i][j])
    ]
    note = ""
    if disagree:
        note = (
            " NVML's P2P status differs from CUDA's ("
            + "; ".join(disagree)
            + "): NVML reports the driver's capability table, which virtualised hosts and some"
            " topologies leave incomplete; CUDA's answer is the one NCCL and torch act on."
        )
    measured = {"cuda": cuda_access, "nvml": nvml_status}
    if not missing:
        return check("p2p_access", PASS, measured, "CUDA peer access for all pairs", note.strip())
    return check(
        "p2p_access",
        FAIL if require_all else WARN,
        measured,
        "CUDA peer access for all pairs",
        ("no CUDA peer access for " + ", ".join(missing) + ("" if require_all else " (not required here)") + note),
    )


def evaluate_p2p_bandwidth(name, matrix, link_peaks, kinds, labels, factor=1):
    """matrix[i][j]: measured GB/s from i to j (or both ways when factor=2); link_peaks[i][j]: the
    pair's per-direction link peak; kinds[i][j]: 'nvlink' or 'pcie'. Slow pairs fail against the
    interconnect's floor, impossible ones fail as measurement errors."""
    n = len(matrix)
    slow, errors, unjudged = [], [], []
    floors = {}
    for i, j in _pairs(n):
        value, peak = matrix[i][j], link_peaks[i][j]
        if value is None:
            errors.append(f"{labels[i]}->{labels[j]}: not measured")
            continue
        if not peak:
            unjudged.append(f"{labels[i]}->{labels[j]}")
            continue
        peak = peak * factor
        floor = INTERCONNECT_FLOORS["p2p_" + kinds[i][j]] * peak
        floors[f"{labels[i]}->{labels[j]}"] = _round(floor)
        if value > peak * (1.0 + PHYSICAL_MARGIN):
            errors.append(
                f"measurement error: {labels[i]}->{labels[j]} {_round(value)} GB/s exceeds the physical peak "
                f"{_round(peak * (1.0 + PHYSICAL_MARGIN))} GB/s of its {kinds[i][j]} link"
            )
        elif value < floor:
            slow.append(f"{labels[i]}->{labels[j]} {_round(value)} GB/s < {_round(floor)} ({kinds[i][j]})")
    detail = "; ".join(errors + slow)
    if unjudged:
        detail = (detail + "; " if detail else "") + "no link reference for " + ", ".join(unjudged) + " (reported only)"
    verdict = FAIL if errors or slow else (INFO if unjudged and len(unjudged) == len(_pairs(n)) else PASS)
    return check(name, verdict, matrix, {"min_gbs": floors}, detail)


def allreduce_expected(world, numel, modulus=251):
    """Element i of the summed tensor when rank r contributes (i % modulus) + r."""
    return [world * (i % modulus) + world * (world - 1) // 2 for i in range(numel)]


def bus_bandwidth_gbs(nbytes, seconds, world):
    """nccl-tests' all-reduce bus bandwidth: algbw * 2(n-1)/n."""
    if seconds <= 0 or world < 2:
        return None
    return nbytes / seconds / 1e9 * 2.0 * (world - 1) / world


def evaluate_allreduce(result, interconnect, link_peak_gbs):
    """Correct sums at every size of the sweep; bus bandwidth at the largest size against the
    interconnect's floor (a fraction of the per-GPU link peak) and its physical bound."""
    if result is None or result.get("error"):
        return check(
            "nccl_allreduce", FAIL, None, "correct sum at every size", (result or {}).get("error", "no result")
        )
    sweep = result["sweep"]
    wrong = [s["bytes"] for s in sweep if not s["correct"]]
    largest = max(sweep, key=lambda s: s["bytes"])
    busbw = largest["busbw_gbs"]
    measured = {
        "world": result["world"],
        "interconnect": interconnect,
        "busbw_gbs_at_largest": _round(busbw),
        "largest_bytes": largest["bytes"],
        "sweep": [{"bytes": s["bytes"], "busbw_gbs": _round(s["busbw_gbs"]), "correct": s["correct"]} for s in sweep],
    }
    if wrong:
        return check("nccl_allreduce", FAIL, measured, "correct sum at every size", f"wrong sums at sizes {wrong}")
    if not link_peak_gbs:
        return check(
            "nccl_allreduce", INFO, measured, "correct sum at every size", "no link reference: busbw not judged"
        )
    floor = INTERCONNECT_FLOORS["allreduce_" + interconnect] * link_peak_gbs
    bound = link_peak_gbs * (1.0 + PHYSICAL_MARGIN)
    expected = {"min_busbw_gbs": _round(floor), "link_peak_gbs": link_peak_gbs}
    if busbw > bound:
        return check(
            "nccl_allreduce",
            FAIL,
            measured,
            expected,
            f"measurement error: busbw {_round(busbw)} GB/s exceeds the physical peak {_round(bound)} GB/s "
            f"of the {interconnect} links (NVLink multicast is off)",
        )
    if busbw < floor:
        return check(
            "nccl_allreduce",
            FAIL,
            measured,
            expected,
            f"busbw {_round(busbw)} GB/s at {largest['bytes']} bytes < floor {_round(floor)} ({interconnect})",
        )
    return check(
        "nccl_allreduce", PASS, measured, expected, f"{busbw / link_peak_gbs:.0%} of the {interconnect} link peak"
    )
