"""The JSON report: its skeleton, the host verdict over every check, and the readable summary."""

from __future__ import annotations

import json
import platform
import socket
import sys
import time

from autoglm_smoke import PROGRAM_VERSION, SCHEMA
from autoglm_smoke.checks import FAIL, INFO, PASS, SKIP, WARN, _round
from autoglm_smoke.verdicts import annotate


def new_report(opts):
    return {
        "schema": SCHEMA,
        "program_version": PROGRAM_VERSION,
        "host": socket.gethostname(),
        "level": opts.level,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "gpu_present": None,
        "verdict": None,
        "verdict_reason": "",
        "wall_time_s": None,
        "options": vars(opts).copy(),
        "environment": {
            "python": platform.python_version(),
            "python_executable": sys.executable,
            "kernel": platform.release(),
        },
        "host_checks": [],
        "gpus": [],
        "multi_gpu": None,
        "codes": [],
        "phases_s": {},
    }


def all_checks(report):
    out = [("host", c) for c in report["host_checks"]]
    for gpu in report["gpus"]:
        out.extend(("gpu{}".format(gpu["index"]), c) for c in gpu["checks"])
    return out


def host_verdict(report):
    """(verdict, counts, failure lines): one failed check fails the host; a line ends with the
    check's verdict code."""
    counts = {v: 0 for v in (PASS, WARN, FAIL, SKIP, INFO)}
    failures = []
    for where, c in all_checks(report):
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
        if c["verdict"] == FAIL:
            failures.append(
                "{}{}: {}{}".format(
                    "" if where == "host" else where + " ",
                    c["name"],
                    c["detail"] or c["measured"],
                    " [{}]".format(c["code"]) if c.get("code") else "",
                )
            )
    return (FAIL if counts[FAIL] else PASS), counts, failures


def finalize(report, t_start, reason=None):
    annotate(report)  # every failed or warned check: code, severity, remediation; report["codes"]
    verdict, counts, failures = host_verdict(report)
    report["verdict"] = verdict
    report["counts"] = counts
    report["failures"] = failures
    failed_codes = sorted({c["code"] for _, c in all_checks(report) if c["verdict"] == FAIL and c.get("code")})
    if reason and failed_codes:  # a reason of its own (no GPU) still names its codes, as failure lines do
        reason += " [{}]".format(", ".join(failed_codes))
    report["verdict_reason"] = reason or (
        "; ".join(failures)
        if failures
        else "all checks passed" + (f" ({counts[WARN]} warning(s))" if counts[WARN] else "")
    )
    for gpu in report["gpus"]:
        gpu["figures"] = {k: _round(v) for k, v in gpu["figures"].items()}
    report["wall_time_s"] = _round(time.perf_counter() - t_start)
    return report


def _matrix_lines(title, labels, matrix):
    lines = ["  " + title]
    lines.append("    " + "".join(f"{x:>10}" for x in [""] + labels))
    for label, row in zip(labels, matrix):
        cells = ["-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v)) for v in row]
        lines.append("    " + f"{label:>10}" + "".join(f"{c:>10}" for c in cells))
    return lines


def summary_text(report):
    lines = [
        "autoglm GPU smoke test ({} level) on {}: {} in {:.1f} s".format(
            report["level"], report["host"], report["verdict"].upper(), report["wall_time_s"]
        )
    ]
    if report["verdict_reason"]:
        lines.append("  " + report["verdict_reason"])
    for c in report["host_checks"]:
        lines.append("  [{:4}] host  {:<26} {}".format(c["verdict"], c["name"], _short(c)))
    for gpu in report["gpus"]:
        state = "" if gpu.get("measured") else "  (not measured: {})".format(gpu.get("not_measured_reason"))
        lines.append(
            "  GPU {} {} ({}) {}{}".format(gpu["index"], gpu["name"], gpu["sku"] or "unknown SKU", gpu["uuid"], state)
        )
        for c in gpu["checks"]:
            lines.append("  [{:4}] gpu{}  {:<26} {}".format(c["verdict"], gpu["index"], c["name"], _short(c)))
    multi = report.get("multi_gpu") or {}
    labels = multi.get("labels")
    if labels and multi.get("p2p_oneway_gbs"):
        lines += _matrix_lines("P2P copy GB/s, one way (row -> column)", labels, multi["p2p_oneway_gbs"])
        lines += _matrix_lines("P2P copy GB/s, both ways at once", labels, multi["p2p_bidirectional_gbs"])
    sweep = (multi.get("allreduce") or {}).get("sweep")
    if sweep:
        lines.append(
            "  NCCL all-reduce (float32 sum): "
            + ", ".join("{} MiB {:.1f} GB/s busbw".format(s["bytes"] >> 20, s["busbw_gbs"]) for s in sweep)
        )
    return "\n".join(lines + next_steps(report))


def next_steps(report):
    """One line per verdict code of the run: its severity and the next rung of the repair ladder."""
    seen = {}
    for _, c in all_checks(report):
        if c.get("code") and c["code"] not in seen:
            seen[c["code"]] = c
    if not seen:
        return []
    lines = ["  next steps:"]
    for code in sorted(seen):
        lines.append("    {} ({}): {}".format(code, seen[code]["severity"], seen[code]["remediation"]))
    return lines


def _short(c):
    m, exp = c["measured"], c["expected"]
    if isinstance(exp, dict) and "min" in exp:
        exp = ">= {} {}".format(exp["min"], exp["unit"])
    text = f"{json.dumps(m) if isinstance(m, (dict, list)) else m} (expected {exp})"
    if c["detail"]:
        text += ": " + c["detail"]
    return (f"[{c['code']}] " if c.get("code") else "") + text[:300]
