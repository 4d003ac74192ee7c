"""GPU smoke results of a run and the fleet judgement: a slow node is a faulty node.

The one reader of ``smoke/<host>.json`` (the smoke program's full JSON, fetched by the gpu_smoke
role into the run directory). Each host's verdict codes (the program's verdict contract,
autoglm_smoke.verdicts: code, severity and remediation of every failed or warned check) are read
here into report.json (``hosts.<host>.smoke``), which JUnit, the console, the HTML report and the
host state show. Every GPU's throughput figures are compared with the median of all
GPUs of the same SKU in the run (across hosts); a figure more than ``threshold`` below that median
flags its host. The judgement is made once, after the run, and stored in report.json (``fleet``,
with the threshold in ``options.slow_threshold``): the summary, the host state and the HTML report
show that one judgement.
"""

from __future__ import annotations

import copy
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from autoglm_smoke import verdicts as contract

from .. import paths
from ..state.records import RecordError, read_regular_file


def _host_files() -> ModuleType:
    """The one encoding of host names as file names, shared with the gpu_smoke role."""
    return paths.collection_module("plugin_utils.host_files")


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


SMOKE_DIR = "smoke"
JUDGED = ("fail", "warn")
SEVERITY_ORDER = {"fatal": 0, "degraded": 1, "info": 2}
DETAIL_LIMIT = 300


def sku_key(gpu: dict) -> str:
    """Group by reference-table SKU, else by PCI device id, else by name."""
    return gpu.get("sku") or gpu.get("pci_device_id") or gpu.get("name") or "unknown"


def gpu_figures(smoke_json: dict | None) -> list[tuple[dict, str, float]]:
    """``(gpu, figure, value)`` for every compared figure a smoke report measured (a positive number)."""
    return [(gpu, figure, float(value)) for gpu in (smoke_json or {}).get("gpus") or []
            for figure, value in (gpu.get("figures") or {}).items()
            if figure in COMPARED_FIGURES and isinstance(value, int | float) and value > 0]


def peer_samples(smoke_jsons: dict[str, dict]) -> dict[tuple[str, str], list[float]]:
    """Every measured value by (SKU, figure), across the hosts of a run: what a median is taken of."""
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for smoke_json in smoke_jsons.values():
        for gpu, figure, value in gpu_figures(smoke_json):
            samples[(sku_key(gpu), figure)].append(value)
    return samples


def fleet_medians(smoke_jsons: dict[str, dict],
                  min_peers: int = DEFAULT_MIN_PEERS) -> dict[tuple[str, str], tuple[float | None, int]]:
    """(SKU, figure) -> (the median of the run's GPUs of that SKU, or None with fewer than ``min_peers``;
    how many GPUs): the reference every figure is judged against, and the one the HTML view draws."""
    return {key: (statistics.median(values) if len(values) >= min_peers else None, len(values))
            for key, values in peer_samples(smoke_jsons).items()}


def compare_fleet(
    smoke_jsons: dict[str, dict], threshold: float = DEFAULT_THRESHOLD, min_peers: int = DEFAULT_MIN_PEERS
) -> dict[str, dict]:
    """Flag slow GPUs per host.

    ``smoke_jsons`` maps host name to its smoke JSON (hosts with no report or no GPUs may be
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

    medians = fleet_medians(smoke_jsons, min_peers)

    result: dict[str, dict] = {}
    for host, smoke_json in smoke_jsons.items():
        entry = {"slow": False, "compared": 0, "flags": [], "skipped": []}
        for gpu in (smoke_json or {}).get("gpus", []):
            key = sku_key(gpu)
            for figure, value in sorted((gpu.get("figures") or {}).items()):
                if figure not in COMPARED_FIGURES or not isinstance(value, (int, float)):
                    continue
                median, peers = medians.get((key, figure), (None, 0))
                if median is None:
                    entry["skipped"].append(
                        f"gpu{gpu.get('index')} {figure}: only {peers} "
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
                            "peers": peers,
                            "deficit": round(deficit, 4),
                        }
                    )
        entry["slow"] = bool(entry["flags"])
        result[host] = entry
    return result


def _host_of(stem: str, hosts: dict[str, str]) -> str:
    """The host a smoke file is of: its name decoded (the role encodes it, plugin_utils/host_files.py),
    else the run's host whose encoded name it is (a long name ends in a digest), else the file name."""
    return hosts.get(stem) or _host_files().host_from_file_name(stem) or stem


def read_results(run_dir: Path, hosts: Iterable[str] = ()) -> tuple[dict[str, dict], list[str]]:
    """``smoke/<host>.json`` of a run, by host (``hosts``: the run's, to name files whose names end
    in a digest). What cannot be read, or is not a smoke report (an object with a gpus list of
    objects), is left out and named in the problems, never fatal."""
    results, problems = {}, []
    by_file = {_host_files().host_file_name(host): host for host in hosts}
    smoke_dir = Path(run_dir) / SMOKE_DIR
    for path in sorted(smoke_dir.glob("*.json")) if smoke_dir.is_dir() else []:
        name = f"{SMOKE_DIR}/{path.name}"
        try:
            data = json.loads(read_regular_file(path, "smoke result").decode("utf-8"))
        except (RecordError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"smoke result {name} unreadable, left out of the charts and the fleet view: {exc}")
            continue
        gpus = data.get("gpus", []) if isinstance(data, dict) else None
        if not (isinstance(gpus, list) and all(isinstance(g, dict) and isinstance(g.get("figures") or {}, dict)
                                               for g in gpus)):
            problems.append(f"smoke result {name} is not a smoke report (an object with a gpus list), left out")
            continue
        results[_host_of(path.stem, by_file)] = data
    return results, problems


def _checks(smoke_json: dict) -> list[tuple[str, dict]]:
    """``(where, check)`` for every check of a smoke report: "host" or "gpu<index>"."""
    out = [("host", c) for c in smoke_json.get("host_checks") or [] if isinstance(c, dict)]
    for gpu in smoke_json.get("gpus") or []:
        out.extend((f"gpu{gpu.get('index')}", c) for c in gpu.get("checks") or [] if isinstance(c, dict))
    return out


def host_verdict(smoke_json: dict | None) -> dict:
    """What report.json records of a host's smoke verdict (``hosts.<host>.smoke``): verdict, level,
    codes and ``findings``, every failed or warned check with its code, severity, remediation and
    detail (failures first, then by severity). A report from a program older than the verdict
    contract (no ``codes``) is annotated here from the same catalog, so no failure goes uncoded."""
    smoke_json = smoke_json or {}
    if "codes" not in smoke_json:
        smoke_json = contract.annotate(copy.deepcopy(smoke_json))
    findings = []
    for where, check in _checks(smoke_json):
        if check.get("verdict") not in JUDGED:
            continue
        code = check.get("code") or contract.code_for(check)
        described = contract.describe(code)
        findings.append({
            "where": where, "check": str(check.get("name")), "verdict": check["verdict"], "code": code,
            "severity": check.get("severity") or described["severity"],
            "remediation": check.get("remediation") or described["remediation"],
            "detail": str(check.get("detail") or check.get("measured") or "")[:DETAIL_LIMIT],
        })
    findings.sort(key=lambda f: (f["verdict"] != "fail", SEVERITY_ORDER.get(f["severity"], 0), f["where"]))
    return {"verdict": smoke_json.get("verdict"), "level": smoke_json.get("level"),
            "codes": sorted({f["code"] for f in findings}), "findings": findings}


# Smoke codes whose likely cause is the PCIe path when the platform check saw ACS redirect or a
# translated IOMMU domain on it (bios_check's p2p requirement, read through facts.p2p_platform).
P2P_CODES = ("GPU_P2P_BW_LOW", "GPU_P2P_ACCESS_MISSING", "GPU_NCCL_BW_LOW")


def explain_p2p(view: dict | None, platform: dict | None) -> dict | None:
    """The host's smoke view with a ``likely_cause`` on its P2P / NCCL findings, and that cause
    first in their remediation, when the platform check saw ACS redirect on a GPU/NIC path or a
    translated IOMMU domain. Unchanged otherwise (and when there is no view or platform)."""
    if not view or not platform:
        return view
    bridges, domains = platform.get("redirect_bridges") or [], platform.get("translated_domains") or []
    if not bridges and not domains:
        return view
    cause = "; ".join(
        ([f"ACS redirect on PCIe bridge(s) {', '.join(bridges)} (bios_check p2p: {platform.get('verdict')})"]
         if bridges else [])
        + ([f"IOMMU in translated mode ({'/'.join(domains)}): boot with iommu=pt"] if domains else []))
    view = copy.deepcopy(view)
    for finding in view.get("findings") or []:
        if finding.get("code") in P2P_CODES:
            finding["likely_cause"] = cause
            finding["remediation"] = (f"likely cause: {cause}; see bios_check's p2p remediation. "
                                      f"{finding['remediation']}")
    return view


def failure_message(view: dict | None) -> str:
    """One line for a failed host's JUnit message: the codes of its failed smoke checks, each with
    where, and the first rung of the repair ladder ("" when the smoke test failed nothing)."""
    failed = [f for f in (view or {}).get("findings") or [] if f["verdict"] == "fail"]
    if not failed:
        return ""
    parts = [f"{f['code']} ({f['severity']}) {f['where']} {f['check']}" for f in failed]
    steps = dict.fromkeys(f"{f['code']}: {f['remediation']}" for f in failed)  # once per code, in order
    return "GPU smoke failed: " + ", ".join(parts) + ". Next: " + " | ".join(steps)


def finding_lines(view: dict | None) -> list[str]:
    """A host's failed and warned smoke checks, two lines each: what, then what to do."""
    lines = []
    for f in (view or {}).get("findings") or []:
        lines.append(f"{f['verdict'].upper()} {f['code']} ({f['severity']}) {f['where']} {f['check']}: {f['detail']}")
        lines.append(f"  next: {f['remediation']}")
    return lines


@dataclass
class Judgement:
    """The fleet view of one run: per-host flags (report.json ``fleet``), each host's smoke verdict
    with its codes (report.json ``hosts.<host>.smoke``) and the operator's warnings."""

    threshold: float
    fleet: dict[str, dict] = field(default_factory=dict)
    verdicts: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def judge_run(run_dir: Path, threshold: float = DEFAULT_THRESHOLD, hosts: Iterable[str] = ()) -> Judgement:
    """Read a run's smoke results and judge them against each other (made once, after the run)."""
    results, problems = read_results(run_dir, hosts)
    judgement = Judgement(threshold=threshold, warnings=problems)
    if not results:
        return judgement
    judgement.verdicts = {host: host_verdict(smoke_json) for host, smoke_json in results.items()}
    judgement.fleet = compare_fleet(results, threshold)
    for host, view in judgement.fleet.items():
        for flag in view.get("flags", []):
            judgement.warnings.append(
                f"SLOW NODE {host} GPU {flag['gpu']} ({flag['sku']}): {flag['figure']} {flag['value']:.1f} is "
                f"{flag['deficit']:.0%} below the median {flag['median']:.1f} of {flag['peers']} same-SKU GPUs "
                f"in this run (threshold {threshold:.0%})")
    return judgement


def result_summary(smoke_json: dict | None) -> dict:
    """What the host grid shows of a smoke report where the role's fact is missing."""
    smoke_json = smoke_json or {}
    return {"verdict": smoke_json.get("verdict"), "level": smoke_json.get("level"),
            "verdict_reason": smoke_json.get("verdict_reason"), "gpus": smoke_json.get("gpus") or []}
