"""The roles' ``meta/argument_specs.yml``: the single source of truth for every project variable.

The CLI validates inventories against the same specs Ansible enforces when a role starts, so the
two cannot drift apart.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from . import paths

# Variables of the CLI itself (set by the CLI, allowed in inventories too).
PROJECT_VARIABLES = {
    "autoglm_action": {"type": "str", "choices": ["site", "check", "smoke"],
                       "description": "The action being run; set by the CLI."},
    "autoglm_run_dir": {"type": "path", "description": "The run directory; set by the CLI."},
    "autoglm_batch": {"type": "raw", "description": "Rollout batch size (Ansible serial forms)."},
    "autoglm_max_fail_percentage": {"type": "int", "description": "Stop the rollout above this share."},
    "autoglm_reachability": {"type": "bool", "description": "The reachability play at the start of site and "
                                                             "smoke (false = --no-probe); set by the CLI."},
}

# Variables that were replaced, with what replaced them: an inventory still setting one gets an error
# that names the new variable (a silent no-op would be worse: the setting would stop working).
REPLACED = {
    **{f"{role}_apt_{knob}": f"common_apt_{knob}" for role in ("kernel", "firmware", "ipmi")
       for knob in ("cache_valid_time", "lock_timeout", "retries")},
    **{f"apt_sources_{knob}": f"common_apt_{knob}"
       for knob in ("cache_valid_time", "lock_timeout", "retries", "retry_delay")},
}

_TRUE = {"yes", "on", "true", "1", "y", "t"}
_FALSE = {"no", "off", "false", "0", "n", "f"}


@dataclass(frozen=True)
class VarSpec:
    name: str
    role: str
    type: str = "str"
    choices: tuple = ()
    elements: str = ""
    description: str = ""
    default: object = None

    def allowed(self) -> str:
        if self.type == "list":
            return f"a list of {self.elements or 'values'}" + (
                f" from {', '.join(map(repr, self.choices))}" if self.choices else "")
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
                "list": "a list", "dict": "a mapping", "path": "a path", "raw": "any value"}.get(
                    self.type, self.type)


def _description(spec: dict) -> str:
    text = spec.get("description", "")
    return " ".join(text) if isinstance(text, list) else str(text)


@cache
def load_specs(roles_dir: Path = paths.ROLES) -> dict[str, VarSpec]:
    """Every option of every role's ``main`` entry point, by variable name."""
    specs: dict[str, VarSpec] = {
        name: VarSpec(name, "(cli)", s["type"], tuple(s.get("choices", ())), "", s["description"])
        for name, s in PROJECT_VARIABLES.items()
    }
    for spec_file in sorted(roles_dir.glob("*/meta/argument_specs.y*ml")):
        role = spec_file.parent.parent.name
        data = paths.load_project_file(spec_file) or {}
        options = ((data.get("argument_specs") or {}).get("main") or {}).get("options") or {}
        for name, opt in options.items():
            specs[name] = VarSpec(
                name=name, role=role, type=opt.get("type", "str"),
                choices=tuple(opt.get("choices") or ()), elements=opt.get("elements", ""),
                description=_description(opt), default=opt.get("default"))
    return specs


def variable_types(roles_dir: Path = paths.ROLES) -> dict[str, str]:
    """Each role variable's argument_specs type: how a key=value -e item is converted for Ansible."""
    return {name: spec.type for name, spec in load_specs(roles_dir).items()}


@cache
def role_defaults(roles_dir: Path = paths.ROLES) -> dict[str, object]:
    """Every role's ``defaults/main.yml`` merged: what a host gets when the inventory is silent."""
    merged: dict[str, object] = {}
    for defaults in sorted(roles_dir.glob("*/defaults/main.y*ml")):
        merged.update(paths.load_project_file(defaults) or {})
    return merged


def role_prefixes(specs: dict[str, VarSpec]) -> set[str]:
    return {s.role + "_" for s in specs.values() if s.role != "(cli)"} | {"autoglm_"}


def suggest(name: str, specs: dict[str, VarSpec]) -> str | None:
    return _suggest(name, tuple(specs))


@cache
def _suggest(name: str, known: tuple[str, ...]) -> str | None:
    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return matches[0] if matches else None


def _coerce(value: object, type_name: str) -> tuple[bool, object]:
    """Mirror Ansible's lenient conversions (``"8"`` is an int, ``"yes"`` a bool)."""
    if type_name in ("raw", "") or value is None:
        return True, value
    if type_name in ("str", "path"):
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        return ok, str(value) if ok else value
    if type_name == "bool":
        if isinstance(value, bool):
            return True, value
        if isinstance(value, str | int) and str(value).lower() in _TRUE | _FALSE:
            return True, str(value).lower() in _TRUE
        return False, value
    if type_name == "int":
        if isinstance(value, bool):
            return False, value
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        try:
            return True, int(str(value).strip())
        except ValueError:
            return False, value
    if type_name == "float":
        if isinstance(value, bool):
            return False, value
        try:
            return True, float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False, value
    if type_name == "list":
        return isinstance(value, list), value
    if type_name == "dict":
        return isinstance(value, dict), value
    return True, value


_OCTAL_MODE = re.compile(r"0?[0-7]{3}|[0-7]{4}")
_SYMBOLIC_MODE = re.compile(r"[ugoa]*[-+=][rwxXst]*(,[ugoa]*[-+=][rwxXst]*)*")


def _file_mode_problem(spec: VarSpec, value: object) -> str | None:
    """A file mode (a ``*_mode`` string option whose default is an octal mode: ``python_venv_mode``) must be a
    quoted string: Ansible would turn ``1`` into mode 0001 and an unquoted ``0755`` (YAML's 493) into an error."""
    if not (spec.name.endswith("_mode") and spec.type == "str" and isinstance(spec.default, str)
            and _OCTAL_MODE.fullmatch(spec.default)):
        return None
    quote = f"a file mode as a quoted string, such as '{spec.default}' (octal) or 'u=rwx,go=rx' (symbolic)"
    if not isinstance(value, str):
        return f"{value!r} is a number (YAML reads an unquoted mode as one), not {quote}"
    if "{{" in value or _OCTAL_MODE.fullmatch(value) or _SYMBOLIC_MODE.fullmatch(value):
        return None
    return f"{value!r} is not {quote}"


def check_value(spec: VarSpec, value: object) -> str | None:
    """None when ``value`` satisfies ``spec``; otherwise why not, naming what is allowed."""
    if mode_problem := _file_mode_problem(spec, value):
        return mode_problem
    ok, coerced = _coerce(value, spec.type)
    if not ok:
        return f"{value!r} is not {spec.allowed()}"
    if spec.type == "list" and isinstance(coerced, list):
        for item in coerced:
            item_ok, item_value = _coerce(item, spec.elements or "raw")
            if not item_ok:
                return f"item {item!r} is not {spec.elements}"
            if spec.choices and item_value not in spec.choices:
                return f"item {item!r} is not one of {', '.join(map(repr, spec.choices))}"
        return None
    if spec.choices and coerced not in spec.choices:
        return f"{value!r} is not {spec.allowed()}"
    return None
