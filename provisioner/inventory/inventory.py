"""The inventory exactly as Ansible has it: ansible-core's InventoryManager parses every source
(INI, YAML, directories, plugins such as ``constructed``, several ``-i``), and each host's variables
are merged in the order Ansible's VariableManager uses (group depth and ``ansible_group_priority``,
``group_vars/``/``host_vars/`` on top of the source). :mod:`provisioner.invsource` says where each
value was written. No host is contacted.

Only the structure is judged here; variable values are judged in :mod:`provisioner.plan.validate`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.inventory.helpers import sort_groups
from ansible.inventory.manager import IGNORED, InventoryManager
from ansible.utils.display import Display
from ansible.vars.plugins import get_vars_from_inventory_sources

from ..errors import Problem
from ..paths import collection_imports
from . import bounds, invsource
from .ranges import range_problems

_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
LOCAL_CONNECTIONS = {"local"}
VARS_DIRS = ("group_vars", "host_vars")
# Ansible warnings that the located checks and parse errors already report.
_OURS = ("Skipping unexpected key", "Failed to parse inventory with", "Unable to parse", "No inventory was parsed")
_QUOTED = re.compile(r"'([^']+)'|(\[[^\]]+\])|got: (.+)$")



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
    priority: int = 1


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
    sources: list[Path] = field(default_factory=list)
    hosts: dict[str, Host] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    manager: InventoryManager | None = None
    merged: dict[str, dict[str, VarDef]] = field(default_factory=dict)

    def merged_vars(self, host: str) -> dict[str, VarDef]:
        """The host's variables as ``ansible-inventory --list`` shows them, each with its source."""
        return dict(self.merged[host])


def is_addressable(name: str) -> bool:
    """True when ``name`` can be connected to as it is: an IP address or a valid DNS name."""
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    return len(name) <= 253 and all(_DNS_LABEL.match(label) for label in name.rstrip(".").split("."))


@contextmanager
def _captured_warnings(into: list[str]):
    display = Display()

    def warning(msg, *args, **kwargs):
        into.append(str(msg))

    def error_as_warning(msg, exception, *args, **kwargs):
        cause = exception.__cause__ or exception
        obj = getattr(exception, "obj", None)
        line = getattr(obj, "line_num", None)
        into.append(f"{msg or ''}|{line or ''}|{cause}")

    with mock.patch.object(display, "warning", warning), mock.patch.object(display, "error_as_warning",
                                                                            error_as_warning):
        yield


def is_host_list(source: Path | str) -> bool:
    """A comma-separated host list (``gpu1,gpu2,``, ``localhost,``), as ansible's host_list plugin
    tells one: no such path, and a comma in it. It has no files and no group_vars/host_vars."""
    return "," in str(source) and not os.path.exists(source)


def _source_files(source: Path) -> list[Path]:
    """The files Ansible reads for a source: the file, or a directory's entries it does not ignore."""
    if is_host_list(source):
        return []
    if not source.is_dir():
        return [source]
    found = []
    for entry in sorted(os.listdir(source)):
        if IGNORED.search(entry.encode()) or entry in VARS_DIRS:
            continue
        found += _source_files(source / entry)
    return found


def _vars_dirs(paths: list[Path]) -> list[Path]:
    """group_vars/ and host_vars/ beside or inside each source, with what is in them."""
    found = []
    for source in (p for p in paths if not is_host_list(p)):
        base = source if source.is_dir() else source.parent
        for name in VARS_DIRS:
            folder = base / name
            if folder.is_dir():
                found.append(folder)
                found += _walk(folder)
    return found


def _walk(folder: Path) -> list[Path]:
    """Everything below ``folder``; an unreadable directory raises OSError (the caller reports it)."""
    found = []
    for entry in sorted(folder.iterdir()):
        found.append(entry)
        if entry.is_dir():
            found += _walk(entry)
    return found


def _locate(path: str, message: str) -> int | None:
    """The line an INI parse error is about: Ansible quotes the offending text but loses the line."""
    match = _QUOTED.search(message)
    fragment = next((g for g in match.groups() if g), None) if match else None
    if not fragment:
        return None
    for number, line in enumerate(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if fragment.strip() in line and not line.lstrip().startswith(("#", ";")):
            return number
    return None


def _parse_failures(source: str, warnings: list[str], loader: invsource.LocatingLoader) -> list[Problem]:
    """Why no inventory plugin accepted ``source``, in the words of the plugin meant for it."""
    path = str(Path(source).resolve())
    data = loader._parsed.get(path)
    yaml_like = Path(path).suffix in invsource.YAML_SUFFIXES or isinstance(data, dict)
    if path in loader.syntax_errors and Path(path).suffix in invsource.YAML_SUFFIXES:
        error = loader.syntax_errors[path]
        return [Problem(str(error), file=path, line=error.line, column=error.column)]
    is_plugin_config = isinstance(data, dict) and bool(data.get("plugin"))
    wanted = ("'auto'",) if is_plugin_config else ("'yaml'",) if yaml_like else ("'ini'",)
    problems = []
    for text in warnings:
        if text.startswith(("Failed to parse inventory with", "Error loading plugin")) and (
                any(w in text for w in wanted) or text.startswith("Error loading plugin")):
            plugin = text.split("'")[1]
            _, line, cause = text.split("|", 2)
            number = int(line) if line else None if yaml_like else _locate(path, cause)
            problems.append(Problem(f"Ansible cannot parse this inventory ({plugin} plugin): {cause}", file=path,
                                    line=number))
    return problems or [Problem("Ansible could not parse this as an inventory source (INI, YAML, or an "
                                "inventory plugin configuration)", file=path)]


def _stray_vars_files(inv: Inventory, problems: list[Problem]) -> None:
    dirs = {s if s.is_dir() else s.parent for s in inv.sources if not is_host_list(s)}
    for base in sorted(dirs):
        for kind, names in (("group_vars", inv.groups), ("host_vars", inv.hosts)):
            for entry in sorted((base / kind).iterdir()) if (base / kind).is_dir() else []:
                stem = entry.name if entry.is_dir() else entry.stem if entry.suffix in invsource.YAML_SUFFIXES \
                    else None
                if stem and stem not in names and not stem.startswith("."):
                    what = "group" if kind == "group_vars" else "host"
                    problems.append(Problem(f"{kind}/{entry.name} names no {what} of this inventory (a typo, or a "
                                            f"{what} that was removed?)", file=str(entry), severity="warning"))


def _build(inv: Inventory, manager: InventoryManager, loader: invsource.LocatingLoader,
           locations: invsource.Locations) -> None:
    """Groups and hosts with their own variables, and each host's merged variables in the order of
    VariableManager.get_vars (C.VARIABLE_PRECEDENCE, default): all's inventory vars, the other groups'
    (sorted by depth, ansible_group_priority, name), then vars plugins (group_vars/) for all, for the
    groups, then the host's inventory vars and its vars plugins (host_vars/)."""
    hidden = C.INTERNAL_STATIC_VARS
    definitions: dict[tuple, VarDef] = {}  # one VarDef per (place, value): rules group hosts by identity
    sources = [s for s in manager._sources if s]
    plugin_vars: dict[tuple[str, str, str], dict] = {}

    def vardef(kind: str, entity: str, name: str, value: object) -> VarDef:
        file, line = locations.where(kind, entity, name) or (f"{kind} {entity}", None)
        key = (file, line, name, id(value))
        if key not in definitions:
            definitions[key] = VarDef(value, file, line)
        return definitions[key]

    # Only the built-in host_group_vars plugin, and no host_vars/ beside any source: the host layer of
    # the vars plugins is empty, so 10,000 hosts need not ask for it.
    host_layer = set(C.VARIABLE_PLUGINS_ENABLED) - {"host_group_vars", "ansible.builtin.host_group_vars"} or any(
        ((Path(s) if Path(s).is_dir() else Path(s).parent) / "host_vars").is_dir() for s in sources
        if not is_host_list(s))

    def plugins(kind: str, entity) -> list[tuple[str, str, dict]]:
        if kind == "host" and not host_layer:
            return []
        layers = []
        for source in sources:
            key = (source, kind, entity.name)
            if key not in plugin_vars:
                plugin_vars[key] = get_vars_from_inventory_sources(loader, [source], [entity], "all") or {}
            layers.append((kind, entity.name, plugin_vars[key]))
        return layers

    def flatten(layers) -> dict[str, VarDef]:
        merged: dict[str, VarDef] = {}
        for kind, entity, values in layers:
            for key, value in values.items():
                if key not in hidden:
                    merged[key] = vardef(kind, entity, key, value)
        return merged

    for name, group in manager.groups.items():
        inv.groups[name] = Group(name, flatten([("group", name, group.vars), *plugins("group", group)]),
                                 [c.name for c in group.child_groups], group.depth, group.priority)
    all_group = manager.groups["all"]
    for name, host in manager.hosts.items():
        host_groups = sort_groups([g for g in host.get_groups() if g.name != "all"])
        own = [("host", name, host.vars), *plugins("host", host)]
        layers = [("group", "all", all_group.vars)]
        layers += [("group", g.name, g.vars) for g in host_groups]
        layers += plugins("group", all_group)
        layers += [layer for g in host_groups for layer in plugins("group", g)]
        inv.merged[name] = flatten(layers + own)
        file, line = locations.hosts.get(name, (str(inv.path), None))
        inv.hosts[name] = Host(name, file, line, flatten(own), [g.name for g in sort_groups(host.get_groups())])


def path_like_name(name: str) -> str | None:
    """Why ``name`` cannot be a host name of this tool (it becomes file names on the controller), or None."""
    if "/" in name or "\\" in name:
        return "holds a path separator ('/' or '\\')"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "holds a control character"
    return "is a directory name" if name in (".", "..") else None


def _check_hosts(inv: Inventory) -> None:
    by_folded: dict[str, str] = {}
    by_address: dict[tuple[str, str], str] = {}
    for name, host in inv.hosts.items():
        if why := path_like_name(name):
            inv.problems.append(Problem(f"host name {name!r} {why}; allowed: any name without '/', '\\' or "
                                        "control characters, other than '.' and '..' (put an address in "
                                        "ansible_host)", file=host.file, line=host.line, host=repr(name)))
            continue
        folded = name.lower().rstrip(".")
        if folded in by_folded and by_folded[folded] != name:
            inv.problems.append(Problem(f"hosts {by_folded[folded]!r} and {name!r} differ only in case: host names "
                                        "are DNS names, so they are the same machine", file=host.file,
                                        line=host.line, host=name))
        by_folded.setdefault(folded, name)
        merged = inv.merged[name]
        connection = merged.get("ansible_connection")
        address = merged.get("ansible_host") or merged.get("ansible_ssh_host")
        if connection is not None and isinstance(connection.value, str) and connection.value in LOCAL_CONNECTIONS:
            continue
        if address is None and not is_addressable(name):
            inv.problems.append(Problem(f"host {name!r} has no ansible_host and its name is not a valid DNS name or "
                                        "IP address; set ansible_host (or ansible_connection: local)",
                                        file=host.file, line=host.line, host=name))
        if address is not None and isinstance(address.value, str | int):
            port = merged.get("ansible_port") or merged.get("ansible_ssh_port")
            key = (str(address.value), str(port.value) if port else "22")
            if key in by_address:
                inv.problems.append(Problem(f"hosts {by_address[key]!r} and {name!r} both point at {key[0]} port "
                                            f"{key[1]}: one machine listed twice", file=address.file,
                                            line=address.line, host=name))
            by_address.setdefault(key, name)


def read_inventory(path: Path | str | list[Path | str]) -> Inventory:
    """Parse every source with ansible-core; every problem is collected, none raised."""
    paths = [Path(p) for p in (path if isinstance(path, list) else [path])]
    inv = Inventory(path=paths[0], sources=paths)
    missing = [p for p in paths if not p.exists() and not is_host_list(p)]
    for p in missing:
        inv.problems.append(Problem("no such file or directory", file=str(p)))
    if missing:
        return inv
    sources = [str(p if is_host_list(p) else p.resolve()) for p in paths]
    try:
        files = [f for p in paths for f in _source_files(p)]
        listed = [*files, *_vars_dirs(paths)]
        unreadable = [f for f in listed if not os.access(f, os.R_OK)]
    except OSError as exc:
        inv.problems.append(Problem(f"cannot read {exc.filename or paths[0]}: {exc.strerror}; allowed: inventory "
                                    "files and group_vars/host_vars this user can read",
                                    file=str(exc.filename or paths[0])))
        return inv
    if unreadable:
        inv.problems.extend(Problem(f"{f.name}: Permission denied (not readable by this user); allowed: readable "
                                    "inventory files and group_vars/host_vars", file=str(f)) for f in unreadable)
        return inv
    too_many = bounds.size_problems(listed) or range_problems(files)  # before anything is parsed
    if too_many:
        inv.problems.extend(too_many)
        return inv
    collection_imports()  # Ansible's collection loader, so `plugin: ansible.builtin.constructed` loads
    locations = invsource.Locations()
    loader = invsource.LocatingLoader([str(f) for p in paths for f in _source_files(p)], inv.problems, locations)
    warnings: list[str] = []
    with _captured_warnings(warnings):
        try:
            manager = InventoryManager(loader=loader, sources=sources)
        except AnsibleError as exc:
            inv.problems.append(Problem(f"Ansible cannot read the inventory: {exc.message}", file=sources[0]))
            return inv
        try:
            _index_and_build(inv, paths, manager, loader, locations, warnings)
        except AnsibleError as exc:  # e.g. a group_vars file that is a list: Ansible cannot combine it
            inv.problems.append(Problem(f"Ansible cannot read the inventory's variables: {exc.message}",
                                        file=sources[0]))
            return inv
    for text in dict.fromkeys(warnings):  # Ansible repeats some warnings once per group
        if not text.startswith(_OURS) and "|" not in text:
            inv.problems.append(Problem(f"Ansible: {text}", file=sources[0], severity="warning"))
    if not inv.hosts and not any(p.severity == "error" for p in inv.problems):
        inv.problems.append(Problem("the inventory defines no hosts", file=sources[0]))
    _stray_vars_files(inv, inv.problems)
    _check_hosts(inv)
    return inv


def _index_and_build(inv: Inventory, paths: list[Path], manager: InventoryManager,
                     loader: invsource.LocatingLoader, locations: invsource.Locations, warnings: list[str]) -> None:
    processed = {str(Path(s).resolve()) for s in manager._inventory.processed_sources if s}
    for source in paths:
        for file in _source_files(source.resolve()):
            text = str(file)
            data = loader._parse(text) if file.suffix != ".ini" else None
            why = source.is_dir() and invsource.not_inventory(data, loader.syntax_errors.get(text))
            if why:
                inv.problems.append(Problem(f"not an inventory file ({why}): passed over, as Ansible passes over "
                                            "it with warnings; move it out of the inventory directory to silence this",
                                            file=text, severity="warning"))
                continue
            if text not in processed:
                inv.problems.extend(_parse_failures(text, warnings, loader))
                if isinstance(data, dict):  # located reasons for what Ansible refused
                    invsource.YamlIndexer(text, locations, inv.problems).index(data)
                continue
            if isinstance(data, dict):
                invsource.YamlIndexer(text, locations, inv.problems).index(data)
            else:
                invsource.index_ini(text, file.read_text(encoding="utf-8", errors="replace"), locations)
    inv.manager = manager
    _build(inv, manager, loader, locations)
