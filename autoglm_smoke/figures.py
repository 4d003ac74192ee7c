"""Pure verdict functions for measured figures. Every figure is judged twice: against its floor
(slow = fail) and against the physical peak it cannot exceed (above = a measurement error, never
a pass)."""

from __future__ import annotations

import statistics

from autoglm_smoke.checks import BAD_CLOCK_EVENT_MASK, FAIL, INFO, PASS, SKIP, WARN, _round, check, decode_clock_events
from autoglm_smoke.references import INTERCONNECT_FLOORS, PHYSICAL_MARGIN
from autoglm_smoke.verdicts import clock_event_code


def impossible(name, measured, bound, unit, why):
    """A failed check for a figure above what the hardware can do."""
    return check(
        name,
        FAIL,
        _round(measured),
        {"max": bound, "unit": unit},
        f"measurement error: {_round(measured)} {unit} exceeds the physical peak {bound} {unit} ({why}); "
        "the figure was not measured on this GPU's own work, or the timing is broken",
        code="GPU_MEASUREMENT_ERROR",
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
    code = "GPU_MEASUREMENT_ERROR" if any(e.startswith("measurement error") for e in errors) else "GPU_P2P_BW_LOW"
    if unjudged:
        detail = (detail + "; " if detail else "") + "no link reference for " + ", ".join(unjudged) + " (reported only)"
    verdict = FAIL if errors or slow else (INFO if unjudged and len(unjudged) == len(_pairs(n)) else PASS)
    return check(name, verdict, matrix, {"min_gbs": floors}, detail, code)


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
            "nccl_allreduce",
            FAIL,
            None,
            "correct sum at every size",
            (result or {}).get("error", "no result"),
            code="GPU_NCCL_ERROR",
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
        return check(
            "nccl_allreduce",
            FAIL,
            measured,
            "correct sum at every size",
            f"wrong sums at sizes {wrong}",
            code="GPU_NCCL_WRONG_RESULT",
        )
    if not link_peak_gbs:
        return check(
            "nccl_allreduce", INFO, measured, "correct sum at every size", "no link reference: busbw not judged"
        )
    return _judge_busbw(measured, busbw, interconnect, link_peak_gbs)


def _judge_busbw(measured, busbw, interconnect, link_peak_gbs):
    """The bus bandwidth at the largest size against the interconnect's floor and its physical bound."""
    largest_bytes = measured["largest_bytes"]
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
            code="GPU_MEASUREMENT_ERROR",
        )
    if busbw < floor:
        return check(
            "nccl_allreduce",
            FAIL,
            measured,
            expected,
            f"busbw {_round(busbw)} GB/s at {largest_bytes} bytes < floor {_round(floor)} ({interconnect})",
            code="GPU_NCCL_BW_LOW",
        )
    return check(
        "nccl_allreduce", PASS, measured, expected, f"{busbw / link_peak_gbs:.0%} of the {interconnect} link peak"
    )


def evaluate_burn(series, tolerance, ecc_before, ecc_after, clock_events, temp_max, temp_limit):
    """Burn verdicts: throughput stable within tolerance of its median, no bad clock events, no
    new uncorrected ECC errors, temperature under the limit."""
    out = []
    if series:
        med = statistics.median(series)
        worst = min(series)
        low = [i for i, v in enumerate(series) if v < (1.0 - tolerance) * med]
        out.append(
            check(
                "burn_throughput_stability",
                FAIL if low else PASS,
                {"median_tflops": _round(med), "min_tflops": _round(worst), "samples": len(series)},
                f"every sample >= {1 - tolerance:.0%} of median",
                f"{len(low)} sample(s) below: throughput sagged under sustained load" if low else "",
            )
        )
    else:
        out.append(
            check(
                "burn_throughput_stability", FAIL, None, "samples", "no burn samples collected", "GPU_SMOKE_ERROR"
            )
        )
    bad = decode_clock_events((clock_events or 0) & BAD_CLOCK_EVENT_MASK)
    out.append(
        check(
            "burn_clock_event_reasons",
            FAIL if bad else PASS,
            decode_clock_events(clock_events or 0),
            "no thermal/power-brake/hardware slowdown",
            ", ".join(bad),
            code=clock_event_code(clock_events or 0),
        )
    )
    delta = {}
    for key in ("corrected_volatile", "uncorrected_volatile"):
        a, b = (ecc_before or {}).get(key), (ecc_after or {}).get(key)
        delta[key] = (b - a) if a is not None and b is not None else None
    verdict = FAIL if delta.get("uncorrected_volatile") else (WARN if delta.get("corrected_volatile") else PASS)
    if ecc_before is None:
        verdict = SKIP
    out.append(check("burn_ecc_delta", verdict, delta, "no new uncorrected errors"))
    out.append(
        check(
            "burn_temperature_c",
            SKIP if temp_max is None else (FAIL if temp_max >= temp_limit else PASS),
            temp_max,
            f"< {temp_limit}",
        )
    )
    return out
