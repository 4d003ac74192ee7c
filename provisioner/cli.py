"""``autoglm-provision``: a thin CLI. Each action validates input, then runs one playbook."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console

from . import deps, extravars, guards, interrupts, paths, rundir, safety, selection, specs
from .errors import (
    EXIT_INTERRUPTED,
    EXIT_MEANINGS,
    EXIT_OK,
    EXIT_TOOL_ERROR,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    InventoryError,
    ProvisionerError,
    ReachabilityError,
    UsageError,
)
from .inventory.patterns import select
from .records import RecordError, atomic_write_text
from .results import state
from .results.report import HostResult, RunReport, load
from .results.smoke import DEFAULT_THRESHOLD, compare_fleet
from .rules.rollout import parse_batch, parse_threshold
from .runner import RunOptions, run_playbook
from .scratch import Scratch
from .validate import ValidationResult, validate
from .views.console import make_console, print_summary, status_table

ACTIONS = {"site": "site.yml", "check": "check.yml", "smoke": "smoke.yml"}
COMMANDS = ("site", "validate", "check", "smoke", "status", "report")
SMOKE_LEVELS = ("quick", "standard", "burn")
EXIT_CODES = "exit codes:\n" + "".join(f"  {code:<4} {meaning}\n" for code, meaning in EXIT_MEANINGS.items())


def _add_rollout_flags(parser: argparse.ArgumentParser) -> None:
    rollout = parser.add_argument_group(
        "rollout", "Batches are Ansible's `serial`; the threshold is Ansible's `max_fail_percentage`. Both may "
        "also be set in the inventory (autoglm_batch, autoglm_max_fail_percentage under all: vars); "
        "the flags win.")
    rollout.add_argument("--batch", metavar="SIZES",
                         help="hosts per batch: a number (10), a percentage (25%%), or a canary list "
                              "(1,10%%,100%%: one host first, then 10%% of the hosts, then the rest, the "
                              "last size repeating). A batch in which every host fails stops the rollout.")
    rollout.add_argument("--max-fail-percentage", type=int, metavar="N",
                         help="stop the rollout when MORE than N%% of the hosts of a batch fail: the "
                              "threshold must be exceeded, not equalled (N=0 stops on the first failure; "
                              "N=25 in a batch of 4 stops at 2 failures, not at 1)")
    rollout.add_argument("--no-probe", dest="probe", action="store_false",
                         help="skip the SSH reachability pre-flight (by default every SSH host is probed in "
                              "parallel first; hosts that fail it are reported and left out of the run)")
    rollout.add_argument("--probe-strict", action="store_true",
                         help="stop before the run (exit 4) when any host fails the reachability pre-flight")
    rollout.add_argument("--retry-failed", nargs="?", const=rundir.LATEST, metavar="RUN",
                         help="run only the hosts that failed, were unreachable, were not reached or "
                              "were cut short by an interruption in RUN (default: the latest run)")


def _add_inventory_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--inventory", dest="more_inventories", action="append", default=[], type=Path,
                        metavar="SOURCE", help="one more inventory source (file, directory or plugin "
                        "configuration), as ansible-playbook -i; repeatable")


def _sources(args: argparse.Namespace) -> list[Path]:
    """The positional inventory and every -i, as Ansible takes them; a UsageError for a missing one."""
    sources = [p for p in (args.inventory, *getattr(args, "more_inventories", [])) if p is not None]
    for source in sources:
        if not source.exists():
            raise UsageError(f"inventory {source}: no such file or directory")
    return sources


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    _add_inventory_flag(parser)
    ansible = parser.add_argument_group("ansible-playbook options (passed through)")
    ansible.add_argument("-C", "--check", action="store_true", help="dry run: change nothing")
    ansible.add_argument("-D", "--diff", action="store_true", help="show file differences")
    ansible.add_argument("-l", "--limit", help="only these hosts/groups (Ansible pattern)")
    ansible.add_argument("-t", "--tags", help="only tasks with these tags")
    ansible.add_argument("--skip-tags", help="skip tasks with these tags")
    ansible.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                         help="key=value, YAML/JSON mapping, or @file (repeatable)")
    ansible.add_argument("-f", "--forks", type=int, help="parallel hosts (default: sized to the inventory)")
    ansible.add_argument("--private-key", "--key-file", dest="private_key", help="SSH private key file")
    ansible.add_argument("-u", "--user", help="SSH user")
    ansible.add_argument("-K", "--ask-become-pass", action="store_true", help="prompt for the sudo password")
    ansible.add_argument("--ask-vault-pass", action="store_true", help="prompt for the vault password")
    ansible.add_argument("--vault-password-file", help="vault password file")
    ansible.add_argument("-v", "--verbose", action="count", default=0, help="more output (-vvv: ansible's own)")
    runs = parser.add_argument_group("run records")
    runs.add_argument("--run-dir", type=Path, help=f"where run directories go (default {paths.runs_dir()})")
    runs.add_argument("--keep-runs", type=guards.keep_count, default=rundir.DEFAULT_KEEP,
                      help="run directories to keep (older ones are deleted; 0 keeps all)")
    runs.add_argument("--plain", action="store_true", help="plain output even on a terminal")
    runs.add_argument("--slow-threshold", type=guards.fraction, default=DEFAULT_THRESHOLD, metavar="FRACTION",
                      help="flag GPUs this far below the median of their SKU in the run (default 0.10)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoglm-provision",
        description="Provision Open-AutoGLM GPU hosts (Ubuntu 22.04) with Ansible. "
                    "`autoglm-provision INVENTORY` is `autoglm-provision site INVENTORY`.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    site = sub.add_parser("site", help="provision hosts (default)", epilog=EXIT_CODES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    site.add_argument("inventory", type=Path)
    _add_run_flags(site)
    _add_rollout_flags(site)
    val = sub.add_parser("validate", help="validate an inventory; no host is contacted", epilog=EXIT_CODES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    val.add_argument("inventory", type=Path)
    _add_inventory_flag(val)
    val.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS")
    val.add_argument("--json", action="store_true", help="problems as JSON")
    check = sub.add_parser("check", help="read-only qualification (preflight, BIOS, GPU smoke quick); "
                           "without INVENTORY it checks this machine", epilog=EXIT_CODES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("inventory", type=Path, nargs="?")
    _add_run_flags(check)
    smoke = sub.add_parser("smoke", help="run the GPU smoke test alone; without INVENTORY on this machine",
                           epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    smoke.add_argument("inventory", type=Path, nargs="?")
    smoke.add_argument("--level", choices=SMOKE_LEVELS, default="standard", help="smoke test depth")
    _add_run_flags(smoke)
    _add_rollout_flags(smoke)
    status = sub.add_parser("status", help="per-host state across runs: which hosts are ready")
    status.add_argument("inventory", type=Path)
    _add_inventory_flag(status)
    status.add_argument("--json", action="store_true", help="the records as JSON")
    status.add_argument("-l", "--limit", help="only these hosts/groups (Ansible pattern)")
    status.add_argument("--plain", action="store_true", help="plain output even on a terminal")
    rep = sub.add_parser("report", help="print an earlier run's summary again")
    rep.add_argument("run", nargs="?", default="latest", help="run id, id prefix, path, or 'latest'")
    rep.add_argument("--run-dir", type=Path, help=f"where run directories are (default {paths.runs_dir()})")
    rep.add_argument("--json", action="store_true", help="print report.json")
    rep.add_argument("--plain", action="store_true", help="plain output even on a terminal")
    rep.add_argument("--html", nargs="?", const="", metavar="PATH",
                     help="write the self-contained HTML sign-off report (default: RUN/report.html)")
    rep.add_argument("--slow-threshold", type=guards.fraction, default=0.10, metavar="FRACTION",
                     help="flag GPUs this far below their SKU's fleet median (default 0.10)")
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    """A bare inventory path means the default action, ``site``."""
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        return ["site", *argv]
    return argv


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
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n", mode=0o644)
    return path


def _options(args: argparse.Namespace) -> RunOptions:
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


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    result = validate(_sources(args), args.extra_vars)
    if args.json:
        print(json.dumps({"inventory": str(args.inventory), "hosts": len(result.inventory.hosts),
                          "valid": not result.errors,
                          "problems": [p.__dict__ for p in result.problems]}, indent=2, default=str))
    else:
        _print_problems(console, result, args.inventory)
    return EXIT_USAGE if result.errors else EXIT_OK


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


def _fleet_view(report: RunReport, run_dir: Path, threshold: float) -> None:
    """Compare each host's smoke figures with the median of its SKU in this run: a slow node is a
    faulty node, even when it passes its own per-SKU floor."""
    smoke_dir = run_dir / "smoke"
    reports = {}
    for path in sorted(smoke_dir.glob("*.json")) if smoke_dir.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            report.warnings.append(f"unreadable smoke result {path}: {exc}")
            continue
        gpus = data.get("gpus", []) if isinstance(data, dict) else None
        if isinstance(gpus, list) and all(isinstance(g, dict) and isinstance(g.get("figures") or {}, dict)
                                          for g in gpus):
            reports[path.stem] = data
        else:
            report.warnings.append(f"smoke result {path} is not a smoke report (an object with a gpus list)")
    if not reports:
        return
    report.fleet = compare_fleet(reports, threshold)
    for host, view in report.fleet.items():
        for flag in view.get("flags", []):
            report.warnings.append(
                f"SLOW NODE {host} GPU {flag['gpu']} ({flag['sku']}): {flag['figure']} {flag['value']:.1f} is "
                f"{flag['deficit']:.0%} below the median {flag['median']:.1f} of {flag['peers']} same-SKU GPUs "
                f"in this run (threshold {threshold:.0%})")


def _probe(args: argparse.Namespace, options: RunOptions, result: ValidationResult, targeted: list[str],
           console: Console, items: list) -> list:
    """SSH reachability pre-flight of the targeted SSH hosts (site and smoke rollouts)."""
    if not getattr(args, "probe", False):
        return []
    from . import probe, reachability

    hosts = probe.ssh_hosts(result.inventory, targeted)
    if not hosts:
        return []
    started = time.monotonic()
    types = {name: spec.type for name, spec in specs.load_specs(paths.ROLES).items()}
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


def _record(report: RunReport, run_dir: Path, console: Console) -> int:
    """Write the run's records (signals held back meanwhile), then move ``latest`` to it."""
    with interrupts.deferred():
        report.write(run_dir)
        data = report.to_dict()
        for warning in state.record_run(data):
            console.print(f"warning: {warning}", style="yellow", markup=False)
        rundir.mark_latest(run_dir)
        rundir.release(run_dir)
    print_summary(console, data, str(run_dir))
    return report.exit_code()


def _interrupted_before_run(report: RunReport, run_dir: Path, console: Console, signal_name: str) -> int:
    report.interrupted = True
    report.warnings.append(f"interrupted by {signal_name} before the playbook started: no host was changed")
    report.finish(None, "interrupted", 0.0)
    return _record(report, run_dir, console)


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    action = args.command
    sources = _sources(args)
    options = _options(args)
    deps.check_collections()  # a missing collection is named before anything runs (exit 2)
    items = extravars.parse(options.extra_vars, [])  # what does not parse, validation reports
    guards.check_extra_vars(action, items)
    options.extra_vars_public = extravars.public(items)
    run_dir = None
    if args.inventory is None:  # check/smoke this machine: the generated inventory lives in the run dir
        run_dir = rundir.create(args.run_dir, args.keep_runs)
    try:
        inventory = (args.inventory or _local_inventory(run_dir, action)).resolve()
        sources = [inventory, *[s.resolve() for s in sources[1:]]]
        result = validate(sources, options.extra_vars)
    except BaseException:
        _discard(run_dir)
        raise
    if result.errors:
        _discard(run_dir)
        _print_problems(console, result, inventory)
        raise InventoryError(result.problems)
    for warning in result.warnings:
        console.print(warning.render(), style="yellow", markup=False)
    _check_limit(options.limit, result)
    selection.check_tags(options.tags, options.skip_tags, paths.PLAYBOOKS / ACTIONS[action])
    rollout = _rollout_vars(args, result)
    retry = None
    if getattr(args, "retry_failed", None):
        if options.limit:
            raise UsageError("--retry-failed picks the hosts itself: drop --limit")
        retry = _retry_hosts(args.retry_failed, args.run_dir, inventory, console)
        if not retry:
            console.print("nothing to retry: every host of that run was ok", markup=False)
            return EXIT_OK
    targeted = select(result.inventory, options.limit, retry)
    if not targeted:
        why = f"the hosts to retry ({', '.join(retry[:5])})" if retry else f"--limit {options.limit!r}"
        raise UsageError(f"{why}: no such host in {inventory}; nothing was run")
    report = RunReport(run_id="", action=action, inventory=str(inventory), options=options.public(),
                       targeted=targeted)
    report.warnings += extravars.command_line_secrets(items)
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
        return _interrupted_before_run(report, run_dir, console, interrupts.name(exc))
    left_out = {r.name for r in probes if not r.ok}
    if left_out and args.probe_strict:
        raise ReachabilityError(f"{len(left_out)} host(s) failed the reachability pre-flight (--probe-strict): "
                                f"{', '.join(sorted(left_out))}; nothing was run")
    run_dir = run_dir or rundir.create(args.run_dir, args.keep_runs)
    report.run_id = run_dir.name
    if retry is not None or left_out:  # the exact host list goes to Ansible as a limit file
        limit_file = run_dir / "hosts.limit"
        atomic_write_text(limit_file, "".join(f"{h}\n" for h in targeted if h not in left_out))
        options.limit = f"@{limit_file}"
    extravars_cli = {"autoglm_action": action, "autoglm_run_dir": str(run_dir), **rollout}
    if action == "smoke":
        extravars_cli["gpu_smoke_level"] = args.level
    report.options.update({k: v for k, v in rollout.items()})
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
        return _record(report, run_dir, console)
    console.print(f"autoglm-provision {action}: {len(result.inventory.hosts)} host(s) from {inventory}; "
                  f"run {run_dir.name}", markup=False)
    types = {name: spec.type for name, spec in specs.load_specs(paths.ROLES).items()}
    try:
        with Scratch() as scratch:
            cli_vars = extravars.Item("mapping", "(autoglm-provision)", extravars_cli)
            options.extra_vars_args = extravars.handed_to_ansible([cli_vars, *items], types, scratch.path)
            run_playbook(playbook=paths.PLAYBOOKS / ACTIONS[action], inventory=sources,
                         host_count=len(result.inventory.hosts), options=options, report=report,
                         run_dir=run_dir, console=console, control_dir=scratch.control_dir)
    except KeyboardInterrupt as exc:  # before ansible-playbook started, or while cleaning up after it
        if report.status == "running":
            return _interrupted_before_run(report, run_dir, console, interrupts.name(exc))
        report.interrupted = True
    _fleet_view(report, run_dir, getattr(args, "slow_threshold", DEFAULT_THRESHOLD))
    return _record(report, run_dir, console)


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    result = validate(_sources(args))
    if result.errors:
        _print_problems(console, result, args.inventory)
        raise InventoryError(result.problems)
    _check_limit(args.limit, result)
    problems: list[str] = []
    rows = state.status_rows(select(result.inventory, args.limit), problems=problems)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        console.print(status_table(rows))
        ready = sum(bool(r.get("ready")) for r in rows)
        console.print(f"{ready} of {len(rows)} host(s) ready", markup=False)
    for problem in problems:
        print(f"error: {problem} (the other hosts are shown; a run of this host rewrites it)", file=sys.stderr)
    return EXIT_USAGE if problems else EXIT_OK


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    run = rundir.resolve(args.run, args.run_dir)
    data = load(run)
    try:
        if args.html is not None:
            from .views.html import write_html

            out = write_html(run, Path(args.html) if args.html else None, slow_threshold=args.slow_threshold)
            console.print(f"HTML report: {out}", markup=False)
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            print_summary(console, data, str(run))
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or args.html}: {exc.strerror or exc}") from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise RecordError(f"report {run / 'report.json'} has an unexpected shape ({type(exc).__name__}: "
                          f"{str(exc)[:120]}): it was edited or damaged") from None
    return int(data.get("exit_code", EXIT_TOOL_ERROR))


def main(argv: list[str] | None = None) -> int:
    interrupts.install()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        guards.unknown_command(argv, COMMANDS)
        args = parser.parse_args(_normalise_argv(argv))
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"autoglm-provision: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    console = make_console(force_plain=getattr(args, "plain", False))
    try:
        if args.command == "validate":
            return cmd_validate(args, console)
        if args.command == "report":
            return cmd_report(args, console)
        if args.command == "status":
            return cmd_status(args, console)
        return cmd_run(args, console)
    except InventoryError as exc:
        console.print(f"error: {exc}; nothing was run", style="red", markup=False)
        return exc.exit_code
    except ProvisionerError as exc:
        console.print(f"error: {exc}", style="red", markup=False)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        console.print(f"interrupted by {interrupts.name(exc)}: nothing was run", style="yellow", markup=False)
        return EXIT_INTERRUPTED
    except EOFError:  # a password prompt with no terminal
        console.print("error: a password prompt got no input (no terminal?)", style="red")
        return EXIT_USAGE
    except Exception as exc:  # a bug: one line, the traceback only on request
        if os.environ.get("AUTOGLM_DEBUG"):
            raise
        console.print(f"internal error (a bug; AUTOGLM_DEBUG=1 shows the traceback): {type(exc).__name__}: "
                      f"{str(exc)[:300]}", style="red", markup=False)
        return EXIT_TOOL_ERROR


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main", "build_parser", "EXIT_UNREACHABLE"]
