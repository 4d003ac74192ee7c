"""Self-contained HTML sign-off report of a run: per-host grid and GPU smoke figures vs the fleet.

``report.json`` (provisioner.report) gives each host's status, counts, failures and role facts;
``smoke/<host>.json`` (the smoke program's full JSON, fetched by the gpu_smoke role) gives each
GPU's measured figures. Slow nodes come from :func:`provisioner.fleet.compare_fleet`, the same
judgement the CLI uses. Everything is inline (CSS, SVG): the file opens anywhere, offline.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from ..errors import EXIT_MEANINGS, EXIT_OK, UsageError
from ..records import atomic_write_text
from ..results import smoke as fleet
from ..results.report import load as load_report

REPORT_HTML = "report.html"
SMOKE_DIR = "smoke"
TEMPLATE = "report.html.j2"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

FIGURES = {  # smoke figure -> (title, unit); order is fleet.COMPARED_FIGURES'
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


def build_charts(smoke: dict[str, dict], comparison: dict[str, dict], threshold: float,
                 min_peers: int = fleet.DEFAULT_MIN_PEERS) -> list[Chart]:
    """One chart per (figure, SKU): a bar per host at its slowest GPU (slowest host first), a tick
    per GPU, the same-SKU median of all GPUs in the run and the slow threshold below it."""
    per_host: dict[tuple[str, str], dict[str, list[tuple[int | None, float]]]] = defaultdict(dict)
    for host, report in sorted(smoke.items()):
        for gpu in (report or {}).get("gpus") or []:
            sku = fleet._sku_key(gpu)
            for figure, value in (gpu.get("figures") or {}).items():
                if figure in fleet.COMPARED_FIGURES and isinstance(value, int | float) and value > 0:
                    per_host[(figure, sku)].setdefault(host, []).append((gpu.get("index"), float(value)))
    order = {figure: i for i, figure in enumerate(fleet.COMPARED_FIGURES)}
    charts = []
    for (figure, sku), hosts in sorted(per_host.items(), key=lambda item: (order[item[0][0]], item[0][1])):
        samples = [v for values in hosts.values() for _, v in values]
        median = statistics.median(samples) if len(samples) >= min_peers else None
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
            f"not compared: only {len(samples)} GPU(s) of {sku} in this run (need {min_peers})")
        charts.append(_layout(Chart(figure=figure, title=title, unit=unit, sku=sku, median=median,
                                    peers=len(samples), rows=rows, note=note), threshold))
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


def _host_facts(facts: dict, smoke_report: dict | None) -> dict:
    """The key facts for the grid: OS, driver, CUDA, venv, BIOS and smoke verdicts."""
    host = facts.get("host") or {}
    driver = facts.get("nvidia_driver") or {}
    cuda = facts.get("cuda") or {}
    venv = facts.get("python_venv") or {}
    bios = facts.get("bios_check") or {}
    preflight = facts.get("preflight") or {}
    smoke_fact = facts.get("gpu_smoke") or {}
    packages = venv.get("packages") or {}
    torch = packages.get("torch") if isinstance(packages, dict) else None
    smoke_verdict = smoke_fact.get("verdict") or (smoke_report or {}).get("verdict")
    gpus = (smoke_report or {}).get("gpus") or smoke_fact.get("gpus") or []
    skus = sorted({str(g.get("sku") or g.get("name") or "unknown") for g in gpus})
    warnings = [f"{role}: {w}" for role, data in sorted(facts.items()) if isinstance(data, dict)
                for w in (data.get("warnings") or []) if isinstance(w, str)]
    return {
        "os": _text(host.get("os")),
        "kernel": _text(host.get("kernel")),
        "driver": _text(driver.get("version_loaded") or driver.get("version_installed")),
        "driver_branch": _text(driver.get("branch")),
        "driver_reboot_pending": bool(driver.get("reboot_pending")),
        "cuda": _text(cuda.get("version")),
        "cuda_detail": _text(cuda.get("package_version") or cuda.get("nvcc")),
        "venv_profile": _text(venv.get("profile")),
        "venv_torch": _text(torch),
        "venv_python": _text(venv.get("python_version")),
        "preflight_verdict": {True: "PASS", False: "FAIL"}.get(preflight.get("qualified"), ""),
        "preflight_failures": [str(f) for f in preflight.get("failures") or []],
        "preflight_lowered": bool(preflight.get("thresholds_lowered")),
        "bios_verdict": _text(bios.get("verdict")),
        "bios_requirements": [(name, _text((req or {}).get("verdict")), bool((req or {}).get("mandatory")))
                              for name, req in (bios.get("requirements") or {}).items()],
        "smoke_verdict": _text(smoke_verdict),
        "smoke_level": _text(smoke_fact.get("level") or (smoke_report or {}).get("level")),
        "smoke_reason": _text(smoke_fact.get("reason") or (smoke_report or {}).get("verdict_reason")),
        "gpus": len(gpus),
        "skus": ", ".join(skus),
        "warnings": warnings,
    }


def _host_rows(report: dict, smoke: dict[str, dict], comparison: dict[str, dict]) -> list[dict]:
    hosts = report.get("hosts") or {}
    rows = []
    for name in sorted(set(hosts) | set(smoke)):
        data = hosts.get(name) or {}
        status = data.get("status") or "not in report"
        slow_flags = (comparison.get(name) or {}).get("flags", [])
        failures = [f for f in data.get("failures") or [] if f.get("kind") != "rescued"]
        rows.append({
            "name": name,
            "status": status,
            "slow": bool(slow_flags),
            "slow_figures": sorted({FIGURES.get(f["figure"], (f["figure"],))[0] for f in slow_flags}),
            "counts": {c: data.get(c, 0) for c in ("ok", "changed", "failed", "unreachable", "skipped")},
            "failures": failures,
            "facts": _host_facts(data.get("facts") or {}, smoke.get(name)),
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
    )
    env.filters["num"] = _fmt_number
    env.filters["below"] = _fmt_deficit
    return env


def render_html(report: dict, smoke: dict[str, dict], slow_threshold: float = fleet.DEFAULT_THRESHOLD) -> str:
    """The sign-off page for one run. ``smoke`` maps host name to its smoke JSON (may be empty)."""
    if not 0 < slow_threshold < 1:
        raise UsageError(f"slow threshold {slow_threshold!r}: allowed a fraction between 0 and 1 (exclusive), "
                         "e.g. 0.10 for 10 % below the same-SKU median")
    comparison = fleet.compare_fleet(smoke, threshold=slow_threshold)
    hosts = _host_rows(report, smoke, comparison)
    by_status: dict[str, int] = defaultdict(int)
    for row in hosts:
        by_status[row["status"]] += 1
    slow = _slow_list(comparison)
    slow_hosts = sorted({s["host"] for s in slow})
    exit_code = report.get("exit_code")
    problems = []
    if by_status.get("failed"):
        problems.append(f"{by_status['failed']} failed")
    if by_status.get("unreachable"):
        problems.append(f"{by_status['unreachable']} unreachable")
    if by_status.get("not_run"):
        problems.append(f"{by_status['not_run']} not run")
    if slow_hosts:
        problems.append(f"{len(slow_hosts)} slow")
    if report.get("interrupted"):
        problems.append("run interrupted")
    if exit_code not in (EXIT_OK, None) and not problems:
        problems.append(f"exit code {exit_code}")
    if not hosts:
        problems.append("no host results")
    options = report.get("options") or {}
    extra_var_names = []
    for item in options.get("extra_vars") or []:  # names only: values may be secrets
        text = str(item)
        if text.startswith("@"):
            extra_var_names.append(text)
        elif not text.lstrip().startswith("{"):
            extra_var_names.extend(part.split("=", 1)[0] for part in text.split() if "=" in part)
        else:
            extra_var_names.append("(mapping)")
    context = {
        "run": {
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
            "extra_var_names": extra_var_names,
            "interrupted": bool(report.get("interrupted")),
            "warnings": [str(w) for w in report.get("warnings") or []],
        },
        "signed_off": not problems,
        "problems": problems,
        "totals": report.get("totals") or {},
        "by_status": dict(by_status),
        "host_count": len(hosts),
        "hosts": hosts,
        "charts": build_charts(smoke, comparison, slow_threshold),
        "slow": slow,
        "slow_hosts": slow_hosts,
        "threshold_pct": f"{slow_threshold * 100:g}",
        "smoke_hosts": len([h for h in smoke.values() if h]),
        "min_peers": fleet.DEFAULT_MIN_PEERS,
    }
    return _environment().get_template(TEMPLATE).render(**context)


def read_smoke(run_dir: Path) -> tuple[dict[str, dict], list[str]]:
    """``smoke/<host>.json`` of a run, by host; unreadable files are reported, not fatal."""
    smoke, problems = {}, []
    for path in sorted((run_dir / SMOKE_DIR).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{SMOKE_DIR}/{path.name} unreadable, left out of the charts: {exc}")
            continue
        if not isinstance(data, dict):
            problems.append(f"{SMOKE_DIR}/{path.name} is not a smoke report (a JSON object), left out")
            continue
        smoke[path.stem] = data
    return smoke, problems


def write_html(run_dir: Path, out: Path | None = None, slow_threshold: float = fleet.DEFAULT_THRESHOLD) -> Path:
    """Render ``run_dir``'s report.json and smoke JSONs to ``out`` (default run_dir/report.html)."""
    run_dir = Path(run_dir)
    report = load_report(run_dir)
    smoke, problems = read_smoke(run_dir)
    if problems:
        report = {**report, "warnings": [*(report.get("warnings") or []), *problems]}
    html = render_html(report, smoke, slow_threshold)
    out = Path(out) if out else run_dir / REPORT_HTML
    if out.is_dir():
        out = out / REPORT_HTML
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, html, mode=0o644)
    return out
