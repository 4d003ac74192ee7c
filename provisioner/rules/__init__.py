"""Semantic inventory rules: checks across variables that a type/choices spec cannot express.

Each rule module exposes ``check(host: str, hostvars: dict) -> list[Finding]``. ``hostvars`` is
the host's variables with role defaults underneath inventory values and extra vars on top; values
that are still Jinja templates (contain ``{{``) are left to Ansible and should be skipped.
Rules are run once per distinct set of variables, ignoring per-host addresses (ansible_host,
ansible_port): a rule must not judge those.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One semantic problem with a host's variables. ``allowed`` says what would be accepted."""

    host: str
    variable: str
    value: object
    message: str
    allowed: str = ""


Rule = Callable[[str, dict], Iterable[Finding]]


def is_templated(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def all_rules() -> list[Rule]:
    """Every ``check`` function of the modules in this package, in module-name order."""
    rules: list[Rule] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(module, "check", None)):
            rules.append(module.check)
    return rules
