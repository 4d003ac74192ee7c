"""The use cases that run no playbook and read or write only local files: ``status`` (per-host state
across runs; with no inventory, this machine as a local ``check`` or ``smoke`` recorded it) and
``init DIR`` (a copy of the sample inventory the package ships, to start an inventory from)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from . import paths
from .errors import EXIT_OK, EXIT_USAGE, InventoryError, UsageError
from .inventory.patterns import select
from .plan.prepare import LOCAL_HOST, check_limit, parse_timeout, print_problems, sources_of
from .plan.validate import validate as validate_inventory
from .results import state
from .state import orphans
from .views.console import status_table


def _status_hosts(args: argparse.Namespace, console: Console) -> list[str]:
    """The hosts to show: the inventory's (after --limit), or this machine when there is no inventory."""
    sources = sources_of(args)
    if not sources:
        if args.limit:
            raise UsageError("--limit needs an inventory: without one, status shows this machine only")
        return [LOCAL_HOST]
    result = validate_inventory(sources, parse_timeout_s=parse_timeout(args))
    if result.errors:
        print_problems(console, result, sources[0])
        raise InventoryError(result.problems)
    check_limit(args.limit, result)
    return select(result.inventory, args.limit)


def status(args: argparse.Namespace, console: Console) -> int:
    hosts = _status_hosts(args, console)
    problems: list[str] = []
    rows = state.status_rows(hosts, problems=problems)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        console.print(status_table(rows))
        ready = sum(bool(r.get("ready")) for r in rows)
        console.print(f"{ready} of {len(rows)} host(s) ready", markup=False)
        if not sources_of(args) and rows[0].get("last_run_id") is None:
            console.print(f"this machine ({LOCAL_HOST}) has no record yet: `autoglm-provision check` (no "
                          "inventory) checks it; `autoglm-provision status INVENTORY` shows an inventory's hosts",
                          markup=False)
    for warning in orphans.leftover_warnings():
        print(f"warning: {warning}", file=sys.stderr)
    for problem in problems:
        print(f"error: {problem} (the other hosts are shown; a run of this host rewrites it)", file=sys.stderr)
    return EXIT_USAGE if problems else EXIT_OK


def _sample_files() -> list[Path]:
    """The sample inventory's files, relative to it (no editor or Python leftovers)."""
    root = paths.SAMPLE_INVENTORY
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith((".pyc", "~")))


def init(args: argparse.Namespace, console: Console) -> int:
    """Copy the sample inventory into DIR; a file already there stops it before anything is written."""
    target: Path = args.dir
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target}: exists and is not a directory; nothing was written")
    files = _sample_files()
    if not files:
        raise UsageError(f"the sample inventory {paths.SAMPLE_INVENTORY} is missing from this installation")
    taken = [target / f for f in files if (target / f).exists() or (target / f).is_symlink()]
    if taken:
        raise UsageError(f"{target}: would overwrite {', '.join(str(t) for t in taken)}; nothing was written "
                         "(choose a new or empty directory, or move those files away)")
    for relative in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        with open(destination, "xb") as out:  # never over a file that appeared meanwhile
            out.write((paths.SAMPLE_INVENTORY / relative).read_bytes())
        console.print(f"wrote {destination}", markup=False)
    console.print(f"next: edit {target / 'hosts.yml'} (and group_vars/), then "
                  f"`autoglm-provision validate {target / 'hosts.yml'}`", markup=False)
    return EXIT_OK
