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
# Bounds on what one YAML document may expand to: aliases share one object in memory, but
# anything that walks the data (validation, messages, JSON) pays for every expansion, so an
# alias bomb is refused before it is built. Far above any real inventory or vars file.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_NODES = 1_000_000
MAX_DEPTH = 100


class LoadLimitError(Exception):
    """A YAML document over the size, expansion or nesting bounds; ``line``: where (1-based)."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def check_expansion(root: yaml.Node, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> int:
    """The number of nodes ``root`` expands to with every alias followed; LoadLimitError when it
    is over ``max_nodes``, nested deeper than ``max_depth`` or recursive (an alias to an ancestor)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool, int]] = [(root, False, 1)]
    while stack:
        node, done, depth = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > max_nodes:
                raise LoadLimitError(f"the document expands to more than {max_nodes:,} values (aliases "
                                     f"followed; line {node.start_mark.line + 1}): an alias bomb? allowed: at "
                                     f"most {max_nodes:,}", node.start_mark.line + 1)
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if depth > max_depth:
            raise LoadLimitError(f"nesting deeper than {max_depth} levels at line {node.start_mark.line + 1}; "
                                 f"allowed: at most {max_depth}", node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True, depth))
        for child in _children(node):
            if id(child) in on_path:
                raise LoadLimitError(f"a recursive alias at line {child.start_mark.line + 1} (it contains "
                                     "itself); allowed: aliases to values defined before and outside them",
                                     child.start_mark.line + 1)
            if id(child) not in sizes:
                stack.append((child, False, depth + 1))
    return sizes[id(root)]


class LocatedDict(dict):
    """A mapping that remembers the 1-based line and column of each key."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines: dict[object, tuple[int, int]] = {}
        self.duplicates: list[tuple[object, int, int]] = []


def plain(value: object) -> object:
    """``value`` with every LocatedDict made a plain dict, at any depth: ansible-core stores only the
    types it knows as variables (2.19 refuses a dict subclass), so what goes to it is plain."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


@dataclass(frozen=True)
class VaultValue:
    """A wholly vault-encrypted file: opaque here, never printed."""

    def __repr__(self) -> str:
        return "<vault-encrypted>"


def is_vaulted(value: object) -> bool:
    """A vault-encrypted file or ``!vault`` scalar (Ansible's own EncryptedString): never judged here."""
    return isinstance(value, VaultValue | EncryptedString)


class _LocatingLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    def construct_document(self, node: yaml.Node) -> object:
        check_expansion(node)
        return super().construct_document(node)


def _construct_mapping(loader: _LocatingLoader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    result = LocatedDict()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:  # a list or mapping as a key: located, as a syntax error is
            raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                    f"found an unhashable key (a {type(key).__name__}); allowed: "
                                                    "a string, number or boolean", key_node.start_mark) from None
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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise YamlSyntaxError(path, None, None, f"file of {size:,} bytes; allowed: at most {MAX_FILE_BYTES:,}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(path, None, None, f"cannot read: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise YamlSyntaxError(path, None, None, f"cannot read: {exc.strerror or exc}") from exc
    if text.startswith("$ANSIBLE_VAULT"):
        return VaultValue()
    return loads(text, path)


def loads(text: str, source: Path | str = "(text)") -> object:
    """Parse YAML text within the bounds; problems are YamlSyntaxError naming ``source``."""
    path = Path(str(source))
    try:
        return yaml.load(text, Loader=_LocatingLoader)  # noqa: S506 - safe loader subclass
    except LoadLimitError as exc:
        raise YamlSyntaxError(path, exc.line, None, f"YAML refused: {exc}") from None
    except yaml.reader.ReaderError as exc:  # a NUL or other control character: located by its position
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        raise YamlSyntaxError(path, line, column, f"YAML error: unacceptable character #x{code:04x}: "
                              f"{exc.reason}; remove it") from None
    except RecursionError:
        raise YamlSyntaxError(path, None, None, f"YAML refused: nested too deeply; allowed: at most "
                              f"{MAX_DEPTH} levels") from None
    except (TypeError, ValueError) as exc:  # e.g. a mapping or list used as a mapping key
        raise YamlSyntaxError(path, None, None, f"YAML error: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p) or str(exc)
        raise YamlSyntaxError(path, line, column, f"YAML syntax error: {message}") from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(path, None, None, f"YAML error: {exc}") from exc
