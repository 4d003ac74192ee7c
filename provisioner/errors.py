"""Typed exceptions and the CLI's documented exit codes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

EXIT_OK = 0
EXIT_HOST_FAILED = 1
EXIT_USAGE = 2
EXIT_TOOL_ERROR = 3
EXIT_UNREACHABLE = 4
EXIT_INTERRUPTED = 130

# The documented meaning of each exit code (CLI help, README, HTML report).
EXIT_MEANINGS = {
    EXIT_OK: "every host ok",
    EXIT_HOST_FAILED: "at least one host failed (a task, a gate, a smoke test)",
    EXIT_USAGE: "usage or input error: bad flags, invalid inventory or variables; nothing was run",
    EXIT_TOOL_ERROR: "ansible-playbook failed without a host result (e.g. a playbook error), or the run's files "
                     "could not be written (a full disk, a quota, a read-only file system: the path is named)",
    EXIT_UNREACHABLE: "at least one host unreachable, none failed",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C / SIGTERM); a partial report was written",
}


class ProvisionerError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = EXIT_TOOL_ERROR


class UsageError(ProvisionerError):
    """Bad flags, missing files, a run id that does not exist: nothing was run."""

    exit_code = EXIT_USAGE


# Unicode categories never printed as they are: controls (an escape sequence rewrites the terminal),
# format characters (right-to-left overrides, zero-width spaces), line/paragraph separators, surrogates,
# private-use and unassigned code points. Newline and tab stay: messages are laid out with them.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def shown(text: str) -> str:
    r"""``text`` as it may be printed: every hidden or reordering character as a backslash escape
    (``\u202e`` for a right-to-left override, ``\x1b`` for an escape), the rest as it is."""
    if text.isprintable():
        return text
    return "".join(c if c in "\n\t" or unicodedata.category(c) not in _HIDDEN else
                   (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" if ord(c) < 0x10000
                    else f"\\U{ord(c):08x}") for c in text)


@dataclass(frozen=True)
class Problem:
    """One input problem, located as precisely as the source allows."""

    message: str
    file: str = ""
    line: int | None = None
    column: int | None = None
    host: str = ""
    variable: str = ""
    severity: str = "error"  # or "warning"

    def location(self) -> str:
        if not self.file:
            return ""
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")

    def render(self) -> str:
        parts = [p for p in (self.location(),
                             f"host {self.host}" if self.host else "",
                             f"variable {self.variable}" if self.variable else "") if p]
        where = ", ".join(parts)
        return shown(f"{self.severity}: {where + ': ' if where else ''}{self.message}")


class InventoryError(ProvisionerError):
    """The inventory (or extra vars) failed validation; every problem is listed at once."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{len(errors)} inventory error(s)")


class ReachabilityError(ProvisionerError):
    """Hosts failed the SSH reachability pre-flight and the run was told to stop for that."""

    exit_code = EXIT_UNREACHABLE


class DiskFullError(ProvisionerError):
    """The machine refused a write the CLI must make: no space left (ENOSPC), a quota (EDQUOT) or a
    read-only file system (EROFS); the message names the path and what to free. Exit 3."""

    exit_code = EXIT_TOOL_ERROR
