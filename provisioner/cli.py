"""``autoglm-provision``: the command line. It parses arguments, hands them to the command's use
case in :mod:`provisioner.actions`, and turns what comes back (or is raised) into an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from pathlib import Path

from . import actions, local_commands, paths
from .errors import (
    EXIT_INTERRUPTED,
    EXIT_MEANINGS,
    EXIT_TOOL_ERROR,
    EXIT_USAGE,
    InventoryError,
    ProvisionerError,
    UsageError,
)
from .plan import guards
from .plan.deadline import DEFAULT_PARSE_TIMEOUT_S
from .results.smoke import DEFAULT_THRESHOLD
from .run import interrupts
from .state import rundir
from .state.records import disk_error
from .views.console import make_console

COMMANDS = ("site", "validate", "check", "smoke", "status", "report", "wheelhouse", "init")
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
                         help="skip the reachability play (by default site and smoke start with one module run "
                              "per host through Ansible's connection; hosts that fail it are reported with the "
                              "reason and left out of the run)")
    rollout.add_argument("--probe-strict", action="store_true",
                         help="probe every SSH host first, in a separate run, and stop (exit 4) before anything "
                              "else runs when any fails")
    rollout.add_argument("--retry-failed", nargs="?", const=rundir.LATEST, metavar="RUN",
                         help="run only the hosts that failed, were unreachable, were not reached or "
                              "were cut short by an interruption in RUN (default: the latest run)")


def _add_inventory_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--inventory", dest="more_inventories", action="append", default=[], type=Path,
                        metavar="SOURCE", help="one more inventory source (file, directory or plugin "
                        "configuration), as ansible-playbook -i; repeatable")
    parser.add_argument("--parse-timeout", type=guards.seconds, default=DEFAULT_PARSE_TIMEOUT_S, metavar="SECONDS",
                        help="stop reading the inventory and -e files after this long, exit 2 "
                             f"(default {DEFAULT_PARSE_TIMEOUT_S}; 0: no deadline)")


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
    ansible.add_argument("--private-key", "--key-file", dest="private_key", type=guards.private_key_file,
                         help="SSH private key file")
    ansible.add_argument("-u", "--user", help="SSH user")
    ansible.add_argument("-K", "--ask-become-pass", action="store_true", help="prompt for the sudo password")
    ansible.add_argument("--ask-vault-pass", action="store_true", help="prompt for the vault password")
    ansible.add_argument("--vault-password-file", type=guards.vault_password_file, help="vault password file")
    ansible.add_argument("-v", "--verbose", action="count", default=0, help="more output (-vvv: ansible's own)")
    runs = parser.add_argument_group("run records")
    runs.add_argument("--run-dir", type=Path, help=f"where run directories go (default {paths.runs_dir()})")
    runs.add_argument("--keep-runs", type=guards.keep_count, default=rundir.DEFAULT_KEEP,
                      help="run directories to keep (older ones are deleted; 0 keeps all)")
    runs.add_argument("--plain", action="store_true", help="plain output even on a terminal")
    runs.add_argument("--slow-threshold", type=guards.fraction, default=DEFAULT_THRESHOLD, metavar="FRACTION",
                      help="flag GPUs this far below the median of their SKU in the run (default 0.10)")


def _version() -> str:
    """This tool's version and what it runs (ansible-core, ansible-runner), from the installed packages."""
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"autoglm-provision {version('autoglm-provision')} (ansible-core {version('ansible-core')}, "
            f"ansible-runner {version('ansible-runner')}, Python {sys.version.split()[0]})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoglm-provision",
        description="Provision Open-AutoGLM GPU hosts (Ubuntu 22.04) with Ansible. "
                    "`autoglm-provision INVENTORY` is `autoglm-provision site INVENTORY`.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
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
    check.add_argument("--json", action="store_true",
                       help="print report.json on stdout when the run ends (the verdicts, machine-readable); "
                            "everything else goes to stderr")
    _add_run_flags(check)
    smoke = sub.add_parser("smoke", help="run the GPU smoke test alone; without INVENTORY on this machine",
                           epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    smoke.add_argument("inventory", type=Path, nargs="?")
    smoke.add_argument("--level", choices=SMOKE_LEVELS, default="standard", help="smoke test depth")
    _add_run_flags(smoke)
    _add_rollout_flags(smoke)
    status = sub.add_parser("status", help="per-host state across runs: which hosts are ready; without "
                            "INVENTORY this machine, as a local check or smoke recorded it")
    status.add_argument("inventory", type=Path, nargs="?")
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
    rep.add_argument("--slow-threshold", type=guards.fraction, metavar="FRACTION",
                     help="judge the HTML report's slow nodes again at this fraction below their SKU's fleet "
                          "median (default: the run's own judgement, as report.json records it)")
    house = sub.add_parser("wheelhouse", help="download a python_venv profile's locked wheels into DIR "
                           "(for air-gapped sites)")
    house.add_argument("profile", help="a python_venv profile (files/profiles.yml of the role)")
    house.add_argument("dir", type=Path)
    house.add_argument("--python", default="3.10", help="CPython minor of the targets (default 3.10)")
    house.add_argument("--find-links", action="append", default=[], help="local wheel directory")
    init = sub.add_parser("init", help="copy the sample inventory into DIR to start from (never overwrites)")
    init.add_argument("dir", type=Path, metavar="DIR")
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    """A bare inventory path means the default action, ``site``."""
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        return ["site", *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    interrupts.install()
    interrupts.guard_stdout()
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
    # With --json, stdout carries the JSON alone: what the console says goes to stderr.
    console = make_console(force_plain=getattr(args, "plain", False), stderr=getattr(args, "json", False))
    action = {"validate": actions.validate, "report": actions.report, "status": local_commands.status,
              "wheelhouse": actions.wheelhouse, "init": local_commands.init}.get(args.command, actions.run)
    try:
        return action(args, console)
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
    except OSError as exc:
        if not (full := disk_error(exc, exc.filename or paths.state_dir())):
            return _internal_error(console, exc)
        console.print(f"error: {full}", style="red", markup=False)
        return full.exit_code
    except Exception as exc:  # a bug: one line, the traceback only on request
        return _internal_error(console, exc)


def _internal_error(console, exc: Exception) -> int:
    """A bug: one line, the traceback only on request."""
    if os.environ.get("AUTOGLM_DEBUG"):
        raise exc
    console.print(f"internal error (a bug; AUTOGLM_DEBUG=1 shows the traceback): {type(exc).__name__}: "
                  f"{str(exc)[:300]}", style="red", markup=False)
    return EXIT_TOOL_ERROR


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main", "build_parser"]
