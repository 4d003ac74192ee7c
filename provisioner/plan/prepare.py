"""From the command line to a :class:`RunPlan`: the inventory sources, the options, the -e items
and their guards, validation, the rollout caps, the hosts to target (a --limit, or the hosts a
previous run failed), the warnings. Any error here stops the run before a host is contacted."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from rich.console import Console

from .. import paths
from ..errors import InventoryError, UsageError
from ..inventory.inventory import is_host_list
from ..inventory.patterns import select
from ..results import state
from ..results.report import load
from ..results.smoke import DEFAULT_THRESHOLD
from ..state import orphans, rundir
from ..state.records import atomic_write_text
from . import deadline, deps, extravars, guards, safety, selection
from .options import RunOptions, options_from
from .runplan import RunPlan, action_playbook, check_caps_outside_all, rollout_vars
from .validate import ValidationResult
from .validate import validate as validate_inventory

LOCAL_HOST = "localhost"  # this machine, in the inventory a run without one writes (status shows it)


def sources_of(args: argparse.Namespace) -> list[Path]:
    """The positional inventory and every -i, as Ansible takes them; a UsageError for a missing one."""
    sources = [p for p in (args.inventory, *getattr(args, "more_inventories", [])) if p is not None]
    for source in sources:
        if not source.exists() and not is_host_list(source):
            raise UsageError(f"inventory {source}: no such file or directory")
    return sources


def print_problems(console: Console, result: ValidationResult, inventory: Path) -> None:
    for problem in result.problems:
        style = "red" if problem.severity == "error" else "yellow"
        console.print(problem.render(), style=style, markup=False)
    errors, warnings = len(result.errors), len(result.warnings)
    verdict = "invalid" if errors else "valid"
    console.print(f"{inventory}: {verdict} — {len(result.inventory.hosts)} hosts, "
                  f"{errors} error(s), {warnings} warning(s)", markup=False)


def check_limit(limit: str | None, result: ValidationResult) -> None:
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


def parse_timeout(args: argparse.Namespace) -> float:
    """--parse-timeout: the deadline for reading the input (every command that reads an inventory has it)."""
    return getattr(args, "parse_timeout", deadline.DEFAULT_PARSE_TIMEOUT_S)


def _validated(args: argparse.Namespace, sources: list[Path], options: RunOptions, run_dir: Path | None,
               console: Console) -> tuple[Path, list[Path], ValidationResult]:
    """The run's inventory sources, validated: any error stops the run before a host is contacted."""
    inventory = args.inventory or _local_inventory(run_dir, args.command)
    inventory = inventory if is_host_list(inventory) else inventory.resolve()
    sources = [inventory, *[s if is_host_list(s) else s.resolve() for s in sources[1:]]]
    result = validate_inventory(sources, options.extra_vars, parse_timeout_s=parse_timeout(args))
    if result.errors:
        print_problems(console, result, inventory)
        raise InventoryError(result.problems)
    for warning in result.warnings:
        console.print(warning.render(), style="yellow", markup=False)
    check_limit(options.limit, result)
    selection.check_tags(options.tags, options.skip_tags, action_playbook(args.command))
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


def prepare(args: argparse.Namespace, console: Console) -> RunPlan | None:
    """The plan of a site, check or smoke run; None when there is nothing to run (no host to retry)."""
    state.check_hosts_dir()  # a state dir another user could write is refused before anything runs
    sources = sources_of(args)
    options = options_from(args)
    deps.check_collections()  # a missing collection is named before anything runs (exit 2)
    with deadline.bounded(parse_timeout(args)):  # -e @files are read again, within a deadline, by validation
        items = extravars.parse(options.extra_vars, [])  # what does not parse, validation reports
    guards.check_extra_vars(args.command, items)
    # check/smoke this machine: the generated inventory lives in the run dir, which goes again
    # (and rotates nothing) if the run is refused before it starts
    run_dir = rundir.create(args.run_dir, args.keep_runs, rotate_now=False) if args.inventory is None else None
    try:
        inventory, sources, result = _validated(args, sources, options, run_dir, console)
        rollout = rollout_vars(args, result)
        if hasattr(args, "batch"):
            check_caps_outside_all(args, result, {name for item in items for name in item.values})
        retry, targeted = _targets(args, options, result, inventory, console)
    except BaseException:
        rundir.discard(run_dir)
        raise
    if targeted is None:
        rundir.discard(run_dir)
        return None
    extra_vars = {name: var.value for name, var in result.extra_vars.items()}
    warnings = [*extravars.command_line_secrets(items), *orphans.leftover_warnings(),
                *safety.host_key_warnings(result.inventory, targeted, extra_vars, project_dir=paths.COLLECTION)]
    probe = bool(getattr(args, "probe", False))
    return RunPlan(
        action=args.command, playbook=action_playbook(args.command), inventory=inventory,
        sources=tuple(sources), validation=result, targeted=tuple(targeted),
        options=replace(options, extra_vars_public=extravars.public(items)),
        items=tuple(items), rollout=MappingProxyType(rollout), warnings=tuple(warnings),
        retry_of=args.retry_failed if retry is not None else None, reachability_play=probe,
        strict_preflight=probe and bool(getattr(args, "probe_strict", False)),
        smoke_level=getattr(args, "level", None), slow_threshold=getattr(args, "slow_threshold", DEFAULT_THRESHOLD),
        as_json=getattr(args, "json", False), runs_dir=args.run_dir, keep_runs=args.keep_runs, run_dir=run_dir)
