"""Bounds on an inventory's files, checked before anything parses them: a file over
:data:`MAX_INVENTORY_FILE_BYTES` or a line over the line limit is refused at once, naming the file,
its size and the limit (an oversized inventory used to be parsed in full, at a cost in time and
memory that grows with it, before being refused; one long INI line costs Ansible's shlex-based
parser time that grows with the square of its length)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import Problem

MAX_INVENTORY_FILE_BYTES = 8 * 1024 * 1024  # per inventory, group_vars or host_vars file
MAX_LINE_BYTES = 1024 * 1024  # a YAML/JSON line (a one-line JSON inventory of a few thousand hosts fits)
MAX_INI_LINE_BYTES = 64 * 1024  # an INI line (Ansible splits it with shlex, quadratic in its length)
YAML_SUFFIXES = (".yml", ".yaml", ".json")


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _longest_line(data: bytes) -> tuple[int, int]:
    """(1-based line number, length in bytes) of the longest line of ``data``."""
    best, best_at, start, number = 0, 1, 0, 1
    while start <= len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if end - start > best:
            best, best_at = end - start, number
        start, number = end + 1, number + 1
    return best_at, best


def file_problem(path: Path, yaml: bool | None = None) -> Problem | None:
    """Why ``path`` is too large to parse, or None (also for what is not a regular file). ``yaml``:
    whether it is YAML/JSON (its line limit), by default told by its suffix."""
    try:
        info = os.stat(path)
    except OSError:
        return None  # named by the caller's readability check
    if not stat.S_ISREG(info.st_mode):
        return None
    if info.st_size > MAX_INVENTORY_FILE_BYTES:
        return Problem(f"file of {info.st_size:,} bytes ({_mib(info.st_size)}); allowed: at most "
                       f"{_mib(MAX_INVENTORY_FILE_BYTES)} per inventory or vars file (split it: an inventory "
                       "directory, group_vars/ and host_vars/ files); nothing was parsed", file=str(path))
    try:
        with open(path, "rb") as handle:  # noqa: PTH123 - bounded by the size check above
            data = handle.read(MAX_INVENTORY_FILE_BYTES + 1)
    except OSError:
        return None
    yaml = path.suffix in YAML_SUFFIXES if yaml is None else yaml
    limit = MAX_LINE_BYTES if yaml else MAX_INI_LINE_BYTES
    number, length = _longest_line(data)
    if length > limit:
        return Problem(f"a line of {length:,} bytes; allowed: at most {limit:,} bytes per line in a "
                       f"{'YAML/JSON' if limit == MAX_LINE_BYTES else 'INI'} inventory file; nothing was parsed",
                       file=str(path), line=number)
    return None


def size_problems(files: list[Path]) -> list[Problem]:
    """One problem per inventory or vars file over a bound."""
    return [problem for path in files if (problem := file_problem(path))]
