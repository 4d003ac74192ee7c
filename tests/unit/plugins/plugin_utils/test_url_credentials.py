"""Credentials inside URLs (plugins/plugin_utils/url_credentials.py): stripped from every record the
CLI and the event callback write, the rest of the URL kept."""

from __future__ import annotations

import json

import pytest
from ansible_collections.autoglm.provision.plugins.plugin_utils.url_credentials import strip_url_credentials

from provisioner.state.records import atomic_write_json, atomic_write_text


@pytest.mark.parametrize(("text", "expected"), [
    ("https://user:pass@bmc.example/redfish/v1", "https://***@bmc.example/redfish/v1"),
    ("bmc https://admin:p@ss@10.0.0.1:443 down", "bmc https://***@10.0.0.1:443 down"),
    ("deb http://token@mirror/debian bookworm main", "deb http://***@mirror/debian bookworm main"),
    ("pip --index-url HTTPS://u:%40x@idx/simple", "pip --index-url HTTPS://***@idx/simple"),
    ('{"url": "https://u:se\\"cret@h/"}', '{"url": "https://***@h/"}'),  # as JSON text, an escaped quote
    ("https://bmc.example/path?x=a@b", "https://bmc.example/path?x=a@b"),  # no userinfo: '@' after the path
    ("mail root@example.com, ssh://host:22", "mail root@example.com, ssh://host:22"),
])
def test_credentials_are_stripped_and_nothing_else(text, expected):
    assert strip_url_credentials(text) == expected


def test_records_written_by_the_cli_hold_no_url_credentials(tmp_path):
    """report.json, host state, JUnit and HTML all go through atomic_write_text."""
    atomic_write_json(tmp_path / "report.json", {"facts": {"bmc": "https://root:s3cret@bmc/"}, "extra_vars":
                                                ["python_venv_index_url=https://u:t0ken@pypi.local/simple"]})
    atomic_write_text(tmp_path / "report.html", "<td>https://root:s3cret@bmc/</td>")
    for path in tmp_path.iterdir():
        assert "s3cret" not in path.read_text() and "t0ken" not in path.read_text(), path
    assert json.loads((tmp_path / "report.json").read_text())["facts"]["bmc"] == "https://***@bmc/"
