"""Ansible host patterns (``--limit``) resolved by ansible-core's own InventoryManager, so a run
targets exactly the hosts ansible-playbook would: names, groups, wildcards, ``~regex``,
``!exclude``, ``&intersect``, subscripts (``gpu[0:1]``), ranges and ``@file``."""

from __future__ import annotations

from ansible.errors import AnsibleError

from ..errors import UsageError
from .inventory import Inventory


def select(inv: Inventory, pattern: str | None, limit_hosts: list[str] | None = None) -> list[str]:
    """Hosts of ``inv`` a run with ``--limit pattern`` targets, in inventory order."""
    if inv.manager is None:
        return []
    selected = list(inv.hosts)
    if pattern:
        try:
            inv.manager.subset(pattern)
            selected = [h.name for h in inv.manager.get_hosts("all")]
        except AnsibleError as exc:
            raise UsageError(f"--limit {pattern!r}: {exc.message}") from None
        finally:
            inv.manager.subset(None)
            inv.manager.clear_pattern_cache()
    if limit_hosts is not None:
        wanted = set(limit_hosts)
        selected = [h for h in selected if h in wanted]
    return selected
