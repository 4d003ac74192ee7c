"""Issue #28 item 10: every plugin of the collection documented as ``ansible-doc`` reads it. Each
filter (``ansible-doc -t filter autoglm.provision.<name>``: a sidecar ``plugins/filter/<name>.yml``,
as ansible-core's own filters, since one file holds several filters) with its description, examples
and return value; each module (and the action autoglm_smoke_run, through its module stub) with
DOCUMENTATION, EXAMPLES and RETURN. ansible-doc is run for real, with the one path setting."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioner import paths

PLUGINS = paths.COLLECTION / "plugins"
ANSIBLE_DOC = Path(sys.executable).parent / "ansible-doc"


def _filters() -> list[str]:
    names = []
    for shim in sorted((PLUGINS / "filter").glob("*.py")):
        module = importlib.import_module(f"ansible_collections.autoglm.provision.plugins.filter.{shim.stem}")
        names += module.FilterModule().filters()
    return sorted(names)


FILTERS = _filters()
MODULES = sorted(p.stem for p in (PLUGINS / "modules").glob("*.py"))


def _ansible_doc(kind: str, names: list[str]) -> dict:
    """ansible-doc's JSON for every plugin at once (it prints nothing when any one has no documentation)."""
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(paths.COLLECTIONS_PATH), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run([str(ANSIBLE_DOC), "-t", kind, "--json", *(f"autoglm.provision.{n}" for n in names)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    errors = "\n".join(line for line in proc.stderr.splitlines() if "ERROR" in line or "WARNING" in line)
    assert proc.returncode == 0 and proc.stdout.strip(), f"ansible-doc -t {kind} failed:\n{errors or proc.stderr}"
    assert not errors, f"ansible-doc -t {kind} complained:\n{errors}"
    return json.loads(proc.stdout)


RETURN_KEYS = {"description", "returned", "type", "sample", "elements", "contains", "version_added"}


def _stray_keys(values: dict, where: str) -> list[str]:
    """Keys a return value cannot have: what YAML makes of an unquoted comma in a flow mapping."""
    stray = []
    for name, spec in values.items():
        stray += [f"{where}.{name}: {key!r}" for key in spec if key not in RETURN_KEYS]
        stray += _stray_keys(spec.get("contains") or {}, f"{where}.{name}")
    return stray


def _check(kind: str, names: list[str]) -> None:
    docs = _ansible_doc(kind, names)
    assert sorted(docs) == [f"autoglm.provision.{n}" for n in names]
    for name, doc in docs.items():
        short = name.removeprefix("autoglm.provision.")
        assert doc["doc"].get("short_description"), f"{name}: no short_description"
        assert doc["doc"].get("description"), f"{name}: no description"
        assert doc["doc"].get("name", doc["doc"].get("module")) == short, f"{name}: documented as another name"
        assert (doc.get("examples") or "").strip(), f"{name}: no EXAMPLES"
        assert doc.get("return"), f"{name}: no RETURN"
        assert not _stray_keys(doc["return"], name), _stray_keys(doc["return"], name)
        assert f"autoglm.provision.{short}" in doc["examples"], f"{name}: EXAMPLES do not use the FQCN"


def test_the_collection_has_the_plugins_this_test_expects():
    assert {"host_file_name", "bios_check_report", "nvidia_fabric_states"} <= set(FILTERS)
    assert {"pcie_p2p", "autoglm_smoke_run", "redfish_bios"} <= set(MODULES)


def test_every_filter_is_documented_for_ansible_doc():
    _check("filter", FILTERS)


def test_every_module_is_documented_with_return_values_for_ansible_doc():
    _check("module", MODULES)


@pytest.mark.parametrize("name", FILTERS)
def test_each_filters_documentation_is_a_sidecar_named_after_it(name):
    """ansible-core finds a filter's documentation in ``plugins/filter/<filter name>.yml`` when the
    Python file holds several filters (its own ``ansible.builtin`` filters do the same)."""
    sidecar = yaml.safe_load((PLUGINS / "filter" / f"{name}.yml").read_text(encoding="utf-8"))
    assert set(sidecar) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert sidecar["DOCUMENTATION"]["name"] == name
    assert "_input" in sidecar["DOCUMENTATION"]["options"] and "_value" in sidecar["RETURN"]
