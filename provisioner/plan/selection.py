"""Selections that select nothing are input errors: a ``--limit`` that matches no host, a term of it
that names nothing (a typo that would quietly shrink the run), ``--tags``/``--skip-tags`` naming no
tag of the playbook. Each error names the pattern or tag and the nearest valid ones, before anything
runs. Host patterns are resolved by ansible-core itself (:mod:`provisioner.patterns`)."""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path

from ansible.inventory.manager import split_host_pattern

from .. import paths
from ..errors import UsageError
from ..inventory.inventory import Inventory
from ..inventory.patterns import select

# Tags every playbook has (Ansible's special tags).
SPECIAL_TAGS = ("all", "always", "never", "tagged", "untagged")
TASK_LISTS = ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always")


def nearest(word: str, candidates: list[str] | set[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(word, sorted(candidates), n=n, cutoff=0.5)


def _hint(word: str, candidates) -> str:
    close = nearest(word, candidates)
    return f"; nearest: {', '.join(close)}" if close else ""


def check_limit(limit: str | None, inv: Inventory) -> list[str]:
    """The hosts ``--limit`` selects; a UsageError when it selects none or one of its terms names nothing."""
    if not limit:
        return list(inv.hosts)
    names = set(inv.hosts) | set(inv.groups)
    if not limit.startswith("@") and inv.manager is not None:
        for term in split_host_pattern(limit):
            bare = term.lstrip("&!")
            if bare and not select(inv, bare):
                raise UsageError(f"--limit {limit!r}: {bare!r} matches no host: no host or group named {bare!r} "
                                 f"in {', '.join(map(str, inv.sources))}{_hint(bare.lstrip('~'), names)}")
    hosts = select(inv, limit)
    if not hosts:
        raise UsageError(f"--limit {limit!r} selects no host of {', '.join(map(str, inv.sources))}; groups: "
                         f"{', '.join(sorted(inv.groups))}; nothing was run")
    return hosts


def _tags_of(value: object) -> set[str]:
    if isinstance(value, str):
        return {t.strip() for t in value.split(",") if t.strip()}
    if isinstance(value, list):
        return {str(t) for t in value}
    return set()


def _walk(node: object, found: set[str], roles: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found, roles)
        return
    if not isinstance(node, dict):
        return
    found |= _tags_of(node.get("tags"))
    for key in TASK_LISTS:
        _walk(node.get(key), found, roles)
    for entry in node.get("roles") or []:
        name = entry.get("role", entry.get("name")) if isinstance(entry, dict) else entry
        if name:
            roles.add(str(name))
        _walk(entry if isinstance(entry, dict) else None, found, roles)
    for key in ("include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"):
        if isinstance(node.get(key), dict) and node[key].get("name"):
            roles.add(str(node[key]["name"]))


@cache
def playbook_tags(playbook: Path, roles_dir: Path = paths.ROLES) -> frozenset[str]:
    """Every tag a playbook, its roles and their task files carry (a static superset of --list-tags)."""
    found: set[str] = set()
    roles: set[str] = set()
    _walk(paths.load_project_file(playbook), found, roles)
    done: set[str] = set()
    while roles - done:
        role = sorted(roles - done)[0]
        done.add(role)
        for task_file in sorted((roles_dir / role).glob("*/*.y*ml")):
            if task_file.parent.name in ("tasks", "handlers"):
                _walk(paths.load_project_file(task_file), found, roles)
    return frozenset(found)


def check_tags(tags: str | None, skip_tags: str | None, playbook: Path) -> None:
    """A tag the playbook does not have would run (or skip) nothing: refuse it, naming the nearest."""
    known = set(playbook_tags(playbook)) | set(SPECIAL_TAGS)
    for flag, value in (("--tags", tags), ("--skip-tags", skip_tags)):
        for tag in sorted(_tags_of(value or "")):
            if tag not in known:
                raise UsageError(f"{flag} {tag!r}: no task of {playbook.name} has this tag{_hint(tag, known)}; "
                                 f"its tags: {', '.join(sorted(known - set(SPECIAL_TAGS)))}; nothing was run")
