"""Where every inventory variable was written: the file and line behind each value Ansible resolves.

ansible-core builds the inventory (:mod:`provisioner.inventory`); this module feeds it YAML through
the project's C-speed located loader (:mod:`provisioner.yamlsrc`) and indexes the sources so each
variable of a group or host can be reported as ``file:line``. It also reports what Ansible passes
over in silence: duplicate keys, unknown group keys, YAML syntax errors with line and column.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path

from ansible.errors import AnsibleParserError
from ansible.inventory.group import to_safe_group_name
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.inventory.yaml import InventoryModule as _YamlInventory

from ..errors import Problem
from .yamlsrc import LocatedDict, VaultValue, YamlSyntaxError, load, plain

GROUP_KEYS = ("vars", "children", "hosts")
YAML_SUFFIXES = (".yml", ".yaml", ".json")
_INI_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[;#].*)?$")
_expander = _YamlInventory()

# (kind, entity, variable) -> (file, line); kind is "group" or "host".
Key = tuple[str, str, str]


def expand(pattern: str) -> list[str]:
    """Host names of an inventory host pattern, expanded the way Ansible's inventory plugins do."""
    if "[" not in pattern and ":" not in pattern:
        return [pattern]
    try:
        return list(_expander._expand_hostpattern(pattern)[0])
    except Exception:  # Ansible reports the bad pattern itself when it parses the source
        return [pattern]


class Locations:
    """Definitions by owner, in the order Ansible applies them (a later one wins)."""

    def __init__(self) -> None:
        self.inline: dict[Key, tuple[str, int | None]] = {}
        self.files: dict[Key, tuple[str, int | None]] = {}
        self.hosts: dict[str, tuple[str, int | None]] = {}

    def where(self, kind: str, entity: str, variable: str) -> tuple[str, int | None] | None:
        """A vars file beats the inventory source for the same owner (Ansible merges it on top)."""
        key = (kind, entity, variable)
        return self.files.get(key) or self.inline.get(key)


class LocatingLoader(DataLoader):
    """Ansible's DataLoader, parsing YAML/JSON with the located C loader (no deep copies).

    Inventory sources and vars files come back as mappings that remember each key's line; syntax
    errors and duplicate keys become problems. Plugin configuration files (``plugin:``) go through
    Ansible's own loader, since their templates must be trusted the way Ansible trusts them.
    """

    def __init__(self, sources: Iterable[str], problems: list[Problem], locations: Locations):
        super().__init__()
        self.sources = {str(Path(s).resolve()) for s in sources}
        self.problems = problems
        self.locations = locations
        self.syntax_errors: dict[str, YamlSyntaxError] = {}
        self._parsed: dict[str, object] = {}

    def _parse(self, path: str) -> object:
        if path not in self._parsed:
            try:
                self._parsed[path] = load(Path(path))
            except YamlSyntaxError as exc:
                self.syntax_errors[path] = exc
                self._parsed[path] = exc
        return self._parsed[path]

    def load_from_file(self, file_name, cache="all", unsafe=False, json_only=False, trusted_as_template=False):
        path = str(Path(self.path_dwim(file_name)).resolve())
        data = self._parse(path)
        is_source = path in self.sources
        if isinstance(data, YamlSyntaxError):
            if is_source:
                raise AnsibleParserError(str(data))
            self.problems.append(Problem(str(data), file=path, line=data.line, column=data.column))
            return {}
        if isinstance(data, dict) and data.get("plugin"):
            return super().load_from_file(file_name, cache, unsafe, json_only, trusted_as_template)
        if not is_source:
            if isinstance(data, VaultValue):  # a wholly encrypted vars file: judged by Ansible at run time
                return {}
            self._index_vars_file(path, data)
        return plain(data)  # the located copy stays in _parsed for the indexers

    def _index_vars_file(self, path: str, data: object) -> None:
        parts = Path(path).parts
        kinds = [i for i, part in enumerate(parts) if part in ("group_vars", "host_vars")]
        if not kinds or kinds[-1] + 1 >= len(parts) or not isinstance(data, LocatedDict):
            return
        at = kinds[-1]
        kind = "group" if parts[at] == "group_vars" else "host"
        entity = parts[at + 1]
        if at + 2 == len(parts):  # group_vars/NAME.yml, not group_vars/NAME/*.yml
            entity = entity[: -len(Path(entity).suffix)] if Path(entity).suffix in YAML_SUFFIXES else entity
        report_duplicates(data, "variable", path, self.problems)
        for key, (line, _column) in data.lines.items():
            self.locations.files[(kind, entity, str(key))] = (path, line)


def report_duplicates(mapping: object, what: str, file: str, problems: list[Problem]) -> None:
    if isinstance(mapping, LocatedDict):
        for key, line, column in mapping.duplicates:
            problems.append(Problem(f"duplicate {what} {key!r}: defined twice in the same mapping "
                                    "(Ansible would silently keep only the last one)", file=file, line=line,
                                    column=column))


def not_inventory(data: object, error: YamlSyntaxError | None = None) -> str | None:
    """Why a YAML file in an inventory directory is not inventory (a Kubernetes manifest, a kustomize
    patch), or None: a list or scalar, several documents, or a mapping of which no group has hosts,
    children or vars. Ansible skips such a file with warnings; a file that is inventory keeps every error."""
    if error is not None:
        return "several YAML documents" if "expected a single document" in str(error) else None
    if isinstance(data, list | str | int | float | bool):
        return f"a YAML {type(data).__name__}, not a mapping of groups"
    if not isinstance(data, dict) or data.get("plugin") or all(body is None for body in data.values()):
        return None
    if any(isinstance(body, dict) and any(key in GROUP_KEYS for key in body) for body in data.values()):
        return None
    return f"top-level keys {', '.join(map(str, list(data)[:5]))}: none is a group with vars, children or hosts"


class YamlIndexer:
    """Walks a YAML inventory the way Ansible's yaml plugin does, recording where things are."""

    def __init__(self, path: str, locations: Locations, problems: list[Problem]):
        self.file, self.locations, self.problems = path, locations, problems

    def _line(self, mapping: object, key: object) -> int | None:
        return mapping.lines.get(key, (None,))[0] if isinstance(mapping, LocatedDict) else None

    def index(self, data: object) -> None:
        if not isinstance(data, dict) or data.get("plugin"):
            return
        report_duplicates(data, "group", self.file, self.problems)
        for name, body in data.items():
            self.group(str(name), body)

    def group(self, name: str, body: object) -> None:
        if not isinstance(body, dict):
            return
        report_duplicates(body, f"key in group {name!r}", self.file, self.problems)
        for key, value in body.items():
            line = self._line(body, key)
            if key not in GROUP_KEYS:
                column = body.lines[key][1] if isinstance(body, LocatedDict) and key in body.lines else None
                self.problems.append(Problem(f"unknown key {key!r} in group {name!r}; allowed: "
                                             f"{', '.join(GROUP_KEYS)} (Ansible skips it with a warning)",
                                             file=self.file, line=line, column=column))
            elif isinstance(value, str):
                value = {value: None}
            elif value is not None and not isinstance(value, dict):
                self.problems.append(Problem(f"{key} of group {name!r} must be a mapping; got "
                                             f"{type(value).__name__}", file=self.file, line=line))
                continue
            if key == "vars" and value:
                report_duplicates(value, "variable", self.file, self.problems)
                for var in value:
                    self.locations.inline[("group", name, str(var))] = (self.file, self._line(value, var))
            elif key == "children" and value:
                report_duplicates(value, "child group", self.file, self.problems)
                for child, child_body in value.items():
                    self.group(str(child), child_body)
            elif key == "hosts" and value:
                report_duplicates(value, "host", self.file, self.problems)
                for pattern, host_vars in value.items():
                    self.host(str(pattern), host_vars, self._line(value, pattern))

    def host(self, pattern: str, host_vars: object, line: int | None) -> None:
        names = expand(pattern)
        for name in names:
            self.locations.hosts.setdefault(name, (self.file, line))
        if isinstance(host_vars, dict):
            report_duplicates(host_vars, "variable", self.file, self.problems)
            for var in host_vars:
                where = (self.file, self._line(host_vars, var) or line)
                for name in names:
                    self.locations.inline[("host", name, str(var))] = where


def index_ini(path: str, text: str, locations: Locations) -> None:
    """Line numbers of an INI inventory's hosts and variables (Ansible parses the values)."""
    group, state = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        section = _INI_SECTION.match(line)
        if section:
            group, state = to_safe_group_name(section.group(1)), section.group(2) or "hosts"
            continue
        if state == "vars":
            name = line.split("=", 1)[0].strip()
            locations.inline[("group", group, name)] = (path, number)
        elif state == "hosts":
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError:
                continue
            if not tokens:
                continue
            names = expand(tokens[0])
            for name in names:
                locations.hosts.setdefault(name, (path, number))
                for token in tokens[1:]:
                    if "=" in token:
                        locations.inline[("host", name, token.split("=", 1)[0])] = (path, number)
