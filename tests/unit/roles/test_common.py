"""The common role holds what the roles share, once (issue 15): the supported distributions, the apt
refresh, the held-package file. These tests fail when a copy grows back in another role."""

from __future__ import annotations

import re

import yaml

from provisioner import paths, specs

COMMON = paths.ROLES / "common"


def _role_files(exclude: str = "common"):
    for path in sorted(paths.ROLES.rglob("*")):
        if path.is_file() and path.suffix in {".yml", ".j2"} and path.relative_to(paths.ROLES).parts[0] != exclude:
            yield path


def test_autoglm_os_as_offers_exactly_the_supported_distributions():
    supported = yaml.safe_load((COMMON / "vars" / "main.yml").read_text())["common__supported_os"]
    assert specs.load_specs()["autoglm_os_as"].choices == ("", *supported)


def test_no_role_but_common_writes_the_supported_list_or_refreshes_apt_itself():
    copies = {str(p.relative_to(paths.ROLES)) for p in _role_files()
              if re.search(r"\[\s*'Ubuntu-22',\s*'Debian-12'\s*\]|update_cache:", p.read_text())}
    assert not copies, f"use autoglm.provision.common's supported_os.yml / apt_refresh.yml instead: {sorted(copies)}"


def test_roles_that_change_packages_or_boot_files_gate_on_the_supported_distributions():
    for role in ("apt_sources", "kernel", "firmware", "ipmi", "modprobe"):
        tasks = yaml.safe_load((paths.ROLES / role / "tasks" / "main.yml").read_text())
        first = tasks[0].get("ansible.builtin.import_role", {})
        assert first == {"name": "autoglm.provision.common", "tasks_from": "supported_os.yml"}, role


def test_replaced_per_role_apt_knobs_name_their_replacement():
    known = specs.load_specs()
    for old, new in specs.REPLACED.items():
        assert old not in known and new in known, (old, new)
