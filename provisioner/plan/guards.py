"""Input guards that stop a run before anything happens: a mistyped subcommand, flag values out of
range, and ``-e`` values that would break ``check``'s read-only promise or the CLI's own variables."""

from __future__ import annotations

import argparse
import difflib
import math
from pathlib import Path

from ..errors import UsageError
from .extravars import Item

# check.yml pins these so that `check` changes nothing; -e (the highest precedence) could switch
# them back on, so setting them with -e is refused rather than silently obeyed or ignored.
CHECK_READ_ONLY = {
    "bios_check_apply_kernel_params": "it would edit the kernel command line (GRUB)",
    "bios_check_bmc_stage_changes": "it would stage BIOS changes through the BMC",
    "bios_check_bmc_reboot": "it would reboot hosts through the BMC",
    "bios_check_bmc_apply": "it would apply BIOS changes and reset hosts through the BMC",
}
# Set by the CLI from the command; an -e value would make a playbook act as another command.
# (autoglm_run_dir stays overridable: it only says where results are fetched to.)
CLI_OWNED = {"autoglm_action": "the CLI sets it from the command"}


def unknown_command(argv: list[str], commands: tuple[str, ...]) -> None:
    """``chek inv.yml``: a word that is neither a command nor an existing file, but close to a
    command, is a mistyped command (not an inventory that does not exist)."""
    if not argv or argv[0] in commands or argv[0].startswith("-") or Path(argv[0]).exists():
        return
    word = argv[0]
    close = difflib.get_close_matches(word, commands, n=1, cutoff=0.6)
    if close:
        raise UsageError(f"unknown command {word!r}, did you mean {close[0]!r}? commands: {', '.join(commands)} "
                         "(or an inventory file for `site`)")
    if "/" not in word and "." not in word and len(argv) > 1 and Path(argv[1]).exists():
        raise UsageError(f"unknown command {word!r}; commands: {', '.join(commands)}")


def seconds(text: str) -> float:
    """argparse type for --parse-timeout: seconds, 0 or more (0: no deadline)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed a number of seconds, 0 or more (0: no deadline)")
    return value


def fraction(text: str) -> float:
    """argparse type for --slow-threshold: a fraction strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; allowed: a fraction between 0 and 1, "
                                         "e.g. 0.10 for 10 %") from None
    if not math.isfinite(value) or not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed a fraction between 0 and 1 (exclusive), "
                                         "e.g. 0.10 for 10 %")
    return value


def private_key_file(text: str) -> str:
    """argparse type for --private-key: not a directory (a missing file is named before the run)."""
    if Path(text).expanduser().is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; allowed: an SSH private key file")
    return text


def vault_password_file(text: str) -> str:
    """argparse type for --vault-password-file: a file holding the password (or a script printing
    it), not a directory, not empty (a missing file is named before the run)."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; allowed: a file holding the vault password "
                                         "(or an executable script that prints it)")
    try:
        empty = path.is_file() and path.stat().st_size == 0
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} cannot be read: {exc.strerror or exc}") from None
    if empty:
        raise argparse.ArgumentTypeError(f"{text!r} is empty; allowed: a file holding the vault password "
                                         "(or an executable script that prints it)")
    return text


def check_probe_flags(args: argparse.Namespace) -> None:
    """--probe-strict asks for a separate probe of every SSH host first; --no-probe for no probe."""
    if getattr(args, "probe_strict", False) and not getattr(args, "probe", True):
        raise UsageError("--probe-strict and --no-probe contradict each other: --probe-strict probes every SSH "
                         "host before the run, --no-probe skips probing; give one of them")


def keep_count(text: str) -> int:
    """argparse type for --keep-runs: 1 or more (0 keeps every run)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed a whole number of runs to keep, 1 or more "
                                         "(0 keeps every run)")
    return value


def check_extra_vars(action: str, items: list[Item]) -> None:
    """Refuse -e values the action must not take; name each, with why and what to do instead."""
    problems = []
    for item in items:
        where = f"-e {item.raw[:80]!r}" if item.kind != "file" else f"-e {item.raw} ({item.source})"
        for name in item.values:
            if name in CLI_OWNED:
                problems.append(f"{where}: {name} cannot be set ({CLI_OWNED[name]})")
            elif action == "check" and name in CHECK_READ_ONLY:
                problems.append(f"{where}: {name} cannot be set for `check`, which is read-only: "
                                f"{CHECK_READ_ONLY[name]}; allowed: leave it out (check pins it to false), "
                                "or use `site` to change hosts")
    if problems:
        raise UsageError("; ".join(problems) + "; nothing was run")
