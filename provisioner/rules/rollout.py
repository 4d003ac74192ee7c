"""Rollout settings (``autoglm_batch``, ``autoglm_max_fail_percentage``): one parser for the CLI flags,
the inventory's values and ``validate``, so a value that would stop a run is refused before it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from provisioner.errors import UsageError
from provisioner.rules import Finding, is_templated

_BATCH_ITEM = re.compile(r"^(?:[1-9][0-9]*|(?:[1-9][0-9]?|100)%)$")
BATCH_ALLOWED = ("a positive number (10), a percentage from 1% to 100% (25%), or a comma-separated list of those "
                 "(1,10%,100%)")
THRESHOLD_ALLOWED = "an integer percentage from 0 to 100"


def parse_batch(value: object, source: str) -> list[int | str] | None:
    """Ansible ``serial`` forms: 10, "25%", "1,10%,100%" (or a YAML list of those)."""
    if value in (None, "", []):
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    parsed: list[int | str] = []
    for item in (str(i).strip() for i in items):
        if not _BATCH_ITEM.match(item):
            raise UsageError(f"{source} {value!r}: {item!r} is not a batch size; allowed: {BATCH_ALLOWED}")
        parsed.append(item if item.endswith("%") else int(item))
    return parsed


def parse_threshold(value: object, source: str) -> int | None:
    """``max_fail_percentage``: 0-100 (the share of a batch that may fail before the rollout stops)."""
    if value is None:
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not 0 <= number <= 100:
        raise UsageError(f"{source} {value!r}: {value!r} is not a share of a batch in percent; "
                         f"allowed: {THRESHOLD_ALLOWED}")
    return number


def check(host: str, hostvars: dict) -> Iterable[Finding]:
    findings = []
    for name, parse, allowed in (("autoglm_batch", parse_batch, BATCH_ALLOWED),
                                 ("autoglm_max_fail_percentage", parse_threshold, THRESHOLD_ALLOWED)):
        value = hostvars.get(name)
        if value is None or is_templated(value):
            continue
        try:
            parse(value, name)
        except UsageError as exc:
            reason = str(exc).split("; allowed:")[0].split(": ", 1)[-1]
            findings.append(Finding(host, name, value, reason, allowed))
    return findings
