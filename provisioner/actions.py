"""The use cases behind the commands: validate, run (site, check, smoke), report, wheelhouse. One
small function per command, each taking the parsed arguments and the console; the CLI maps their
errors to exit codes. A run is planned first (:mod:`provisioner.plan`: nothing is contacted until
the plan is complete), then executed (:mod:`provisioner.run`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from .errors import EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE, UsageError
from .plan.prepare import parse_timeout, prepare, print_problems, sources_of
from .plan.validate import validate as validate_inventory
from .results.report import load
from .run.execute import execute
from .stack import locks
from .state import rundir
from .state.records import RecordError
from .views.console import print_summary


def validate(args: argparse.Namespace, console: Console) -> int:
    result = validate_inventory(sources_of(args), args.extra_vars, parse_timeout_s=parse_timeout(args))
    if args.json:
        print(json.dumps({"inventory": str(args.inventory), "hosts": len(result.inventory.hosts),
                          "valid": not result.errors,
                          "problems": [p.__dict__ for p in result.problems]}, indent=2, default=str))
    else:
        print_problems(console, result, args.inventory)
    return EXIT_USAGE if result.errors else EXIT_OK


def run(args: argparse.Namespace, console: Console) -> int:
    """site, check, smoke: the plan (validated input, selected hosts), then the run."""
    plan = prepare(args, console)
    return execute(plan, console) if plan is not None else EXIT_OK


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
