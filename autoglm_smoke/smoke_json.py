"""The smoke JSON (what the program writes; `smoke/<host>.json` in a run directory): its skeleton,
the host verdict over every check, and the readable summary."""

from __future__ import annotations

import json
import platform
import socket
import sys
import time

from autoglm_smoke import PROGRAM_VERSION, SCHEMA
from autoglm_smoke.checks import FAIL, INFO, PASS, SKIP, WARN, _round
from autoglm_smoke.verdicts import annotate


def new_smoke_json(opts):
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


def all_checks(smoke_json):
    out = [("host", c) for c in smoke_json["host_checks"]]
    for gpu in smoke_json["gpus"]:
        out.extend(("gpu{}".format(gpu["index"]), c) for c in gpu["checks"])
    return out


def host_verdict(smoke_json):
    """(verdict, counts, failure lines): one failed check fails the host; a line ends with the
    check's verdict code."""
    counts = {v: 0 for v in (PASS, WARN, FAIL, SKIP, INFO)}
    failures = []
    for where, c in all_checks(smoke_json):
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


def finalize(smoke_json, t_start, reason=None):
    annotate(smoke_json)  # every failed or warned check: code, severity, remediation; smoke_json["codes"]
    verdict, counts, failures = host_verdict(smoke_json)
    smoke_json["verdict"] = verdict
    smoke_json["counts"] = counts
    smoke_json["failures"] = failures
    failed_codes = sorted({c["code"] for _, c in all_checks(smoke_json) if c["verdict"] == FAIL and c.get("code")})
    if reason and failed_codes:  # a reason of its own (no GPU) still names its codes, as failure lines do
        reason += " [{}]".format(", ".join(failed_codes))
    smoke_json["verdict_reason"] = reason or (
        "; ".join(failures)
        if failures
        else "all checks passed" + (f" ({counts[WARN]} warning(s))" if counts[WARN] else "")
    )
    for gpu in smoke_json["gpus"]:
        gpu["figures"] = {k: _round(v) for k, v in gpu["figures"].items()}
    smoke_json["wall_time_s"] = _round(time.perf_counter() - t_start)
    return smoke_json


def _matrix_lines(title, labels, matrix):
    lines = ["  " + title]
    lines.append("    " + "".join(f"{x:>10}" for x in [""] + labels))
    for label, row in zip(labels, matrix):
        cells = ["-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v)) for v in row]
        lines.append("    " + f"{label:>10}" + "".join(f"{c:>10}" for c in cells))
    return lines


def summary_text(smoke_json):
    lines = [
        "autoglm GPU smoke test ({} level) on {}: {} in {:.1f} s".format(
            smoke_json["level"], smoke_json["host"], smoke_json["verdict"].upper(), smoke_json["wall_time_s"]
        )
    ]
    if smoke_json["verdict_reason"]:
        lines.append("  " + smoke_json["verdict_reason"])
    for c in smoke_json["host_checks"]:
        lines.append("  [{:4}] host  {:<26} {}".format(c["verdict"], c["name"], _short(c)))
    for gpu in smoke_json["gpus"]:
        state = "" if gpu.get("measured") else "  (not measured: {})".format(gpu.get("not_measured_reason"))
        lines.append(
            "  GPU {} {} ({}) {}{}".format(gpu["index"], gpu["name"], gpu["sku"] or "unknown SKU", gpu["uuid"], state)
        )
        for c in gpu["checks"]:
            lines.append("  [{:4}] gpu{}  {:<26} {}".format(c["verdict"], gpu["index"], c["name"], _short(c)))
    multi = smoke_json.get("multi_gpu") or {}
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
    return "\n".join(lines + next_steps(smoke_json))


def next_steps(smoke_json):
    """One line per verdict code of the run: its severity and the next rung of the repair ladder."""
    seen = {}
    for _, c in all_checks(smoke_json):
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
