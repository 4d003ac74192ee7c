"""What the operator sees: a live per-host view in a terminal, plain lines in CI logs, and the
end-of-run summary. Nothing here decides results; it renders :class:`report.RunReport`."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..errors import shown
from ..results import facts
from ..results.report import COUNTERS, RunReport, task_name
from ..results.smoke import finding_lines
from ..results.state import COLUMNS

LIVE_ROWS = 25
DETAIL_ALL_HOSTS_UP_TO = 20
LONG_TASK_S = 2.0  # a task running this long shows its elapsed time
RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped")
FINDING_STYLE = {"FAIL": "red", "WARN": "yellow"}
STATUS_STYLE = {"ok": "green", "failed": "bold red", "unreachable": "bold magenta", "not run": "yellow"}


UNBOUNDED = 4096  # columns of a file or pipe: far above a table of 253-character host names


def make_console(force_plain: bool = False, stderr: bool = False) -> Console:
    """Colour and live updates only on a terminal; CI logs get plain text with no ANSI codes. On
    stderr when stdout is kept for JSON (``--json``)."""
    console = Console(highlight=False, soft_wrap=False, stderr=stderr)
    if force_plain or not console.is_terminal:
        # No wrapping either: a log line must stay whole for grep and CI log viewers; and no width
        # to fit (a file or pipe has none): tables take the width their content needs, so long host
        # names and run ids are never cut to 80 columns.
        console = Console(highlight=False, no_color=True, force_terminal=False, soft_wrap=True, width=UNBOUNDED,
                          stderr=stderr)
    return console


def elapsed(seconds: float) -> str:
    """8.2 -> "8 s", 125 -> "2 min 05 s"."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


class LiveView:
    """The console's event sink: the live table on a terminal, one line per notable event otherwise.
    It shows what is running now: a task from its start event on (``playbook_on_task_start``, and
    ``runner_on_start`` per host), with its elapsed time once it runs long, until its result."""

    def __init__(self, report: RunReport, console: Console, verbosity: int = 0, clock=time.monotonic):
        self.report, self.console, self.verbosity, self.clock = report, console, verbosity, clock
        self.live: Live | None = None
        self.task = ""
        self.task_started = 0.0
        self.running: dict[str, tuple[str, float]] = {}  # host -> (task, started)

    def __enter__(self) -> LiveView:
        if self.console.is_terminal and self.verbosity == 0:
            # Rendered afresh at each refresh, events or not: a long task's clock keeps moving.
            self.live = Live(console=self.console, refresh_per_second=4, transient=True, get_renderable=self.render)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.live.__exit__(None, None, None)

    def __call__(self, event: dict) -> None:
        """An event (provisioner.run.events; output lines as runner's ``verbose`` events), once the
        report has folded it in."""
        if self.verbosity and event.get("stdout"):
            self.console.print(Text(event["stdout"]))
        data = event.get("event_data") or {}
        kind, host = event.get("event", ""), data.get("host")
        plain = not self.live and not self.verbosity
        if kind == "playbook_on_task_start":
            self.task, self.task_started = task_name(data), self.clock()
            if plain:
                self.console.print(f"TASK [{data.get('task', '')}]")
        elif kind == "runner_on_start" and host:
            self.running[host] = (task_name(data), self.clock())
        elif kind in RESULT_EVENTS and host:
            self.running.pop(host, None)
        if kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors") and plain:
            result = self.report.hosts.get(host or "")  # read only: the report was told first
            message = result.failures[-1]["message"] if result and result.failures else ""
            word = "UNREACHABLE" if kind == "runner_on_unreachable" else "FAILED"
            self.console.print(f"  {word} {shown(host)}: {(message.splitlines() or [''])[0]}")
        elif kind == "runner_on_ok" and (data.get("res") or {}).get("changed") and plain:
            self.console.print(f"  changed {shown(host)}")

    def _since(self, started: float) -> str:
        seconds = self.clock() - started
        return f" ({elapsed(seconds)})" if seconds >= LONG_TASK_S else ""

    def current_task(self, host: str) -> str:
        task, started = self.running.get(host, ("", 0.0))
        return task + self._since(started) if task else ""

    def title(self) -> str:
        now = self.task + self._since(self.task_started) if self.task else "starting"
        return f"autoglm-provision {self.report.action} — {now}"

    def render(self) -> Table:
        table = Table(title=self.title(), expand=False)
        table.add_column("host")
        table.add_column("current task", overflow="ellipsis", max_width=60)
        for counter in COUNTERS[:5]:
            table.add_column(counter, justify="right")
        # Problems first, then the busiest: a 1,000-host view shows what needs eyes.
        ranked = sorted(self.report.hosts.items(), key=lambda kv: (kv[1].status == "ok", -kv[1].changed, kv[0]))
        for name, result in ranked[:LIVE_ROWS]:
            table.add_row(Text(shown(name), style=STATUS_STYLE.get(result.status, "")), self.current_task(name),
                          *(str(getattr(result, c)) for c in COUNTERS[:5]))
        if len(ranked) > LIVE_ROWS:
            table.caption = f"{len(ranked) - LIVE_ROWS} more hosts not shown"
        return table


def summary_table(data: dict) -> Table:
    """The end-of-run table from a report.json dict (also used by ``report RUN``)."""
    table = Table(title=f"{data['action']} run {data['run_id']}: {data['status']} "
                        f"in {data['duration_s']:.1f} s (exit {data['exit_code']})")
    table.add_column("host")
    table.add_column("status")
    for counter in COUNTERS[:5]:
        table.add_column(counter, justify="right")
    for name, host in data["hosts"].items():
        table.add_row(shown(name), Text(host["status"], style=STATUS_STYLE.get(host["status"], "")),
                      *(str(host[c]) for c in COUNTERS[:5]))
    return table


VERDICT_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "UNKNOWN": "yellow",
                 "NOT_APPLICABLE": "dim", "INFO": "cyan", "SKIP": "dim"}


def _verdict_line(console: Console, verdict: str, text: str) -> None:
    line = Text("    ")
    line.append(f"{verdict.upper():<15}", style=VERDICT_STYLE.get(verdict.upper(), ""))
    line.append(text)
    console.print(line)


def print_qualification(console: Console, host: str, host_facts: dict, smoke: dict | None = None) -> None:
    """Per-host verdicts of the gates (preflight checks, BIOS requirements, GPU smoke), with the
    evidence and remediation of whatever did not pass; the smoke test's failed and warned checks
    with their verdict codes and next step (``smoke``: report.json ``hosts.<host>.smoke``)."""
    smoke_lines = finding_lines(smoke)
    if not facts.has_gates(host_facts) and not smoke_lines:
        return
    console.print(Text(f"{shown(host)}: qualification", style="bold"))
    for verdict, text, details in facts.qualification(host_facts):
        _verdict_line(console, verdict, text)
        for detail in details:
            console.print(Text(f"      {detail}"))
    for line in smoke_lines:  # "FAIL CODE ...", "WARN CODE ...", each followed by "  next: ..."
        console.print(Text(f"      {line}", style=FINDING_STYLE.get(line[:4], "")))


def print_summary(console: Console, data: dict, run_dir: str) -> None:
    detailed = data["hosts"].items()
    if len(data["hosts"]) > DETAIL_ALL_HOSTS_UP_TO:  # a fleet: details only where something is wrong
        detailed = [(n, h) for n, h in detailed if h["status"] != "ok"]
    for name, host in detailed:
        print_qualification(console, name, host.get("facts") or {}, host.get("smoke"))
    console.print(summary_table(data))
    for name, host in data["hosts"].items():
        for failure in host["failures"]:
            if failure["kind"] == "rescued":
                continue
            console.print(Text(f"{failure['kind'].upper()} {shown(name)}: TASK [{failure['task']}]",
                               style=STATUS_STYLE.get(failure["kind"], "")))
            for line in failure["message"].splitlines() or [""]:
                console.print(Text(f"    {line}"))
    retried = {name: host["retries"] for name, host in data["hosts"].items() if host.get("retries")}
    if retried:
        total = sum(len(r) for r in retried.values())
        console.print(Text(f"{total} transient failure(s) retried on {len(retried)} host(s): "
                           + "; ".join(f"{shown(n)} ({len(r)}x, e.g. {r[0]['task']})"
                                       for n, r in list(retried.items())[:10]),
                           style="yellow"))
    for warning in data.get("warnings") or []:
        console.print(Text(f"WARNING: {warning}", style="yellow"))
    if data.get("interrupted"):
        console.print(Text("Run interrupted: results above are partial.", style="bold yellow"))
    console.print(f"Run directory: {run_dir}  (report.json, report.junit.xml, runner artifacts)")


def status_table(rows: list[dict]) -> Table:
    """`autoglm-provision status`: one row per host from its state record."""
    table = Table(title="host state across runs")
    for column in ("host", "ready", "last run", "action", "result", *(c for c in COLUMNS), "smoke codes", "reboot"):
        table.add_column(column)
    for row in rows:
        summary = row.get("summary") or {}
        ready = row.get("ready")
        table.add_row(shown(row["host"]), Text("yes" if ready else "no", style="green" if ready else "red"),
                      str(row.get("last_run_id") or "-"), str(row.get("last_action") or "-"),
                      Text(str(row.get("last_status")), style=STATUS_STYLE.get(str(row.get("last_status")), "")),
                      *(str(summary.get(c) if summary.get(c) is not None else "-") for c in COLUMNS),
                      ", ".join(summary.get("smoke_codes") or []) or "-",
                      "pending" if summary.get("reboot_pending") else "-")
    return table
