"""The collections check before a run (provisioner/plan/deps.py): what is missing is named with the
install command, before any host is touched."""

import json
import sys

import pytest

from provisioner import paths
from provisioner.errors import EXIT_USAGE, UsageError
from provisioner.plan import deps


def _collection(root, name, version=None, manifest=True):
    namespace, collection = name.split(".")
    base = root / "ansible_collections" / namespace / collection
    base.mkdir(parents=True)
    if version and manifest:
        (base / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": version}}))
    elif version:
        (base / "galaxy.yml").write_text(f"version: {version}\n")
    return base


def test_required_collections_come_from_galaxy_yml():
    assert set(deps.required()) == {"community.general"}
    assert deps.REQUIREMENTS_FILE.is_file()  # the pinned ansible-galaxy requirements ship beside it


def test_installed_version_from_manifest_or_galaxy_yml_first_root_wins(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    _collection(first, "community.general", "11.4.2")
    _collection(second, "community.general", "9.0.0")
    _collection(second, "ansible.posix", "2.0.0", manifest=False)
    assert deps.installed_version("community.general", [first, second]) == "11.4.2"
    assert deps.installed_version("ansible.posix", [first, second]) == "2.0.0"
    assert deps.installed_version("community.docker", [first, second]) is None


def test_missing_and_too_old_collections_are_named_with_the_install_command(tmp_path):
    env = {"ANSIBLE_COLLECTIONS_PATH": str(tmp_path), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false"}
    with pytest.raises(UsageError) as excinfo:
        deps.check_collections(env)
    message = str(excinfo.value)
    assert excinfo.value.exit_code == EXIT_USAGE
    assert "community.general (not installed, needs >=10.0.0)" in message and "nothing was run" in message
    assert "pip install 'ansible>=12,<13'" in message and f"-r {deps.REQUIREMENTS_FILE}" in message
    _collection(tmp_path, "community.general", "9.5.0")
    assert [m.render() for m in deps.missing_collections(env)] == ["community.general (found 9.5.0, needs >=10.0.0)"]


def test_present_collection_passes_and_site_packages_count(tmp_path):
    _collection(tmp_path, "community.general", "11.4.2")
    deps.check_collections({"ANSIBLE_COLLECTIONS_PATH": str(tmp_path), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "0"})
    roots = deps.search_paths({"ANSIBLE_COLLECTIONS_PATH": str(tmp_path)})
    assert roots[0] == paths.COLLECTIONS_PATH and tmp_path in roots  # the package's own collection first
    assert any(str(r) in sys.path for r in roots)  # then sys.path, as Ansible scans it
