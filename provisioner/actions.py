"""The use cases behind the commands: validate, run (site, check, smoke), status, report, wheelhouse.
One function per command, each taking the parsed arguments and the console; the CLI maps their
errors to exit codes. A run is one sequence: validate, select the hosts, probe them, run the
playbook (its events feed the report, then the live view), judge the fleet, record."""

from __future__ import annotations

import argparse
import getpass
import json
import re
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console

from . import paths, specs
from .errors import EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE, InventoryError, ReachabilityError, UsageError
from .inventory.inventory import is_host_list
from .inventory.patterns import select
from .plan import deps, extravars, guards, safety, selection
from .plan.validate import ValidationResult
from .plan.validate import validate as validate_inventory
from .records import RecordError, atomic_write_text
from .results import smoke, state
from .results.report import REPORT_JSON, HostResult, RunReport, load
from .rules.rollout import parse_batch, parse_threshold
from .run import interrupts, orphans, rundir
from .run.runner import RunOptions, run_playbook
from .run.scratch import Scratch
from .stack import locks
from .views.console import LiveView, print_summary

PLAYBOOKS = {"site": "site.yml", "check": "check.yml", "smoke": "smoke.yml"}
LOCAL_HOST = "localhost"  # this machine, in the inventory a run without one writes (status shows it)


def _sources(args: argparse.Namespace) -> list[Path]:
    """The positional inventory and every -i, as Ansible takes them; a UsageError for a missing one."""
    sources = [p for p in (args.inventory, *getattr(args, "more_inventories", [])) if p is not None]
    for source in sources:
        if not source.exists() and not is_host_list(source):
            raise UsageError(f"inventory {source}: no such file or directory")
    return sources


def _print_problems(console: Console, result: ValidationResult, inventory: Path) -> None:
    for problem in result.problems:
        style = "red" if problem.severity == "error" else "yellow"
        console.print(problem.render(), style=style, markup=False)
    errors, warnings = len(result.errors), len(result.warnings)
    verdict = "invalid" if errors else "valid"
    console.print(f"{inventory}: {verdict} — {len(result.inventory.hosts)} hosts, "
                  f"{errors} error(s), {warnings} warning(s)", markup=False)


def _check_limit(limit: str | None, result: ValidationResult) -> None:
    """A --limit that selects no host, or names nothing in one of its terms, is an input error."""
    for term in re.split(r"[,:]", limit or ""):
        if term.lstrip("&!").startswith("~"):
            try:
                re.compile(term.lstrip("&!")[1:])
            except re.error as exc:
                raise UsageError(f"--limit {limit!r}: {term!r} is not a valid regular expression ({exc}); "
                                 "allowed: ~REGEX with Python regex syntax") from None
    selection.check_limit(limit, result.inventory)


def _local_inventory(run_dir: Path, action: str) -> Path:
    path = run_dir / "inventory.yml"
    atomic_write_text(
        path, f"# written by `autoglm-provision {action}` with no inventory: this machine, local connection\n"
        f"all:\n  hosts:\n    {LOCAL_HOST}:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n")
    return path


def _options(args: argparse.Namespace) -> RunOptions:
    guards.check_probe_flags(args)
    become = getpass.getpass("BECOME password: ") if args.ask_become_pass else None
    vault = getpass.getpass("Vault password: ") if args.ask_vault_pass else None
    if args.vault_password_file and not Path(args.vault_password_file).exists():
        raise UsageError(f"--vault-password-file {args.vault_password_file}: no such file")
    if args.private_key and not Path(args.private_key).expanduser().exists():
        raise UsageError(f"--private-key {args.private_key}: no such file")
    if args.forks is not None and args.forks < 1:
        raise UsageError(f"--forks {args.forks}: must be 1 or more")
    return RunOptions(check=args.check, diff=args.diff, limit=args.limit, tags=args.tags,
                      skip_tags=args.skip_tags, extra_vars=args.extra_vars, forks=args.forks,
                      private_key=args.private_key, user=args.user, verbosity=args.verbose,
                      become_password=become, vault_password=vault,
                      vault_password_file=args.vault_password_file)


def _rollout_vars(args: argparse.Namespace, result: ValidationResult) -> dict:
    """Batch and threshold from the flags, else from the inventory's ``all`` vars."""
    if not hasattr(args, "batch"):
        return {}
    inventory_vars = result.inventory.groups["all"].vars if "all" in result.inventory.groups else {}
    extravars: dict[str, object] = {}
    where = {name: f"{name} ({var.file}:{var.line})" for name, var in inventory_vars.items()
             if name in ("autoglm_batch", "autoglm_max_fail_percentage")}
    batch_source = "--batch" if args.batch is not None else where.get("autoglm_batch", "autoglm_batch")
    raw = args.batch if args.batch is not None else getattr(inventory_vars.get("autoglm_batch"), "value", None)
    if (batch := parse_batch(raw, batch_source)) is not None:
        extravars["autoglm_batch"] = batch
    threshold_source = "--max-fail-percentage" if args.max_fail_percentage is not None \
        else "autoglm_max_fail_percentage"
    raw = args.max_fail_percentage if args.max_fail_percentage is not None \
        else getattr(inventory_vars.get("autoglm_max_fail_percentage"), "value", None)
    if (threshold := parse_threshold(raw, threshold_source)) is not None:
        extravars["autoglm_max_fail_percentage"] = threshold
    return extravars


def _caps_outside_all(args: argparse.Namespace, result: ValidationResult, extra: set[str]) -> None:
    """A rollout cap that a group or host sets, unlike ``all``'s: the run passes only ``all``'s (Ansible's
    serial cannot differ by host), and playbooks/rollout_caps.yml would stop the run at its start."""
    caps = {"autoglm_batch": args.batch, "autoglm_max_fail_percentage": args.max_fail_percentage}
    all_vars = result.inventory.groups["all"].vars if "all" in result.inventory.groups else {}
    for name in (n for n, flag in caps.items() if flag is None and n not in extra):
        ours = (all_vars[name].file, all_vars[name].line) if name in all_vars else None
        for host in result.inventory.hosts:
            var = result.inventory.merged[host].get(name)
            if var is not None and (var.file, var.line) != ours:
                raise UsageError(f"{var.file}:{var.line or '?'}, host {host}, variable {name}: {var.value!r} is set "
                                 "for some hosts only; a rollout cap applies to the whole run: allowed: under all: "
                                 f"vars, or --{name.removeprefix('autoglm_').replace('_', '-')}; nothing was run")


def _retry_hosts(ref: str, base: Path | None, inventory: Path, console: Console) -> list[str]:
    previous = load(rundir.resolve(ref, base))
    hosts = [h for h, r in previous["hosts"].items()
             if r["status"] in ("failed", "unreachable", "not_run", "interrupted")]
    if previous.get("inventory") and Path(previous["inventory"]) != inventory:
        console.print(f"warning: run {previous['run_id']} used inventory {previous['inventory']}, "
                      f"this run uses {inventory}", style="yellow", markup=False)
    console.print(f"retrying {len(hosts)} host(s) from run {previous['run_id']}: {', '.join(hosts) or 'none'}",
                  markup=False)
    return hosts


def _probe(args: argparse.Namespace, options: RunOptions, result: ValidationResult, targeted: list[str],
           console: Console, items: list) -> list:
    """The separate SSH reachability pre-flight, for --probe-strict only: nothing runs unless every
    targeted SSH host passes. Otherwise the playbook's own first play (reachability.yml) probes the
    hosts inside the run, without a second ansible-playbook process (bench/README.md: its cost)."""
    if not (getattr(args, "probe", False) and getattr(args, "probe_strict", False)):
        return []
    from . import reachability
    from .run import probe

    hosts = probe.ssh_hosts(result.inventory, targeted)
    if not hosts:
        return []
    started = time.monotonic()
    types = _types()
    with Scratch() as scratch:  # -e values as private files, as for the run itself
        probes = probe.probe_with_ansible(result.inventory, hosts, options,
                                          extravars.handed_to_ansible(items, types, scratch.path))
    failed = [p for p in probes if not p.ok]
    console.print(f"reachability pre-flight: {len(probes) - len(failed)} of {len(probes)} SSH host(s) ready "
                  f"in {time.monotonic() - started:.1f} s", markup=False)
    if failed:
        console.print(reachability.render_table(probes))
    return probes


def _discard(run_dir: Path | None) -> None:
    """A run directory made for a run that never started (its input was refused) goes again."""
    if run_dir is not None:
        rundir.release(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


def _types() -> dict:
    return {name: spec.type for name, spec in specs.load_specs(paths.ROLES).items()}


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


def validate(args: argparse.Namespace, console: Console) -> int:
    result = validate_inventory(_sources(args), args.extra_vars)
    if args.json:
        print(json.dumps({"inventory": str(args.inventory), "hosts": len(result.inventory.hosts),
                          "valid": not result.errors,
                          "problems": [p.__dict__ for p in result.problems]}, indent=2, default=str))
    else:
        _print_problems(console, result, args.inventory)
    return EXIT_USAGE if result.errors else EXIT_OK


def _validated(args: argparse.Namespace, sources: list[Path], options: RunOptions, run_dir: Path | None,
               console: Console) -> tuple[Path, list[Path], ValidationResult]:
    """The run's inventory sources, validated: any error stops the run before a host is contacted."""
    inventory = args.inventory or _local_inventory(run_dir, args.command)
    inventory = inventory if is_host_list(inventory) else inventory.resolve()
    sources = [inventory, *[s if is_host_list(s) else s.resolve() for s in sources[1:]]]
    result = validate_inventory(sources, options.extra_vars)
    if result.errors:
        _print_problems(console, result, inventory)
        raise InventoryError(result.problems)
    for warning in result.warnings:
        console.print(warning.render(), style="yellow", markup=False)
    _check_limit(options.limit, result)
    selection.check_tags(options.tags, options.skip_tags, paths.PLAYBOOKS / PLAYBOOKS[args.command])
    return inventory, sources, result


def _targets(args: argparse.Namespace, options: RunOptions, result: ValidationResult, inventory: Path,
             console: Console) -> tuple[list[str] | None, list[str] | None]:
    """The hosts to retry (None: no --retry-failed) and the hosts the run targets (None: nothing to
    retry); a UsageError when the selection names no host."""
    retry = None
    if getattr(args, "retry_failed", None):
        if options.limit:
            raise UsageError("--retry-failed picks the hosts itself: drop --limit")
        retry = _retry_hosts(args.retry_failed, args.run_dir, inventory, console)
        if not retry:
            console.print("nothing to retry: every host of that run was ok", markup=False)
            return retry, None
    targeted = select(result.inventory, options.limit, retry)
    if not targeted:
        why = f"the hosts to retry ({', '.join(retry[:5])})" if retry else f"--limit {options.limit!r}"
        raise UsageError(f"{why}: no such host in {inventory}; nothing was run")
    return retry, targeted


def run(args: argparse.Namespace, console: Console) -> int:
    """site, check, smoke: validate, select, probe, run the playbook, judge the fleet, record."""
    action, as_json = args.command, getattr(args, "json", False)
    state.check_hosts_dir()  # a state dir another user could write is refused before anything runs
    sources = _sources(args)
    options = _options(args)
    deps.check_collections()  # a missing collection is named before anything runs (exit 2)
    items = extravars.parse(options.extra_vars, [])  # what does not parse, validation reports
    guards.check_extra_vars(action, items)
    options.extra_vars_public = extravars.public(items)
    # check/smoke this machine: the generated inventory lives in the run dir, which goes again
    # (and rotates nothing) if the run is refused before it starts
    run_dir = rundir.create(args.run_dir, args.keep_runs, rotate_now=False) if args.inventory is None else None
    try:
        inventory, sources, result = _validated(args, sources, options, run_dir, console)
        rollout = _rollout_vars(args, result)
        if hasattr(args, "batch"):
            _caps_outside_all(args, result, {name for item in items for name in item.values})
        retry, targeted = _targets(args, options, result, inventory, console)
    except BaseException:
        _discard(run_dir)
        raise
    if targeted is None:
        _discard(run_dir)
        return EXIT_OK
    report = RunReport(run_id="", action=action, inventory=str(inventory), options=options.public(),
                       targeted=targeted)
    report.warnings += extravars.command_line_secrets(items) + orphans.leftover_warnings()
    report.warnings += safety.host_key_warnings(result.inventory, targeted,
                                                {k: v.value for k, v in result.extra_vars.items()},
                                                project_dir=paths.COLLECTION)
    for warning in report.warnings:
        console.print(f"WARNING: {warning}", style="yellow", markup=False)
    try:
        probes = _probe(args, options, result, targeted, console, items)
    except KeyboardInterrupt as exc:
        run_dir = run_dir or rundir.create(args.run_dir, args.keep_runs)
        report.run_id = run_dir.name
        console.print("interrupted during the reachability pre-flight", style="yellow", markup=False)
        return _interrupted_before_run(report, run_dir, console, interrupts.name(exc), as_json)
    left_out = {r.name for r in probes if not r.ok}
    if left_out and args.probe_strict:
        _discard(run_dir)
        raise ReachabilityError(f"{len(left_out)} host(s) failed the reachability pre-flight (--probe-strict): "
                                f"{', '.join(sorted(left_out))}; nothing was run")
    if run_dir is not None:
        rundir.rotate(run_dir.parent, args.keep_runs)  # the run starts: it counts now
    run_dir = run_dir or rundir.create(args.run_dir, args.keep_runs)
    report.run_id = run_dir.name
    if retry is not None or left_out:  # the exact host list goes to Ansible as a limit file
        limit_file = run_dir / "hosts.limit"
        atomic_write_text(limit_file, "".join(f"{h}\n" for h in targeted if h not in left_out))
        options.limit = f"@{limit_file}"
    report.options.update(rollout)
    if retry is not None:
        report.options["retry_of"] = args.retry_failed
    for probe in probes:
        if not probe.ok:  # left out of the run: reported as unreachable, with the probe's reason
            report.hosts[probe.name] = HostResult(unreachable=1, failures=[{
                "task": "reachability pre-flight", "kind": "unreachable",
                "message": f"{probe.category}: {probe.detail} (left out of the run)"}])
    if left_out and len(left_out) == len(targeted):
        console.print("every targeted host failed the reachability pre-flight: nothing to run", markup=False)
        report.finish(None, "failed", 0.0)
        return _record(report, run_dir, console, as_json)
    console.print(f"autoglm-provision {action}: {len(result.inventory.hosts)} host(s) from {inventory}; "
                  f"run {run_dir.name}", markup=False)
    cli_vars = {"autoglm_action": action, "autoglm_run_dir": str(run_dir), **rollout,
                # the reachability play of site/smoke: on unless --no-probe, or already done (strict)
                "autoglm_reachability": bool(getattr(args, "probe", False)) and not probes}
    if action == "smoke":
        cli_vars["gpu_smoke_level"] = args.level
    try:
        _play(args, options, [extravars.Item("mapping", "(autoglm-provision)", cli_vars), *items], sources,
              len(result.inventory.hosts), report, run_dir, console)
    except KeyboardInterrupt as exc:  # before ansible-playbook started, or while cleaning up after it
        if report.status == "running":
            return _interrupted_before_run(report, run_dir, console, interrupts.name(exc), as_json)
        report.interrupted = True
    report.record_fleet(smoke.judge_run(run_dir, getattr(args, "slow_threshold", smoke.DEFAULT_THRESHOLD),
                                        hosts=[*report.hosts, *targeted]))
    return _record(report, run_dir, console, as_json)


def _play(args: argparse.Namespace, options: RunOptions, items: list, sources: list[Path], host_count: int,
          report: RunReport, run_dir: Path, console: Console) -> None:
    """The playbook itself: each event goes to the report first, then to the live view."""
    with Scratch() as scratch:
        options.extra_vars_args = extravars.handed_to_ansible(items, _types(), scratch.path)
        with LiveView(report, console, options.verbosity) as view:
            def events(event: dict) -> None:
                report.handle_event(event)
                view(event)

            outcome = run_playbook(playbook=paths.PLAYBOOKS / PLAYBOOKS[args.command], inventory=sources,
                                   host_count=host_count, options=options, run_id=report.run_id,
                                   run_dir=run_dir, control_dir=scratch.control_dir, events=events)
        if outcome.interrupted:
            report.interrupted = True
            report.warnings.append(outcome.interrupted)
        if outcome.unreadable_events:
            report.warnings.append(outcome.unreadable_events)
        if outcome.early_error and not report.hosts:  # checked before finish(), which adds the hosts not run
            report.warnings.append("ansible-playbook failed before the first task; Ansible said:\n"
                                   + outcome.early_error)
        report.finish(outcome.rc, outcome.status, outcome.duration_s)


def report(args: argparse.Namespace, console: Console) -> int:
    run_dir = rundir.resolve(args.run, args.run_dir)
    data = load(run_dir)
    try:
        if args.html is not None:
            from .views.html import write_html  # noqa: PLC0415 (jinja2 only when asked for)

            out = write_html(run_dir, Path(args.html) if args.html else None, slow_threshold=args.slow_threshold)
            console.print(f"HTML report: {out}", markup=False)
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            print_summary(console, data, str(run_dir))
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or args.html}: {exc.strerror or exc}") from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise RecordError(f"report {run_dir / 'report.json'} has an unexpected shape ({type(exc).__name__}: "
                          f"{str(exc)[:120]}): it was edited or damaged") from None
    return int(data.get("exit_code", EXIT_TOOL_ERROR))


def wheelhouse(args: argparse.Namespace, console: Console) -> int:
    """Fill a directory with a python_venv profile's locked wheels, for air-gapped sites."""
    return locks.fill_wheelhouse(args.profile, Path(args.dir), args.python, args.find_links)
