"""Ansible host patterns (``--limit``) matched against a parsed inventory, to know which hosts a
run targets without asking Ansible: names, groups, ``*`` wildcards, ``~regex``, ``!exclude``,
``&intersect``, separated by ``,`` or ``:``."""

from __future__ import annotations

import fnmatch
import re

from .inventory import Inventory


def _hosts_for(term: str, inv: Inventory) -> set[str]:
    if term in inv.groups:
        return {h for h, host in inv.hosts.items() if term in host.groups}
    if term in inv.hosts:
        return {term}
    if term.startswith("~"):
        regex = re.compile(term[1:])
        names = {h for h in inv.hosts if regex.search(h)}
        groups = [g for g in inv.groups if regex.search(g)]
    elif any(c in term for c in "*?["):
        names = {h for h in inv.hosts if fnmatch.fnmatchcase(h, term)}
        groups = [g for g in inv.groups if fnmatch.fnmatchcase(g, term)]
    else:
        return set()
    for group in groups:
        names |= _hosts_for(group, inv)
    return names


def split_pattern(pattern: str) -> list[str]:
    # ':' separates terms except inside an IPv6 address or a regex; commas are the safe form.
    parts = pattern.split(",") if "," in pattern or pattern.startswith("~") else re.split(r":(?=[!&]?[^:]*$|[!&])",
                                                                                      pattern)
    return [p.strip() for p in parts if p.strip()]


def select(inv: Inventory, pattern: str | None, limit_hosts: list[str] | None = None) -> list[str]:
    """Hosts of ``inv`` a run with ``--limit pattern`` targets, in inventory order."""
    selected = set(inv.hosts)
    if pattern:
        included: set[str] = set()
        excluded: set[str] = set()
        intersections: list[set[str]] = []
        for term in split_pattern(pattern):
            if term.startswith("!"):
                excluded |= _hosts_for(term[1:], inv)
            elif term.startswith("&"):
                intersections.append(_hosts_for(term[1:], inv))
            else:
                included |= _hosts_for(term, inv)
        selected = included
        for other in intersections:
            selected &= other
        selected -= excluded
    if limit_hosts is not None:
        selected &= set(limit_hosts)
    return [h for h in inv.hosts if h in selected]
