"""Host ranges (``gpu[01:04]``, ``rack-[a:c]``) counted in the inventory's source text, so that a
malformed range or a typo that would expand to millions of hosts is refused, with file and line,
before Ansible expands anything."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import Problem

# Far beyond any fleet: a typo like node[0:99999999] is refused before Ansible expands it (which
# would take all memory). Ranges are counted in the source text, so nothing is expanded to count.
MAX_HOSTS = 100_000
_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::(-?[0-9]+))?\]")


def _range_size(line: str) -> tuple[int, str | None]:
    """How many names the host ranges on one line expand to (1 when there are none), and what is
    wrong with a range that Ansible would refuse or expand to nothing."""
    total = 1
    for match in _RANGE.finditer(line):
        start, end, step = match.group(1), match.group(2), int(match.group(3) or 1)
        left = line.rfind(" ", 0, match.start()) + 1
        right = min(i for i in (line.find(" ", match.end()), len(line)) if i >= 0)
        text = line[left:right].rstrip(":") or match.group(0)
        numeric, letters = start.isdigit() and end.isdigit(), len(start) == 1 == len(end) and start.isalpha()
        if not numeric and not (letters and end.isalpha()):
            if start.isdigit() or end.isdigit() or len(start) == 1 or len(end) == 1:
                return total, f"bad host range {text}: allowed numbers or single letters (n[01:10], rack-[a:c])"
            continue  # an INI section header such as [all:vars]
        if step < 1:
            return total, f"bad host range {text}: step {step}; allowed a step of 1 or more"
        first, last = (int(start), int(end)) if numeric else (ord(start), ord(end))
        if first > last:
            return total, f"empty host range {text}: the start is after the end"
        total *= len(range(first, last + 1, step))
    return total, None


def range_problems(files: list[Path]) -> list[Problem]:
    """Host ranges that are malformed or would expand the inventory beyond MAX_HOSTS, with file and
    line, found in the source text before Ansible expands anything."""
    total = 0
    for file in files:
        try:
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines, 1):
            if "[" not in line or ":" not in line or line.lstrip().startswith(("#", ";")):
                continue
            size, wrong = _range_size(line)
            if wrong:
                return [Problem(wrong, file=str(file), line=number)]
            total += size if size > 1 else 0
            if size > MAX_HOSTS or total > MAX_HOSTS:
                what = line.strip()[:120]
                return [Problem(f"host range {what!r} takes the inventory over {MAX_HOSTS:,} hosts "
                                f"({size:,} on this line); allowed: at most {MAX_HOSTS:,} hosts (a typo in the range?)",
                                file=str(file), line=number)]
    return []
