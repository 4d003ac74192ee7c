"""Host names as file names (plugins/plugin_utils/host_files.py): what the gpu_smoke role writes on the
controller and the CLI's host state are named with it, so no host name leaves its directory."""

from __future__ import annotations

import os
import re

import pytest
import yaml
from ansible_collections.autoglm.provision.plugins.plugin_utils.host_files import (
    MAX_ENCODED,
    host_file_name,
    host_from_file_name,
)

from provisioner import paths

HOSTILE = ["../../../../tmp/escaped", "/etc/passwd", "..", ".", ".hidden", "a\\b", "a\x00b", "a\nb", "a~b",
           "%2F", "节点-01", "机器-01", "x" * 300, "节" * 120, "node-01.example.com"]


@pytest.mark.parametrize("name", HOSTILE, ids=lambda n: repr(n[:30]))
def test_every_name_stays_in_its_directory(name, tmp_path):
    file_name = host_file_name(name) + ".json"
    assert "/" not in file_name and "\\" not in file_name and "\x00" not in file_name
    assert not file_name.startswith(".") and len(file_name.encode()) < 255
    assert (tmp_path / file_name).resolve().parent == tmp_path.resolve()


def test_names_are_distinct_and_reversible_where_short():
    names = [host_file_name(n) for n in HOSTILE]
    assert len(set(names)) == len(HOSTILE)
    long_names = {"x" * 300, "节" * 120}  # encodings over MAX_ENCODED: a prefix and a digest
    for name in HOSTILE:
        encoded = host_file_name(name)
        assert len(encoded) <= MAX_ENCODED + 65
        assert host_from_file_name(encoded) == (None if name in long_names else name)
    assert host_file_name("node-01.example.com") == "node-01.example.com"  # plain names read as they are
    assert host_file_name("x" * 300) != host_file_name("x" * 301)


def test_names_this_encoding_never_makes_are_not_decoded():
    assert host_from_file_name("%FF") is None  # not UTF-8
    assert host_from_file_name("a%2db") is None  # lower-case escape of a safe character
    assert host_from_file_name("..") is None


def _strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from ((f"{key}.{k}", s) for k, s in _strings(value))
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield "", node


# A path made of the host name: "/{{ inventory_hostname }}", "'/' ~ inventory_hostname", "... ~ '.json'"
RAW_HOST_PATH = re.compile(r"/\s*\{\{\s*inventory_hostname\b|'/'\s*~\s*inventory_hostname\b"
                           r"|inventory_hostname\s*~\s*'\.")


def test_no_role_or_playbook_builds_a_path_from_the_raw_host_name():
    files = [*paths.ROLES.rglob("*.yml"), *paths.PLAYBOOKS.glob("*.yml")]
    raw = [f"{path.relative_to(paths.COLLECTION)}: {text.strip()[:100]}" for path in files
           for _, text in _strings(yaml.safe_load(path.read_text()) or {}) if RAW_HOST_PATH.search(text)]
    assert raw == [], "encode the host name with autoglm.provision.host_file_name:\n" + "\n".join(raw)


def test_the_smoke_action_writes_each_hosts_json_inside_its_directory_and_privately(tmp_path):
    from ansible_collections.autoglm.provision.plugins.action.autoglm_smoke_run import write_json

    smoke = tmp_path / "run" / "smoke"
    paths_written = {write_json(str(smoke), host, "{}") for host in ("../../../escaped", "节点-01", "机器-01", "a")}
    assert len(paths_written) == 4 and not (tmp_path / "escaped.json").exists()
    for written in paths_written:
        assert os.path.dirname(written) == str(smoke) and os.stat(written).st_mode & 0o777 == 0o600
    assert os.stat(smoke).st_mode & 0o777 == 0o700
