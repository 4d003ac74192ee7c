"""inventory/sample: every variable it names, set or shown commented out as a knob to turn on, is
an input some role declares (meta/argument_specs.yml), one of the CLI's (autoglm_*), or a variable
Ansible itself documents (its connection and become plugins' options, its configuration, its
magic variables). Issue 15: the sample suggested `bmc_address`; the variable is `bios_check_bmc_address`."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from provisioner import specs

SAMPLE = Path(__file__).resolve().parents[2] / "inventory" / "sample"
# A commented-out setting: `# name: value` (prose comments have spaces or capitals before a colon).
KNOB = re.compile(r"^\s*#\s*([a-z_][a-z0-9_]*)\s*:(?:\s|$)")


@cache
def ansible_variables() -> frozenset[str]:
    """The variables Ansible documents: its options' `vars:` entries and its magic variables."""
    from ansible import constants as C
    from ansible.plugins.loader import become_loader, connection_loader

    names = set()
    for kind, loader, plugins in (("connection", connection_loader, ("ssh", "paramiko_ssh", "local")),
                                  ("become", become_loader, ("sudo", "su"))):
        for plugin in plugins:
            loader.get(plugin, class_only=True)  # loads its documentation into the configuration
            for option in C.config.get_configuration_definitions(plugin_type=kind, name=plugin).values():
                names.update(v["name"] for v in option.get("vars") or [])
    for option in C.config.get_configuration_definitions().values():
        names.update(v["name"] for v in option.get("vars") or [])
    for value in C.MAGIC_VARIABLE_MAPPING.values():
        names.update(value)
    return frozenset(names)


def sample_variables() -> list[tuple[str, str]]:
    """(variable, file:line) for every variable the sample sets or shows commented out."""
    found = []
    for path in sorted(p for p in SAMPLE.rglob("*") if p.is_file()):
        relative = path.relative_to(SAMPLE)
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if match := KNOB.match(line):
                found.append((match.group(1), f"{relative}:{number} (commented out)"))
        data = yaml.safe_load(text)
        if relative.parts[0] in ("group_vars", "host_vars"):
            found += [(name, f"{relative}") for name in (data or {})]
        else:
            found += [(name, f"{relative}") for name in _inventory_variables(data)]
    return found


def _group_variables(group) -> list[str]:
    """Variables of one YAML inventory group: its `vars:`, each host's mapping, its children's."""
    group = group or {}
    names = list(group.get("vars") or {})
    for host_vars in (group.get("hosts") or {}).values():
        names += list(host_vars or {})
    for child in (group.get("children") or {}).values():
        names += _group_variables(child)
    return names


def _inventory_variables(data) -> list[str]:
    return [name for group in (data or {}).values() for name in _group_variables(group)]


def test_the_sample_names_variables_and_knobs():
    names = {name for name, _ in sample_variables()}
    assert {"ansible_user", "ansible_become", "ansible_host"} <= names  # set
    assert {"ansible_become_password", "bios_check_bmc_address"} <= names  # shown commented out


@pytest.mark.parametrize(("name", "where"), sample_variables(), ids=lambda v: str(v))
def test_every_sample_variable_is_known(name, where):
    known = specs.load_specs()
    assert name in known or name in ansible_variables(), (
        f"inventory/sample/{where}: {name} is no role's input (meta/argument_specs.yml), no CLI variable "
        f"and no variable Ansible documents")


def test_a_wrong_name_would_be_caught():
    assert "bmc_address" not in specs.load_specs() and "bmc_address" not in ansible_variables()
    assert KNOB.match("              # bmc_address: 192.0.2.122   # out-of-band BIOS checks").group(1) == "bmc_address"


# --- group_vars/all.yml lists every role input, commented out at its default ----------------------
# As kubespray's inventory/sample does: a user copies the directory and uncomments what to change.
# The file is rendered from the roles' meta/argument_specs.yml (descriptions, choices) and
# defaults/main.yml (values); regenerate it with
#   AUTOGLM_REGENERATE_SAMPLE=1 pytest tests/unit/test_sample_inventory.py
ALL_YML = SAMPLE / "group_vars" / "all.yml"
# Inputs a role declares for its callers (a task file's parameter), not for inventories.
NOT_FOR_INVENTORIES = {"common_apt_refresh_force"}


def _site_role_order() -> list[str]:
    from provisioner import paths

    plays = yaml.safe_load((paths.PLAYBOOKS / "site.yml").read_text())
    return [entry["role"].rsplit(".", 1)[-1] for entry in plays[-1]["roles"]]


def _flow(value) -> str:
    """A value as one line of YAML (flow style), as it would be written after the variable's name."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False)
    return text.removesuffix("...\n").strip()


def render_all_yml() -> str:
    import textwrap

    from provisioner import paths

    defaults = specs.role_defaults()
    out = ["---",
           "# Site-wide settings: every input of the collection's roles, commented out at its default, in",
           "# the order site.yml runs the roles. Uncomment what to change (or move it to a group's file,",
           "# or host_vars/<host>.yml). `autoglm-provision validate` checks these files against the roles'",
           "# meta/argument_specs.yml, from which this file is rendered (tests/unit/test_sample_inventory.py)."]
    for role in _site_role_order():
        spec_file = paths.ROLES / role / "meta" / "argument_specs.yml"
        entry = yaml.safe_load(spec_file.read_text())["argument_specs"]["main"]
        options = {k: v for k, v in (entry.get("options") or {}).items() if k not in NOT_FOR_INVENTORIES}
        if not options:
            continue
        out += ["", f"# --- {role}: {entry['short_description']} ".ljust(100, "-")]
        for name, spec in options.items():
            text = specs._description(spec)  # noqa: SLF001 - the same reading validate uses
            if spec.get("choices"):
                text += " One of: " + ", ".join(map(_flow, spec["choices"])) + "."
            for width in (97, 91, 85):  # a prose line must not read as a `# name: value` knob
                prose = textwrap.wrap(text, width, initial_indent="# ", subsequent_indent="# ")
                if not any(KNOB.match(line) for line in prose):
                    break
            out += prose
            value = defaults.get(name, spec.get("default"))
            if isinstance(value, str) and "{{" in value:  # a template: Jinja does not mind the line breaks
                value = " ".join(value.split())
            out.append(f"# {name}: {_flow(value)}")
    return "\n".join(out) + "\n"


def test_group_vars_all_lists_every_role_input_at_its_default():
    import os

    rendered = render_all_yml()
    if os.environ.get("AUTOGLM_REGENERATE_SAMPLE"):
        ALL_YML.write_text(rendered)
    assert ALL_YML.read_text() == rendered, (
        "inventory/sample/group_vars/all.yml is out of date with the roles' argument specs: "
        "AUTOGLM_REGENERATE_SAMPLE=1 pytest tests/unit/test_sample_inventory.py")
    listed = {m.group(1) for line in rendered.splitlines() if (m := KNOB.match(line))}
    inputs = {n for n, s in specs.load_specs().items() if s.role != "(cli)"} - NOT_FOR_INVENTORIES
    assert inputs <= listed, sorted(inputs - listed)
