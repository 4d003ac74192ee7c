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
