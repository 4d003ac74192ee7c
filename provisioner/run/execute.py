"""A :class:`RunPlan` executed: the --probe-strict pre-flight, the run directory, the playbook (each
event goes to the report first, then to the live view), the fleet judgement, the records."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from .. import specs
from ..errors import ReachabilityError
from ..plan import extravars
from ..plan.options import RunOptions
from ..plan.runplan import RunPlan
from ..results import smoke, state
from ..results.report import REPORT_JSON, RunReport
from ..state import rundir
from ..state.records import atomic_write_text
from ..views.console import LiveView, print_summary
from . import interrupts
from .preflight import strict_preflight
from .runner import run_playbook
from .scratch import Scratch


def _record(report: RunReport, run_dir: Path, console: Console, as_json: bool = False) -> int:
    """Write the run's records (signals held back meanwhile), then move ``latest`` to it; with
    ``--json``, report.json as written goes to stdout (the console writes to stderr then)."""
    with interrupts.deferred():
        report.write(run_dir)
        data = report.to_dict()
        for warning in state.record_run(data):
            console.print(f"warning: {warning}", style="yellow", markup=False)
        rundir.mark_latest(run_dir)
        rundir.release(run_dir)
    print_summary(console, data, str(run_dir))
    if as_json:
        sys.stdout.write((run_dir / REPORT_JSON).read_text(encoding="utf-8") + "\n")
    return report.exit_code()


def _interrupted_before_run(report: RunReport, run_dir: Path, console: Console, signal_name: str,
                            as_json: bool = False) -> int:
    report.interrupted = True
    report.warnings.append(f"interrupted by {signal_name} before the playbook started: no host was changed")
    report.finish(None, "interrupted", 0.0)
    return _record(report, run_dir, console, as_json)


def _start(plan: RunPlan, report: RunReport) -> tuple[Path, RunOptions]:
    """The run counts from here: its run directory (rotating the older ones) and, for a retry, the exact
    host list as a limit file."""
    if plan.run_dir is not None:
        rundir.rotate(plan.run_dir.parent, plan.keep_runs)
    run_dir = plan.run_dir or rundir.create(plan.runs_dir, plan.keep_runs)
    report.run_id = run_dir.name
    options = plan.options
    if plan.retry_of is not None:
        limit_file = run_dir / "hosts.limit"
        atomic_write_text(limit_file, "".join(f"{h}\n" for h in plan.targeted))
        options = replace(options, limit=f"@{limit_file}")
    report.options.update(plan.rollout)
    if plan.retry_of is not None:
        report.options["retry_of"] = plan.retry_of
    return run_dir, options


def execute(plan: RunPlan, console: Console) -> int:
    """Run the plan; the exit code its report comes to."""
    report = RunReport(run_id="", action=plan.action, inventory=str(plan.inventory), options=plan.options.public(),
                       targeted=list(plan.targeted))
    report.warnings += plan.warnings
    for warning in report.warnings:
        console.print(f"WARNING: {warning}", style="yellow", markup=False)
    try:
        probes = strict_preflight(plan, console)
    except KeyboardInterrupt as exc:
        run_dir = plan.run_dir or rundir.create(plan.runs_dir, plan.keep_runs)
        report.run_id = run_dir.name
        console.print("interrupted during the reachability pre-flight", style="yellow", markup=False)
        return _interrupted_before_run(report, run_dir, console, interrupts.name(exc), plan.as_json)
    if left_out := sorted(p.name for p in probes if not p.ok):
        rundir.discard(plan.run_dir)
        raise ReachabilityError(f"{len(left_out)} host(s) failed the reachability pre-flight (--probe-strict): "
                                f"{', '.join(left_out)}; nothing was run")
    run_dir, options = _start(plan, report)
    console.print(f"autoglm-provision {plan.action}: {plan.host_count} host(s) from {plan.inventory}; "
                  f"run {run_dir.name}", markup=False)
    cli_vars = {"autoglm_action": plan.action, "autoglm_run_dir": str(run_dir), **plan.rollout,
                # the reachability play of site/smoke: on unless --no-probe, or already done (strict)
                "autoglm_reachability": plan.reachability_play and not probes}
    if plan.action == "smoke":
        cli_vars["gpu_smoke_level"] = plan.smoke_level
    try:
        _play(plan, options, [extravars.Item("mapping", "(autoglm-provision)", cli_vars), *plan.items],
              report, run_dir, console)
    except KeyboardInterrupt as exc:  # before ansible-playbook started, or while cleaning up after it
        if report.status == "running":
            return _interrupted_before_run(report, run_dir, console, interrupts.name(exc), plan.as_json)
        report.interrupted = True
    report.record_fleet(smoke.judge_run(run_dir, plan.slow_threshold, hosts=[*report.hosts, *plan.targeted]))
    return _record(report, run_dir, console, plan.as_json)


def _play(plan: RunPlan, options: RunOptions, items: list, report: RunReport, run_dir: Path,
          console: Console) -> None:
    """The playbook itself: each event goes to the report first, then to the live view."""
    with Scratch() as scratch:
        if scratch.swept:
            console.print(scratch.swept_warning(), style="yellow", markup=False)
        private_files = extravars.handed_to_ansible(items, specs.variable_types(), scratch.path)
        options = replace(options, extra_vars_args=private_files)
        with LiveView(report, console, options.verbosity) as view:
            def events(event: dict) -> None:
                report.handle_event(event)
                view(event)

            outcome = run_playbook(playbook=plan.playbook, inventory=list(plan.sources), host_count=plan.host_count,
                                   options=options, run_id=report.run_id, run_dir=run_dir,
                                   control_dir=scratch.control_dir, events=events)
        if outcome.interrupted:
            report.interrupted = True
            report.warnings.append(outcome.interrupted)
        if outcome.unreadable_events:
            report.warnings.append(outcome.unreadable_events)
        if outcome.early_error and not report.hosts:  # checked before finish(), which adds the hosts not run
            report.warnings.append("ansible-playbook failed before the first task; Ansible said:\n"
                                   + outcome.early_error)
        report.finish(outcome.rc, outcome.status, outcome.duration_s)
