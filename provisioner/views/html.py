"""Self-contained HTML sign-off report of a run: per-host grid and GPU smoke figures vs the fleet.

``report.json`` (results.report) gives each host's status, counts, failures, role facts (read
through results.facts) and the run's slow-node judgement (``fleet``, made once by results.smoke);
``smoke/<host>.json`` (results.smoke reads them) gives each GPU's measured figures for the charts.
This page renders; it judges nothing. Everything is inline (CSS, SVG): the file opens anywhere, offline.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from ..errors import EXIT_MEANINGS, EXIT_OK, UsageError, shown
from ..results import facts, smoke
from ..results.report import load as load_report
from ..state.records import atomic_write_text

REPORT_HTML = "report.html"
TEMPLATE = "report.html.j2"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

FIGURES = {  # smoke figure -> (title, unit); order is smoke.COMPARED_FIGURES'
    "matmul_bf16_tflops": ("bf16 matmul", "TFLOP/s"),
    "matmul_fp16_tflops": ("fp16 matmul", "TFLOP/s"),
    "matmul_tf32_tflops": ("tf32 matmul", "TFLOP/s"),
    "matmul_fp32_tflops": ("fp32 matmul", "TFLOP/s"),
    "memory_bw_gbs": ("GPU memory bandwidth", "GB/s"),
    "h2d_gbs": ("Host to device copy (PCIe)", "GB/s"),
    "d2h_gbs": ("Device to host copy (PCIe)", "GB/s"),
    "burn_bf16_tflops_median": ("Burn bf16 matmul, median", "TFLOP/s"),
    "burn_fp16_tflops_median": ("Burn fp16 matmul, median", "TFLOP/s"),
}
# Problems first: a sign-off reader looks for what is wrong.
STATUS_ORDER = {"failed": 0, "unreachable": 1, "not_run": 2, "slow": 3, "ok": 4}

# Chart geometry (SVG user units = CSS px).
CHART_WIDTH = 980
LABEL_WIDTH = 260
VALUE_WIDTH = 170
ROW_HEIGHT = 20
TOP_MARGIN = 30
AXIS_HEIGHT = 26


@dataclass
class ChartRow:
    host: str
    worst: float
    values: list[tuple[int | None, float]]
    slow: bool
    deficit: float | None
    y: float = 0.0
    bar_width: float = 0.0
    ticks: list[float] = field(default_factory=list)


@dataclass
class Chart:
    figure: str
    title: str
    unit: str
    sku: str
    median: float | None
    peers: int
    rows: list[ChartRow]
    note: str = ""
    width: int = CHART_WIDTH
    height: int = 0
    plot_left: int = LABEL_WIDTH
    plot_width: int = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    median_x: float | None = None
    threshold_x: float | None = None
    axis: list[tuple[float, str]] = field(default_factory=list)

    @property
    def slow_hosts(self) -> list[str]:
        return [r.host for r in self.rows if r.slow]


def _nice_max(value: float) -> tuple[float, float]:
    """An axis end at or above ``value`` and a round tick step (1, 2, 2.5 or 5 x 10^n)."""
    if value <= 0:
        return 1.0, 0.2
    raw = value / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return math.ceil(value / step) * step, step


def _fmt_number(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


def _layout(chart: Chart, threshold: float) -> Chart:
    top = max([r.worst for r in chart.rows] + [max(v for _, v in r.values) for r in chart.rows]
              + ([chart.median] if chart.median else []))
    axis_max, step = _nice_max(top * 1.02)

    def x(value: float) -> float:
        return round(chart.plot_left + value / axis_max * chart.plot_width, 1)

    for i, row in enumerate(chart.rows):
        row.y = TOP_MARGIN + i * ROW_HEIGHT
        row.bar_width = round(x(row.worst) - chart.plot_left, 1)
        row.ticks = [x(v) for _, v in row.values]
    if chart.median is not None:
        chart.median_x = x(chart.median)
        chart.threshold_x = x(chart.median * (1 - threshold))
    ticks = int(round(axis_max / step))
    label = (lambda v: f"{v:,.0f}") if step >= 1 else (lambda v: f"{v:g}")
    chart.axis = [(x(i * step), label(i * step)) for i in range(ticks + 1)]
    chart.height = TOP_MARGIN + len(chart.rows) * ROW_HEIGHT + AXIS_HEIGHT
    return chart


def build_charts(results: dict[str, dict], comparison: dict[str, dict], threshold: float,
                 min_peers: int = smoke.DEFAULT_MIN_PEERS) -> list[Chart]:
    """One chart per (figure, SKU): a bar per host at its slowest GPU (slowest host first), a tick
    per GPU, the same-SKU median of all GPUs in the run and the slow threshold below it."""
    per_host: dict[tuple[str, str], dict[str, list[tuple[int | None, float]]]] = defaultdict(dict)
    for host, report in sorted(results.items()):
        for gpu, figure, value in smoke.gpu_figures(report):
            per_host[(figure, smoke.sku_key(gpu))].setdefault(host, []).append((gpu.get("index"), value))
    medians = smoke.fleet_medians(results, min_peers)  # the judgement's own reference, not recomputed here
    order = {figure: i for i, figure in enumerate(smoke.COMPARED_FIGURES)}
    charts = []
    for (figure, sku), hosts in sorted(per_host.items(), key=lambda item: (order[item[0][0]], item[0][1])):
        median, peer_count = medians[(sku, figure)]
        rows = []
        for host, values in hosts.items():
            worst = min(v for _, v in values)
            flagged = any(f["figure"] == figure and f["sku"] == sku
                          for f in (comparison.get(host) or {}).get("flags", []))
            rows.append(ChartRow(host=host, worst=worst, values=values, slow=flagged,
                                 deficit=(median - worst) / median if median else None))
        rows.sort(key=lambda r: (r.worst, r.host))  # slowest first: in a big fleet the problems are on top
        title, unit = FIGURES.get(figure, (figure, ""))
        note = "" if median is not None else (
            f"not compared: only {peer_count} GPU(s) of {sku} in this run (need {min_peers})")
        charts.append(_layout(Chart(figure=figure, title=title, unit=unit, sku=sku, median=median,
                                    peers=peer_count, rows=rows, note=note), threshold))
    return charts


def _fmt_duration(seconds: float | None) -> str:
    if not seconds:
        return "0 s"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def _fmt_deficit(deficit: float | None) -> str:
    """0.2 (20 % below the median) -> "−20.0 %"; -0.01 -> "+1.0 %"."""
    if deficit is None:
        return ""
    return f"\u2212{deficit * 100:.1f} %" if deficit > 0 else f"+{-deficit * 100:.1f} %"


def _text(value: object) -> str:
    if value is None or value == "" or value == []:
        return ""
    return str(value)


def _host_facts(host_facts: dict, smoke_json: dict | None) -> dict:
    """The key facts for the grid (results.facts reads them), as text."""
    summary = facts.host_summary(host_facts, smoke.result_summary(smoke_json) if smoke_json else None)
    shown = {key: _text(value) for key, value in summary.items()
             if key not in ("bios_requirements", "preflight_failures", "gpus", "warnings", "skus")}
    return {
        **shown,
        "driver_reboot_pending": summary["driver_reboot_pending"],
        "preflight_verdict": shown.pop("preflight"),
        "preflight_lowered": bool(summary["preflight_lowered"]),
        "preflight_failures": summary["preflight_failures"],
        "bios_verdict": shown.pop("bios"),
        "bios_requirements": [(name, _text(verdict), mandatory)
                              for name, verdict, mandatory in summary["bios_requirements"]],
        "smoke_verdict": shown.pop("smoke").lower(),
        "gpus": summary["gpus"],
        "skus": ", ".join(summary["skus"]),
        "warnings": summary["warnings"],
    }


def _host_rows(report: dict, results: dict[str, dict], comparison: dict[str, dict]) -> list[dict]:
    hosts = report.get("hosts") or {}
    rows = []
    for name in sorted(set(hosts) | set(results)):
        data = hosts.get(name) or {}
        status = data.get("status") or "not in report"
        slow_flags = (comparison.get(name) or {}).get("flags", [])
        failures = [f for f in data.get("failures") or [] if f.get("kind") != "rescued"]
        # the run's recorded smoke verdict codes; a run recorded before them: read from its smoke JSON
        verdict = data.get("smoke") or (smoke.host_verdict(results[name]) if results.get(name) else {})
        rows.append({
            "name": name,
            "status": status,
            "slow": bool(slow_flags),
            "slow_figures": sorted({FIGURES.get(f["figure"], (f["figure"],))[0] for f in slow_flags}),
            "counts": {c: data.get(c, 0) for c in ("ok", "changed", "failed", "unreachable", "skipped")},
            "failures": failures,
            "smoke_codes": verdict.get("codes") or [],
            "smoke_findings": verdict.get("findings") or [],
            "facts": _host_facts(data.get("facts") or {}, results.get(name)),
        })
    rows.sort(key=lambda r: (STATUS_ORDER.get("slow" if r["slow"] and r["status"] == "ok" else r["status"], 9),
                             r["name"]))
    return rows


def _slow_list(comparison: dict[str, dict]) -> list[dict]:
    out = []
    for host, entry in sorted(comparison.items()):
        for flag in entry.get("flags", []):
            title, unit = FIGURES.get(flag["figure"], (flag["figure"], ""))
            out.append({"host": host, "title": title, "unit": unit, **flag})
    return out


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # host names, task names and module messages are untrusted text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # RTL overrides and zero-width characters in a host name or a message are shown escaped, as
        # the console shows them: a page must not reorder or hide what an operator signs off.
        finalize=lambda value: shown(value) if isinstance(value, str) else value,
    )
    env.filters["num"] = _fmt_number
    env.filters["below"] = _fmt_deficit
    return env


def _problems(report: dict, by_status: dict[str, int], slow_hosts: list[str], host_count: int) -> list[str]:
    """What stands between the run and a sign-off, as the page's headline lists it."""
    problems = [f"{by_status[status]} {label}" for status, label in
                (("failed", "failed"), ("unreachable", "unreachable"), ("not_run", "not run"))
                if by_status.get(status)]
    if slow_hosts:
        problems.append(f"{len(slow_hosts)} slow")
    if report.get("interrupted"):
        problems.append("run interrupted")
    exit_code = report.get("exit_code")
    if exit_code not in (EXIT_OK, None) and not problems:
        problems.append(f"exit code {exit_code}")
    if not host_count:
        problems.append("no host results")
    return problems


def _extra_var_names(options: dict) -> list[str]:
    """The extra vars' names only: their values may be secrets."""
    names = []
    for item in options.get("extra_vars") or []:
        text = str(item)
        if text.startswith("@"):
            names.append(text)
        elif not text.lstrip().startswith("{"):
            names.extend(part.split("=", 1)[0] for part in text.split() if "=" in part)
        else:
            names.append("(mapping)")
    return names


def _run_context(report: dict) -> dict:
    options = report.get("options") or {}
    exit_code = report.get("exit_code")
    return {
        "id": report.get("run_id", ""),
        "action": report.get("action", ""),
        "inventory": report.get("inventory", ""),
        "started": report.get("started", ""),
        "finished": report.get("finished", ""),
        "duration": _fmt_duration(report.get("duration_s")),
        "status": report.get("status", ""),
        "exit_code": exit_code,
        "exit_meaning": EXIT_MEANINGS.get(exit_code, "unknown exit code"),
        "check_mode": bool(options.get("check")),
        "limit": options.get("limit") or "",
        "tags": options.get("tags") or "",
        "extra_var_names": _extra_var_names(options),
        "interrupted": bool(report.get("interrupted")),
        "warnings": [str(w) for w in report.get("warnings") or []],
    }


def _slow_judgement(report: dict, results: dict[str, dict], slow_threshold: float | None) -> tuple[float, dict]:
    """(threshold, per-host comparison): the run's own judgement (report.json ``fleet``), or, for
    another ``slow_threshold``, results.smoke's judgement of the same figures at that threshold."""
    recorded = (report.get("options") or {}).get("slow_threshold", smoke.DEFAULT_THRESHOLD)
    if slow_threshold is not None and not 0 < slow_threshold < 1:
        raise UsageError(f"slow threshold {slow_threshold!r}: allowed a fraction between 0 and 1 (exclusive), "
                         "e.g. 0.10 for 10 % below the same-SKU median")
    if slow_threshold is None or slow_threshold == recorded:
        return recorded, report.get("fleet") or {}
    return slow_threshold, smoke.compare_fleet(results, threshold=slow_threshold)


def render_html(report: dict, results: dict[str, dict], slow_threshold: float | None = None) -> str:
    """The sign-off page for one run. ``results`` maps host name to its smoke JSON (may be empty).
    Slow nodes are the run's own judgement (report.json ``fleet``); a ``slow_threshold`` other than
    the run's asks results.smoke to judge the same figures again at that threshold."""
    slow_threshold, comparison = _slow_judgement(report, results, slow_threshold)
    hosts = _host_rows(report, results, comparison)
    by_status: dict[str, int] = defaultdict(int)
    for row in hosts:
        by_status[row["status"]] += 1
    slow = _slow_list(comparison)
    slow_hosts = sorted({s["host"] for s in slow})
    problems = _problems(report, by_status, slow_hosts, len(hosts))
    context = {
        "run": _run_context(report),
        "signed_off": not problems,
        "problems": problems,
        "totals": report.get("totals") or {},
        "by_status": dict(by_status),
        "host_count": len(hosts),
        "hosts": hosts,
        "charts": build_charts(results, comparison, slow_threshold),
        "slow": slow,
        "slow_hosts": slow_hosts,
        "threshold_pct": f"{slow_threshold * 100:g}",
        "smoke_hosts": len([h for h in results.values() if h]),
        "min_peers": smoke.DEFAULT_MIN_PEERS,
    }
    return _environment().get_template(TEMPLATE).render(**context)


def write_html(run_dir: Path, out: Path | None = None, slow_threshold: float | None = None) -> Path:
    """Render ``run_dir``'s report.json and smoke JSONs to ``out`` (default run_dir/report.html)."""
    run_dir = Path(run_dir)
    report = load_report(run_dir)
    results, problems = smoke.read_results(run_dir, report.get("hosts") or {})
    if problems:
        report = {**report, "warnings": [*(report.get("warnings") or []), *problems]}
    html = render_html(report, results, slow_threshold)
    out = Path(out) if out else run_dir / REPORT_HTML
    if out.is_dir():
        out = out / REPORT_HTML
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, html)
    return out
