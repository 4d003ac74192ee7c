"""Inventory validation with no host contact: structure, variables against the roles' specs,
and the semantic rules of :mod:`provisioner.rules`. Every problem is reported at once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths, rules, specs
from ..errors import InventoryError, Problem
from ..inventory import connvars
from ..inventory.inventory import Inventory, VarDef, read_inventory
from ..inventory.yamlsrc import is_vaulted
from . import deadline, extravars, foreign

MAX_HOSTS_NAMED = 5
# Per-host addresses make every host's variables unique; rules never judge them, so hosts that
# differ only in these are judged once (10,000 hosts in a few distinct groups = a few rule runs).
ADDRESS_VARIABLES = frozenset({"ansible_host", "ansible_port", "ansible_ssh_host", "ansible_ssh_port"})


@dataclass
class ValidationResult:
    inventory: Inventory
    extra_vars: dict[str, VarDef] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def raise_for_errors(self) -> None:
        if self.errors:
            raise InventoryError(self.problems)


def parse_extra_vars(items: list[str], problems: list[Problem]) -> dict[str, VarDef]:
    """``-e`` values as ansible-playbook takes them: ``@file``, a YAML/JSON mapping, or key=value."""
    result: dict[str, VarDef] = {}
    for item in extravars.parse(items, problems):
        result.update({k: VarDef(v, item.source, item.lines.get(k)) for k, v in item.values.items()})
    return result


def _check_definition(name: str, definition: VarDef, owner: str, known: dict[str, specs.VarSpec],
                      prefixes: set[str]) -> Problem | None:
    value = definition.value
    where = {"file": definition.file, "line": definition.line, "variable": name,
             "host": owner.removeprefix("host ") if owner.startswith("host ") else ""}
    set_for = f" (set for {owner})" if owner.startswith("group ") else ""
    if not isinstance(name, str) or not name.isidentifier():
        return Problem(f"{name!r} is not a valid variable name{set_for}; allowed: letters, digits and underscores, "
                       "not starting with a digit", **dict(where, variable=str(name)))
    if name in known:
        if is_vaulted(value) or rules.is_templated(value):
            return None
        if clash := foreign.conflict_for(name, value):
            return Problem(clash, **where)
        reason = specs.check_value(known[name], value)
        if reason:
            spec = known[name]
            return Problem(f"{reason}; allowed: {spec.allowed()} (role {spec.role})", **where)
        return None
    if name.startswith("ansible_"):  # Ansible's own (connection, become, ...) variables
        if judged := connvars.check(name, value):
            return Problem(f"{judged[0]}{set_for}; allowed: {judged[1]}", **where)
        return None
    if name in specs.REPLACED:
        return Problem(f"{name!r} was replaced by {specs.REPLACED[name]!r} (one setting for every role's apt "
                       f"refresh, in the common role): rename it", **where)
    if warning := foreign.warning_for(name):
        return Problem(warning, severity="warning", **where)
    hint = specs.suggest(name, known)
    if any(name.startswith(prefix) for prefix in prefixes):
        extra = f"; did you mean {hint!r}?" if hint else ""
        return Problem(f"unknown variable {name!r} for this project's roles{extra}", **where)
    if hint:
        return Problem(f"{name!r} is not a variable of this project; did you mean {hint!r}?",
                       severity="warning", **where)
    return None


def _check_variables(result: ValidationResult, roles_dir: Path) -> None:
    known = specs.load_specs(roles_dir)
    prefixes = specs.role_prefixes(known)
    inv = result.inventory
    for group in inv.groups.values():
        for name, definition in group.vars.items():
            if problem := _check_definition(name, definition, f"group {group.name}", known, prefixes):
                result.problems.append(problem)
    seen: set[int] = set()  # hosts expanded from one range share their VarDefs: check each once
    for host in inv.hosts.values():
        for name, definition in host.vars.items():
            if id(definition) in seen:
                continue
            seen.add(id(definition))
            if problem := _check_definition(name, definition, f"host {host.name}", known, prefixes):
                result.problems.append(problem)
    for name, definition in result.extra_vars.items():
        if problem := _check_definition(name, definition, "", known, prefixes):
            result.problems.append(problem)


def _run_rules(result: ValidationResult, roles_dir: Path) -> None:
    """Semantic rules per host; hosts with identical variables are judged once and grouped."""
    defaults = specs.role_defaults(roles_dir)
    inv = result.inventory
    by_signature: dict[tuple, list[str]] = defaultdict(list)
    merged_for: dict[tuple, dict[str, VarDef]] = {}
    for name in inv.hosts:
        merged = inv.merged_vars(name)
        merged.update(result.extra_vars)
        signature = tuple((k, id(v)) for k, v in merged.items() if k not in ADDRESS_VARIABLES)
        by_signature[signature].append(name)
        merged_for.setdefault(signature, merged)
    grouped: dict[tuple, list[str]] = defaultdict(list)
    all_rules = rules.all_rules()
    for signature, hosts in by_signature.items():
        merged = merged_for[signature]
        values = {**defaults, **{k: v.value for k, v in merged.items()}}
        for rule in all_rules:
            for finding in rule(hosts[0], values):
                definition = merged.get(finding.variable)
                key = (finding.variable, repr(finding.value), finding.message, finding.allowed,
                       definition.file if definition else "(role default)",
                       definition.line if definition else None)
                grouped[key].extend(hosts)
    for (variable, _value, message, allowed, file, line), hosts in grouped.items():
        named = ", ".join(hosts[:MAX_HOSTS_NAMED]) + (
            f" (+{len(hosts) - MAX_HOSTS_NAMED} more)" if len(hosts) > MAX_HOSTS_NAMED else "")
        text = message + (f"; allowed: {allowed}" if allowed else "")
        result.problems.append(Problem(text, file=file, line=line, host=named, variable=variable))


def validate(inventory_path: Path | list[Path], extra_vars: list[str] | None = None,
             roles_dir: Path = paths.ROLES,
             parse_timeout_s: float | None = deadline.DEFAULT_PARSE_TIMEOUT_S) -> ValidationResult:
    """Validate everything that needs no host: returns the result; call ``raise_for_errors``.
    ``inventory_path`` is one source or several (``-i`` repeated), as Ansible takes them. Reading and
    validating take at most ``parse_timeout_s`` (:mod:`provisioner.plan.deadline`: a ParseTimeoutError)."""
    named = ", ".join(str(p) for p in (inventory_path if isinstance(inventory_path, list) else [inventory_path]))
    with deadline.bounded(parse_timeout_s), deadline.reading(f"the inventory {named} (validating it)"):
        with deadline.reading(f"the inventory {named}"):
            inventory = read_inventory(inventory_path)
        result = ValidationResult(inventory)
        result.problems.extend(inventory.problems)
        result.extra_vars = parse_extra_vars(extra_vars or [], result.problems)
        if not any(p.message.startswith("YAML syntax error") for p in inventory.problems):
            _check_variables(result, roles_dir)
            _run_rules(result, roles_dir)
    return result
