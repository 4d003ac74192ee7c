"""The pre-flight's categories from Ansible's and OpenSSH's own messages, and the table. The messages
below are the ones the real-sshd tests (tests/integration/test_probe_ansible.py) get from Ansible."""

from __future__ import annotations

import pytest
from rich.console import Console

from provisioner import reachability
from provisioner.reachability import ProbeResult, categorise
from provisioner.views.reachability import render_table, summary

MESSAGES = [
    ("Failed to connect to the host via ssh: ssh: Could not resolve hostname ghost.invalid: Name or service not "
     "known", "dns"),
    ("Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 9: Connection refused", "refused"),
    ("Failed to connect to the host via ssh: ssh: connect to host 10.88.0.5 port 22: Connection timed out",
     "timeout"),
    ("Failed to connect to the host via ssh: ssh: connect to host 10.9.9.9 port 22: No route to host", "unreachable"),
    ("Failed to connect to the host via ssh: root@10.88.0.7: Permission denied (publickey,password).", "auth"),
    ("Failed to connect to the host via ssh: No ED25519 host key is known for 10.88.0.7 and you have requested "
     "strict checking.\r\nHost key verification failed.", "host_key_unknown"),
    ("Failed to connect to the host via ssh: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n"
     "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n...\r\nHost key verification failed.",
     "host_key_changed"),
    ("Task failed: Premature end of stream waiting for become success.\n>>> Standard Error\nsudo: a password is "
     "required", "sudo_password"),
    ("Missing sudo password", "sudo_password"),
    ("Incorrect sudo password", "sudo_password"),
    ("plain is not in the sudoers file.  This incident will be reported.", "sudo_denied"),
    ("MODULE FAILURE: No start of json char found /bin/sh: 1: /usr/bin/python3: not found", "no_python"),
    ("Something nobody expected", "error"),
]


@pytest.mark.parametrize(("message", "category"), MESSAGES)
def test_categories_from_ansible_messages(message, category):
    assert categorise(message) == category


def test_table_lists_failures_first_with_summary():
    results = [ProbeResult("a", True, "ok", "root@a", 0.4, "10.0.0.1"),
               ProbeResult("b", False, "refused", "closed", 0.01, "10.0.0.2"),
               ProbeResult("c", False, "auth", "bad key", 0.5, "10.0.0.3"),
               ProbeResult("d", False, "refused", "closed", 0.01, "10.0.0.4")]
    assert summary(results) == "4 host(s): 1 reachable, 3 not (2 refused, 1 auth); slowest probe 0.5 s"
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render_table(results))
    lines = [line for line in console.export_text().splitlines() if line.startswith("│")]
    assert [line.split("│")[1].strip() for line in lines] == ["c", "b", "d", "a"]


def test_every_category_is_documented():
    produced = {category for _, category in MESSAGES} | {"ok"}
    assert produced == set(reachability.CATEGORIES)
