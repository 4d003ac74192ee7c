"""YAML loading that keeps where every key came from, and rejects duplicate keys.

Ansible silently keeps the last of two identical keys; for an inventory that hides a
duplicated host or variable, so the loader reports it instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from ansible.parsing.vault import EncryptedString

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocatedDict(dict):
    """A mapping that remembers the 1-based line and column of each key."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines: dict[object, tuple[int, int]] = {}
        self.duplicates: list[tuple[object, int, int]] = []


@dataclass(frozen=True)
class VaultValue:
    """A wholly vault-encrypted file: opaque here, never printed."""

    def __repr__(self) -> str:
        return "<vault-encrypted>"


def is_vaulted(value: object) -> bool:
    """A vault-encrypted file or ``!vault`` scalar (Ansible's own EncryptedString): never judged here."""
    return isinstance(value, VaultValue | EncryptedString)


class _LocatingLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    pass


def _construct_mapping(loader: _LocatingLoader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    result = LocatedDict()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        if key in result:
            result.duplicates.append((key, *where))
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = where
    return result


_LocatingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# ``!vault`` scalars become the type Ansible's own loader makes, so inventories can hold them.
_LocatingLoader.add_constructor("!vault",
                                lambda loader, node: EncryptedString(ciphertext=loader.construct_scalar(node)))
_LocatingLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


class YamlSyntaxError(Exception):
    def __init__(self, path: Path, line: int | None, column: int | None, message: str):
        self.path, self.line, self.column = path, line, column
        super().__init__(message)


def load(path: Path) -> object:
    """Parse one YAML file; syntax errors carry file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlSyntaxError(path, None, None, f"cannot read: {exc}") from exc
    if text.startswith("$ANSIBLE_VAULT"):
        return VaultValue()
    try:
        return yaml.load(text, Loader=_LocatingLoader)  # noqa: S506 - safe loader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p) or str(exc)
        raise YamlSyntaxError(path, line, column, f"YAML syntax error: {message}") from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(path, None, None, f"YAML error: {exc}") from exc
