"""Read a standard Ansible YAML inventory (plus group_vars/ and host_vars/ beside it) with
source locations, without contacting any host.

Only the structure is judged here; variable values are judged in :mod:`provisioner.validate`.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Problem
from .yamlsrc import LocatedDict, YamlSyntaxError, load

GROUP_KEYS = ("hosts", "children", "vars")
VARS_SUFFIXES = ("", ".yml", ".yaml", ".json")
_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::([0-9]+))?\]")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
LOCAL_CONNECTIONS = {"local"}
# Far beyond any fleet: a typo like node[0:99999999] is refused before it is expanded.
MAX_HOSTS = 100_000


@dataclass(frozen=True)
class VarDef:
    value: object
    file: str
    line: int | None = None


@dataclass
class Group:
    name: str
    vars: dict[str, VarDef] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    depth: int = 0


@dataclass
class Host:
    name: str
    file: str
    line: int | None
    vars: dict[str, VarDef] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


@dataclass
class Inventory:
    path: Path
    hosts: dict[str, Host] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def merged_vars(self, host: str) -> dict[str, VarDef]:
        """Ansible's inventory precedence: all < parent groups < child groups < host."""
        merged: dict[str, VarDef] = {}
        member_of = self.hosts[host].groups
        ordered = sorted({*member_of, "all"}, key=lambda g: (self.groups[g].depth, g) if g in self.groups
                         else (0, g))
        for name in ordered:
            if name in self.groups:
                merged.update(self.groups[name].vars)
        merged.update(self.hosts[host].vars)
        return merged


def count_host_pattern(pattern: str) -> int:
    """How many names ``pattern`` expands to, without expanding it."""
    total = 1
    for match in _RANGE.finditer(pattern):
        start, end, step = match.group(1), match.group(2), int(match.group(3) or 1)
        if step < 1:
            raise ValueError(f"bad host range step {step} in {pattern!r}: allowed a step of 1 or more")
        if start.isdigit() and end.isdigit():
            total *= len(range(int(start), int(end) + 1, step))
        elif len(start) == 1 and len(end) == 1:
            total *= len(range(ord(start), ord(end) + 1, step))
        if total > MAX_HOSTS:
            raise ValueError(f"host range {pattern!r} expands to more than {MAX_HOSTS:,} hosts; allowed: at most "
                             f"{MAX_HOSTS:,} hosts in an inventory (a typo in the range?)")
    return total


def expand_host_pattern(pattern: str) -> list[str]:
    """Expand Ansible host ranges: ``gpu[01:04]`` -> gpu01..gpu04, ``rack-[a:c]``, ``n[0:10:5]``."""
    count_host_pattern(pattern)
    match = _RANGE.search(pattern)
    if not match:
        return [pattern]
    start, end, step = match.group(1), match.group(2), int(match.group(3) or 1)
    head, tail = pattern[: match.start()], pattern[match.end():]
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        items = [str(i).zfill(width) for i in range(int(start), int(end) + 1, step)]
    elif len(start) == 1 and len(end) == 1 and start in string.ascii_letters and end in string.ascii_letters:
        items = [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    else:
        raise ValueError(f"bad host range [{start}:{end}] in {pattern!r}: use numbers or single letters")
    if not items:
        raise ValueError(f"empty host range in {pattern!r}: the start is after the end")
    return [expanded for item in items for expanded in expand_host_pattern(head + item + tail)]


def is_addressable(name: str) -> bool:
    """True when ``name`` can be connected to as it is: an IP address or a valid DNS name."""
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    return len(name) <= 253 and all(_DNS_LABEL.match(label) for label in name.rstrip(".").split("."))


class _Reader:
    def __init__(self, path: Path):
        self.inv = Inventory(path=path)
        self.file = str(path)

    def problem(self, message: str, line: int | None = None, column: int | None = None, **kw) -> None:
        kw.setdefault("file", self.file)
        self.inv.problems.append(Problem(message, line=line, column=column, **kw))

    def where(self, mapping: object, key: object) -> tuple[int | None, int | None]:
        if isinstance(mapping, LocatedDict) and key in mapping.lines:
            return mapping.lines[key]
        return None, None

    def report_duplicates(self, mapping: object, what: str, file: str | None = None) -> None:
        if isinstance(mapping, LocatedDict):
            for key, line, column in mapping.duplicates:
                self.problem(f"duplicate {what} {key!r}: defined twice in the same mapping "
                             "(Ansible would silently keep only the last one)", line, column,
                             file=file or self.file)

    def read_vars(self, mapping: object, owner: str, file: str) -> dict[str, VarDef]:
        if mapping is None:
            return {}
        if not isinstance(mapping, dict):
            self.problem(f"vars of {owner} must be a mapping of variable: value, "
                         f"got {type(mapping).__name__}", file=file)
            return {}
        self.report_duplicates(mapping, "variable", file)
        result = {}
        for key, value in mapping.items():
            line, _ = self.where(mapping, key)
            if not isinstance(key, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                self.problem(f"{key!r} is not a valid variable name (letters, digits, underscores; "
                             "not starting with a digit)", line, file=file, host=owner)
                continue
            result[key] = VarDef(value, file, line)
        return result

    def group(self, name: str, body: object, parent: str | None, line: int | None) -> None:
        group = self.inv.groups.setdefault(name, Group(name))
        if parent is not None and name not in self.inv.groups[parent].children:
            self.inv.groups[parent].children.append(name)
        if body is None:
            return
        if not isinstance(body, dict):
            self.problem(f"group {name!r} must be a mapping with keys {', '.join(GROUP_KEYS)}; "
                         f"got {type(body).__name__}", line)
            return
        self.report_duplicates(body, f"key in group {name!r}")
        for key in body:
            if key not in GROUP_KEYS:
                kline, kcol = self.where(body, key)
                self.problem(f"unknown key {key!r} in group {name!r}; allowed: {', '.join(GROUP_KEYS)}",
                             kline, kcol)
        group.vars.update(self.read_vars(body.get("vars"), f"group {name}", self.file))
        hosts = body.get("hosts")
        if hosts is not None and not isinstance(hosts, dict):
            hline, _ = self.where(body, "hosts")
            self.problem(f"hosts of group {name!r} must be a mapping of host name: vars "
                         f"(a list is not valid in YAML inventories); got {type(hosts).__name__}", hline)
        elif hosts:
            self.report_duplicates(hosts, "host")
            for pattern, host_body in hosts.items():
                self.host(str(pattern), host_body, name, *self.where(hosts, pattern))
        children = body.get("children")
        if children is not None and not isinstance(children, dict):
            cline, _ = self.where(body, "children")
            self.problem(f"children of group {name!r} must be a mapping of group name: group", cline)
        elif children:
            self.report_duplicates(children, "child group")
            for child, child_body in children.items():
                self.group(str(child), child_body, name, self.where(children, child)[0])

    def host(self, pattern: str, body: object, group: str, line: int | None, column: int | None) -> None:
        try:
            if len(self.inv.hosts) + count_host_pattern(pattern) > MAX_HOSTS:
                raise ValueError(f"host {pattern!r} takes the inventory over {MAX_HOSTS:,} hosts; allowed: at "
                                 f"most {MAX_HOSTS:,}")
            names = expand_host_pattern(pattern)
        except ValueError as exc:
            self.problem(str(exc), line, column)
            return
        if body is not None and not isinstance(body, dict):
            self.problem(f"host {pattern!r}: its value must be a mapping of variables or empty; "
                         f"got {type(body).__name__}", line, column)
            body = None
        host_vars = self.read_vars(body, pattern, self.file)
        for name in names:
            host = self.inv.hosts.get(name)
            if host is None:
                host = self.inv.hosts[name] = Host(name, self.file, line)
            host.vars.update(host_vars)
            if group not in host.groups:
                host.groups.append(group)


def _vars_files(base: Path, name: str) -> list[Path]:
    found = [base / f"{name}{suffix}" for suffix in VARS_SUFFIXES if (base / f"{name}{suffix}").is_file()]
    directory = base / name
    if directory.is_dir():
        try:
            found += sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in VARS_SUFFIXES)
        except OSError:  # an unreadable sub-directory: load() of the directory itself reports it
            found.append(directory)
    return found


def _load_vars_dir(reader: _Reader, kind: str, names: list[str]) -> dict[str, dict[str, VarDef]]:
    base = reader.inv.path.parent / kind
    result: dict[str, dict[str, VarDef]] = {}
    if not base.is_dir():
        return result
    known = set(names)
    try:
        entries = sorted(base.iterdir())
    except OSError as exc:
        reader.problem(f"{kind}/ cannot be read: {exc.strerror or exc}; allowed: a readable directory",
                       file=str(base))
        return result
    for entry in entries:
        stem = entry.name if entry.is_dir() else entry.stem if entry.suffix in VARS_SUFFIXES else None
        if stem and stem not in known and not stem.startswith("."):
            what = "group" if kind == "group_vars" else "host"
            reader.problem(f"{kind}/{entry.name} names no {what} of this inventory "
                           f"(a typo, or a {what} that was removed?)", file=str(entry), severity="warning")
    for name in names:
        for path in _vars_files(base, name):
            try:
                data = load(path)
            except YamlSyntaxError as exc:
                reader.problem(str(exc), exc.line, exc.column, file=str(path))
                continue
            if data is None or type(data).__name__ == "VaultValue":
                continue
            result.setdefault(name, {}).update(reader.read_vars(data, f"{kind}/{name}", str(path)))
    return result


def _assign_depths(inv: Inventory, reader: _Reader) -> None:
    """Depth from ``all`` decides precedence; a cycle in children is an error."""
    parents: dict[str, set[str]] = {name: set() for name in inv.groups}
    for group in inv.groups.values():
        for child in group.children:
            parents[child].add(group.name)
    indegree = {name: len(p) for name, p in parents.items()}
    queue = deque(name for name, d in indegree.items() if d == 0)
    seen = 0
    while queue:
        name = queue.popleft()
        seen += 1
        for child in inv.groups[name].children:
            inv.groups[child].depth = max(inv.groups[child].depth, inv.groups[name].depth + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    if seen != len(inv.groups):
        cyclic = sorted(name for name, d in indegree.items() if d > 0)
        reader.problem(f"group children form a cycle through: {', '.join(cyclic)}")
    for host in inv.hosts.values():  # a host is in every ancestor group too
        stack, closure = list(host.groups), set(host.groups)
        while stack:
            for parent in parents.get(stack.pop(), ()):
                if parent not in closure:
                    closure.add(parent)
                    stack.append(parent)
        host.groups = sorted(closure | {"all"}, key=lambda g: (inv.groups[g].depth if g in inv.groups else 0, g))


def _check_hosts(inv: Inventory, reader: _Reader) -> None:
    by_folded: dict[str, str] = {}
    by_address: dict[tuple[str, str], str] = {}
    for name, host in inv.hosts.items():
        folded = name.lower().rstrip(".")
        if folded in by_folded and by_folded[folded] != name:
            reader.problem(f"hosts {by_folded[folded]!r} and {name!r} differ only in case: host names are "
                           "DNS names, so they are the same machine", host.line, file=host.file, host=name)
        by_folded.setdefault(folded, name)
        merged = inv.merged_vars(name)
        connection = merged.get("ansible_connection")
        address = merged.get("ansible_host")
        if connection is not None and isinstance(connection.value, str) and connection.value in LOCAL_CONNECTIONS:
            continue
        if address is None and not is_addressable(name):
            reader.problem(f"host {name!r} has no ansible_host and its name is not a valid DNS name or IP "
                           "address; set ansible_host (or ansible_connection: local)", host.line,
                           file=host.file, host=name)
        if address is not None:
            port = merged.get("ansible_port")
            key = (str(address.value), str(port.value) if port else "22")
            if key in by_address:
                reader.problem(f"hosts {by_address[key]!r} and {name!r} both point at "
                               f"{key[0]} port {key[1]}: one machine listed twice", address.line,
                               file=address.file, host=name)
            by_address.setdefault(key, name)


def read_inventory(path: Path) -> Inventory:
    """Parse ``path`` and its vars dirs; every structural problem is collected, none raised."""
    reader = _Reader(path)
    inv = reader.inv
    try:
        data = load(path)
    except YamlSyntaxError as exc:
        reader.problem(str(exc), exc.line, exc.column)
        return inv
    if not isinstance(data, dict):
        reader.problem("an inventory must be a YAML mapping of group names (usually starting with 'all:'); "
                       f"got {type(data).__name__ if data is not None else 'an empty file'}")
        return inv
    reader.report_duplicates(data, "group")
    inv.groups.setdefault("all", Group("all"))
    for name, body in data.items():
        reader.group(str(name), body, None if name == "all" else "all", reader.where(data, name)[0])
    for name, group_vars in _load_vars_dir(reader, "group_vars", list(inv.groups)).items():
        inv.groups[name].vars.update(group_vars)
    for name, host_vars in _load_vars_dir(reader, "host_vars", list(inv.hosts)).items():
        inv.hosts[name].vars.update(host_vars)
    if not inv.hosts:
        reader.problem("the inventory defines no hosts")
    _assign_depths(inv, reader)
    _check_hosts(inv, reader)
    return inv
