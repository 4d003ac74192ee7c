"""Render and validate modprobe.d(5) lines from structured data.

`modprobe_conf_lines(options, blacklist, extra_lines)` returns the validated lines of the
file; any invalid entry raises a ValueError (AnsibleFilterError under Ansible) naming the
offending entry and what is allowed. The guide's bare `enable_unsafe_pci_dma=1` line is the
motivating case: it is not modprobe syntax (a parameter needs `options <module> ...`).
"""

from __future__ import annotations

import re

try:  # Ansible turns AnsibleFilterError into a clean task failure; plain ValueError for unit tests.
    from ansible.errors import AnsibleFilterError as _FilterError
except ImportError:  # pragma: no cover - Ansible is present wherever the role runs
    _FilterError = ValueError

# Module names: what the kernel's module loader accepts (modprobe treats '-' and '_' alike).
MODULE_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# Parameter names: C identifiers; a dot is allowed for built-in `module.param` style names.
PARAM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
# An unquoted value: no whitespace, quotes or comment characters.
BARE_VALUE_RE = re.compile(r"^[^\s\"'#]+$")
KEYWORDS = ("alias", "blacklist", "install", "options", "remove", "softdep")


class ModprobeConfError(_FilterError):  # type: ignore[misc,valid-type]
    """An entry that cannot become a valid modprobe.d line."""


def _check_module(name: object, where: str) -> str:
    if not isinstance(name, str) or not MODULE_RE.match(name):
        hint = ""
        if isinstance(name, str) and "=" in name:
            hint = (
                f" ('{name}' looks like a parameter: write it as `options <module> {name}`, i.e."
                " modprobe_options: {<module>: {param: value}})"
            )
        raise ModprobeConfError(
            f"{where}: invalid module name {name!r}: allowed are letters, digits, '_' and '-'{hint}"
        )
    return name


def _format_value(module: str, param: str, value: object) -> str:
    if isinstance(value, bool):  # kernel bool params accept 1/0
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):  # array parameters are comma separated
        return ",".join(_format_value(module, param, v) for v in value)
    if isinstance(value, str):
        if "\n" in value or '"' in value or "#" in value:
            raise ModprobeConfError(
                f"modprobe_options.{module}.{param}: value {value!r} may not contain a newline, a double quote or '#'"
            )
        if value == "":
            raise ModprobeConfError(f"modprobe_options.{module}.{param}: empty value")
        return value if BARE_VALUE_RE.match(value) else f'"{value}"'
    raise ModprobeConfError(
        f"modprobe_options.{module}.{param}: value {value!r} has unsupported type"
        f" {type(value).__name__}; allowed: string, integer, boolean or a list of those"
    )


def options_line(module: str, params: object) -> str:
    """`options <module> p1=v1 p2=v2` from a mapping of parameter -> value."""
    _check_module(module, "modprobe_options")
    if not isinstance(params, dict) or not params:
        raise ModprobeConfError(
            f"modprobe_options.{module}: expected a non-empty mapping of parameter -> value, got"
            f" {params!r}. A bare '{module}={params}' line is not modprobe syntax: parameters"
            f" belong to a module, e.g. modprobe_options: {{<module>: {{{module}: {params}}}}}"
            f" which renders `options <module> {module}={params}`"
        )
    rendered = []
    for param, value in params.items():
        if not isinstance(param, str) or not PARAM_RE.match(param):
            raise ModprobeConfError(
                f"modprobe_options.{module}: invalid parameter name {param!r}: allowed is a C"
                " identifier (letters, digits, '_', not starting with a digit)"
            )
        rendered.append(f"{param}={_format_value(module, param, value)}")
    return f"options {module} " + " ".join(rendered)


def validate_line(line: object) -> str:
    """Validate one raw modprobe.d line (for modprobe_extra_lines); return it stripped."""
    if not isinstance(line, str) or "\n" in line:
        raise ModprobeConfError(f"modprobe_extra_lines: {line!r} is not a single line of text")
    text = line.strip()
    if text == "" or text.startswith("#"):
        return text
    words = text.split()
    keyword = words[0]
    if keyword not in KEYWORDS:
        hint = ""
        if "=" in keyword:
            hint = (
                f" The guide's bare '{text}' is not modprobe syntax: a parameter must be written"
                f" `options <module> {text}` (use modprobe_options: {{<module>: {{...}}}})."
            )
        raise ModprobeConfError(
            f"modprobe_extra_lines: invalid line {text!r}: a line must start with one of"
            f" {', '.join(KEYWORDS)} (or '#').{hint}"
        )
    if keyword == "alias":
        if len(words) != 3:
            raise ModprobeConfError(f"modprobe_extra_lines: {text!r}: expected `alias <wildcard> <module>`")
        _check_module(words[2], f"modprobe_extra_lines: {text!r}")
        return text
    if len(words) < 2:
        raise ModprobeConfError(f"modprobe_extra_lines: {text!r}: {keyword} needs a module name")
    _check_module(words[1], f"modprobe_extra_lines: {text!r}")
    if keyword == "blacklist" and len(words) != 2:
        raise ModprobeConfError(f"modprobe_extra_lines: {text!r}: expected `blacklist <module>`")
    if keyword in ("install", "remove") and len(words) < 3:
        raise ModprobeConfError(f"modprobe_extra_lines: {text!r}: {keyword} needs a command")
    if keyword == "options":
        if len(words) < 3:
            raise ModprobeConfError(f"modprobe_extra_lines: {text!r}: options needs parameters")
        for token in words[2:]:
            name = token.split("=", 1)[0]
            if not PARAM_RE.match(name) or (token.count('"') % 2):
                raise ModprobeConfError(
                    f"modprobe_extra_lines: {text!r}: invalid parameter {token!r}: expected"
                    " name or name=value (quoted values may not contain spaces here; use"
                    " modprobe_options for those)"
                )
    if keyword == "softdep":
        for token in words[2:]:
            if token not in ("pre:", "post:"):
                _check_module(token, f"modprobe_extra_lines: {text!r}")
    return text


def modprobe_conf_lines(options: object, blacklist: object, extra_lines: object = None) -> list[str]:
    """All lines of the managed file, validated, in a stable order."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ModprobeConfError(f"modprobe_options must be a mapping of module -> parameters, got {options!r}")
    if not isinstance(blacklist, list):
        raise ModprobeConfError(f"modprobe_blacklist must be a list of module names, got {blacklist!r}")
    extra_lines = extra_lines or []
    if not isinstance(extra_lines, list):
        raise ModprobeConfError(f"modprobe_extra_lines must be a list of lines, got {extra_lines!r}")
    lines = [f"blacklist {_check_module(m, 'modprobe_blacklist')}" for m in blacklist]
    lines += [options_line(module, params) for module, params in options.items()]
    lines += [validate_line(raw) for raw in extra_lines]
    return lines
