"""One naming convention for the roles' variables (issue 15), checked on every role file:

- `<role>_<name>`: an input of the role, declared in its meta/argument_specs.yml (what inventories set);
- `<role>__<name>`: private to the role (registered results, internal facts, vars/ files);
- `autoglm_<name>`: shared knobs (the common role) and published facts (`autoglm_report_<role>`).

Anything else that starts with a role's prefix is a private variable named like an input: the drift
this test exists for (kernel_apt_refresh beside cuda__repo before). Plugin names (modules, filters)
share the prefix by design and are read from the collection, not listed here."""

from __future__ import annotations

import importlib
import re

import pytest
import yaml

from provisioner import paths

COLLECTION = paths.ROLES.parent
ROLES = sorted(p.name for p in paths.ROLES.iterdir() if (p / "meta" / "argument_specs.yml").exists())

# Names that are neither variables nor plugins, with why they carry a role's prefix.
NOT_VARIABLES = {
    "ipmi_si",  # kernel module (ipmi_modules' default)
    "ipmi_devintf",  # kernel module (ipmi_modules' default)
    "cuda_home",  # a field of autoglm_report_cuda (the report's contract), not a variable
    "python_venv_facts",  # the fact python_venv publishes for the venv's users (docs/python-venv.md)
}


def _plugin_names() -> set[str]:
    modules = {p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py") if p.stem != "__init__"}
    filters: set[str] = set()
    for path in (COLLECTION / "plugins" / "filter").glob("*.py"):
        if path.stem == "__init__":
            continue
        module = importlib.import_module(f"ansible_collections.autoglm.provision.plugins.filter.{path.stem}")
        filters |= set(module.FilterModule().filters())
    return modules | filters


def _inputs(role: str) -> set[str]:
    specs = yaml.safe_load((paths.ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return {name for entry in specs.values() for name in (entry.get("options") or {})}


def _names_in_role(role: str) -> dict[str, str]:
    """Every `<role>_...` identifier in the role's YAML and templates, with the first file it is in."""
    found: dict[str, str] = {}
    for path in sorted((paths.ROLES / role).rglob("*")):
        if path.is_file() and path.suffix in {".yml", ".yaml", ".j2"}:
            for name in re.findall(rf"\b{role}_[a-z0-9_]+\b", path.read_text()):
                found.setdefault(name, str(path.relative_to(paths.ROLES)))
    return found


@pytest.mark.parametrize("role", ROLES)
def test_role_variables_follow_the_convention(role):
    allowed = _inputs(role) | _plugin_names() | NOT_VARIABLES
    wrong = {name: where for name, where in _names_in_role(role).items()
             if not name.startswith(f"{role}__") and name not in allowed}
    assert not wrong, (
        f"{role}: named like inputs but not declared in meta/argument_specs.yml: {wrong}; a private variable is "
        f"{role}__<name>, an input is declared in argument_specs")


def test_the_check_would_catch_a_private_variable_named_like_an_input():
    # The convention is only as good as the scan: a registered result named kernel_apt_refresh is found.
    sample = "register: kernel_apt_refresh\n"
    assert re.findall(r"\bkernel_[a-z0-9_]+\b", sample) == ["kernel_apt_refresh"]
    assert "kernel_apt_refresh" not in _inputs("kernel") | _plugin_names() | NOT_VARIABLES
