"""``-e/--extra-vars`` as ansible-playbook takes them (``@file``, a YAML/JSON mapping, key=value),
parsed once, with three outputs:

- the variables, located, for validation;
- the values handed to Ansible through private 0600 files (never on a command line, so never in
  ``ps`` or in runner's ``command`` artifact); key=value values of the roles' bool/int/float
  variables are converted with Ansible's own rules (``gpu_smoke_require_gpu=false`` is false);
- what report.json records: names that look secret have their value redacted.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Problem
from ..inventory.bounds import file_problem
from ..inventory.yamlsrc import LoadLimitError, VaultValue, YamlSyntaxError, load, loads
from . import deadline

CMDLINE = "(command line -e)"
REDACTED = "<redacted>"
SECRET_NAME = re.compile(r"pass|pwd|secret|token|key|cred|auth|cookie|session|private|cert|signature|bearer",
                         re.IGNORECASE)
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ITEM_CHARS = 1024 * 1024


@dataclass
class Item:
    """One ``-e`` argument: ``kind`` is file, mapping or kv."""

    kind: str
    raw: str
    values: dict[str, object] = field(default_factory=dict)
    lines: dict[str, int | None] = field(default_factory=dict)
    source: str = CMDLINE


def looks_secret(name: object) -> bool:
    return isinstance(name, str) and bool(SECRET_NAME.search(name))


def _bad_names(values: dict, source: str, problems: list[Problem]) -> bool:
    bad = [k for k in values if not isinstance(k, str) or not VAR_NAME.match(k)]
    for key in bad:
        problems.append(Problem(f"{key!r} ({type(key).__name__}) is not a valid variable name; allowed: letters, "
                                "digits and underscores, not starting with a digit", file=source))
    return bool(bad)


def _parse_kv(text: str, problems: list[Problem]) -> dict[str, str] | None:
    from ansible.errors import AnsibleError
    from ansible.parsing.splitter import parse_kv

    try:
        data = parse_kv(text)
    except AnsibleError as exc:
        problems.append(Problem(f"-e {text!r}: {str(exc).splitlines()[0]}; allowed: key=value pairs "
                                "(quote values with spaces), a YAML/JSON mapping, or @file", file=CMDLINE))
        return None
    if "_raw_params" in data:
        problems.append(Problem(f"-e {text!r}: {data['_raw_params']!r} is not key=value; allowed: key=value, "
                                "a YAML/JSON mapping, or @file", file=CMDLINE))
        return None
    return data


def parse(items: list[str], problems: list[Problem]) -> list[Item]:
    """Every ``-e`` item, in order; each problem is appended to ``problems``, none raised."""
    parsed: list[Item] = []
    for raw in items:
        if len(raw) > MAX_ITEM_CHARS:
            problems.append(Problem(f"-e value of {len(raw)} characters; allowed: at most {MAX_ITEM_CHARS} "
                                    "(put large data in a file and pass -e @file)", file=CMDLINE))
            continue
        if raw.startswith("@"):
            path = Path(raw[1:]).expanduser()
            if not raw[1:] or not path.is_file():
                problems.append(Problem(f"extra-vars file {raw[1:]!r} does not exist (or is not a file)",
                                        file=raw[1:] or "(empty -e @)"))
                continue
            if too_large := file_problem(path, yaml=True):  # bounded before it is parsed, as inventories are
                problems.append(too_large)
                continue
            try:
                with deadline.reading(f"-e @{path}"):
                    data = load(path)
            except YamlSyntaxError as exc:
                problems.append(Problem(str(exc), file=str(path), line=exc.line, column=exc.column))
                continue
            if isinstance(data, VaultValue) or data is None:  # vaulted: Ansible decrypts it, we do not
                parsed.append(Item("file", raw, source=str(path)))
                continue
            if not isinstance(data, dict):
                problems.append(Problem(f"an extra-vars file must hold a mapping of variable: value; it holds "
                                        f"{type(data).__name__}", file=str(path)))
                continue
            if _bad_names(data, str(path), problems):
                continue
            lines = getattr(data, "lines", {})
            parsed.append(Item("file", raw, dict(data), {k: lines.get(k, (None,))[0] for k in data}, str(path)))
        elif raw.lstrip()[:1] in ("{", "["):
            try:
                data = loads(raw, CMDLINE)
            except (YamlSyntaxError, LoadLimitError) as exc:
                problems.append(Problem(f"-e {raw[:200]!r} is not valid YAML/JSON: {exc}", file=CMDLINE))
                continue
            if not isinstance(data, dict):
                problems.append(Problem(f"-e {raw[:200]!r}: a YAML/JSON extra-vars value must be a mapping; "
                                        f"it is {type(data).__name__}", file=CMDLINE))
                continue
            if _bad_names(data, CMDLINE, problems):
                continue
            parsed.append(Item("mapping", raw, dict(data)))
        else:
            data = _parse_kv(raw, problems)
            if data is None or _bad_names(data, CMDLINE, problems):
                continue
            parsed.append(Item("kv", raw, dict(data)))
    return parsed


def convert_kv(name: str, value: str, spec_type: str | None) -> object:
    """A key=value string as the role's spec type, by Ansible's own conversion rules."""
    from ansible.module_utils.common.validation import check_type_bool, check_type_float, check_type_int

    converters = {"bool": check_type_bool, "int": check_type_int, "float": check_type_float}
    if spec_type in converters:
        try:
            return converters[spec_type](value)
        except (TypeError, ValueError):
            return value  # validation reports it, with what is allowed
    return value


def handed_to_ansible(items: list[Item], spec_types: dict[str, str], directory: Path) -> list[str]:
    """``--extra-vars`` arguments for ansible-playbook: ``@file`` items as they are, every other item
    written to a 0600 JSON file in ``directory`` (private, removed when the run ends)."""
    args = []
    for index, item in enumerate(items):
        if item.kind == "file":
            args.append("@" + str(Path(item.raw[1:]).expanduser().resolve()))
            continue
        values = item.values
        if item.kind == "kv":
            values = {k: convert_kv(k, v, spec_types.get(k)) for k, v in values.items()}
        path = directory / f"extra-vars-{index}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(values, handle, default=str)
        args.append(f"@{path}")
    return args


def _secret_names(value: object, name: object = None) -> list[str]:
    if looks_secret(name):
        return [str(name)]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _secret_names(v, k)]
    if isinstance(value, list):
        return [n for v in value for n in _secret_names(v)]
    return []


def command_line_secrets(items: list[Item]) -> list[str]:
    """A warning per -e given on the command line with a secret-looking name: the CLI keeps it off
    disk and away from ansible-playbook's command line, but its own command line is visible in
    ``ps`` and shell history while it runs."""
    return [f"-e {', '.join(sorted(set(names)))}: a secret-looking value on the command line is visible in ps and "
            "shell history; pass secrets with -e @FILE (ansible-vault encrypted) instead"
            for item in items if item.kind != "file" and (names := _secret_names(item.values))]


def redact(value: object, name: object = None) -> object:
    """``value`` with every value under a secret-looking name replaced by ``<redacted>``."""
    if looks_secret(name) or isinstance(value, VaultValue):
        return REDACTED
    if isinstance(value, dict):
        return {str(k): redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def public(items: list[Item]) -> list[str]:
    """What report.json records for ``-e``: files by path, values redacted under secret-looking names."""
    out = []
    for item in items:
        if item.kind == "file":
            out.append(item.raw)
        elif item.kind == "kv":
            out.append(" ".join(f"{k}={redact(v, k)}" for k, v in item.values.items()))
        else:
            out.append(json.dumps(redact(item.values), default=str))
    return out
