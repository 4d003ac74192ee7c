"""Reachability, one concept: can the run reach a host, run its Python and become root as the run
will? Asked in one of two ways, both through Ansible's own connection layer
(playbooks/reachability.yml):

- by default, as the first play of site and smoke: a host that fails it is left out of the run,
  and the report (:mod:`provisioner.results.report`) records it with :func:`left_out_failure`;
- with --probe-strict, as a separate pre-flight before anything runs (:mod:`.preflight`): nothing
  runs unless every targeted SSH host passes.

This module is the vocabulary both share: the failure categories and what they mean, one host's
result, and the one reading of Ansible's connection and become messages (:func:`categorise`). The
pre-flight's table is drawn by :mod:`provisioner.views.reachability`."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Category -> what it means for the operator; the table's legend and the docs use these words.
CATEGORIES = {
    "ok": "SSH login works, python3 is there, and sudo works (when the play becomes root)",
    "dns": "the address does not resolve",
    "refused": "connection refused: nothing listens on the SSH port",
    "timeout": "no answer in time: host down, packets dropped by a firewall, or sshd hung",
    "unreachable": "no route to the host or its network",
    "host_key_unknown": "the host key is not in known_hosts (add it after checking its fingerprint)",
    "host_key_changed": "the host key differs from known_hosts (reinstalled host, or an attacker)",
    "auth": "SSH authentication failed (user, key or password)",
    "sudo_password": "sudo needs a password and none (or a wrong one) was given",
    "sudo_denied": "the user may not run sudo (not in sudoers, or sudo missing)",
    "no_python": "python3 (or the configured interpreter) is missing on the host",
    "error": "another SSH or protocol error (see detail)",
}
# Connections the probe can check; local and container connections are left out.
SSH_CONNECTIONS = {None, "ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh",
                   "ansible.builtin.paramiko_ssh", "ansible.legacy.ssh"}


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    category: str
    detail: str
    seconds: float
    address: str = ""
    port: int = 22
    user: str = ""

# The task of playbooks/reachability.yml: its results are the pre-flight's (tests check the name).
REACHABILITY_TASK = "Reach the host, run Python and become as the run will"
# What the report and the console call a failure of that task.
REACHABILITY_STEP = "reachability pre-flight"

# (category, pattern in Ansible's message), first match wins; unreachable and failed results alike.
_RULES = [
    ("host_key_changed", r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed"),
    ("host_key_unknown", r"Host key verification failed|No \S+ host key is known|host key .* not known"),
    ("dns", r"Could not resolve hostname|Name or service not known|Temporary failure in name resolution"),
    ("refused", r"Connection refused"),
    ("timeout", r"timed out|Connection timeout|Timeout"),
    ("unreachable", r"No route to host|Network is unreachable"),
    ("auth", r"Permission denied|Authentication failed|Too many authentication failures"),
    ("sudo_password", r"Missing sudo password|Incorrect sudo password|a password is required|incorrect password"),
    ("sudo_denied", r"is not in the sudoers file|not allowed to execute|sudo: (command )?not found|"
                    r"may not run sudo"),
    ("no_python", r"python[0-9.]*: (command )?not found|interpreter .* not found|No such file or directory.*python|"
                  r"python.*No such file|Failed to find required executable python|"
                  r"module interpreter .* was not found"),
]


def categorise(text: str) -> str:
    for category, pattern in _RULES:
        if re.search(pattern, text, re.IGNORECASE | re.DOTALL):
            return category
    return "error"


def left_out_failure(unreachable: bool, text: str) -> dict:
    """The report's failure entry of a host the reachability play failed: Ansible drops failed and
    unreachable hosts from later plays, so it is left out of the run, with the category of why."""
    return {"task": REACHABILITY_STEP, "kind": "unreachable" if unreachable else "failed",
            "message": f"{categorise(text)}: {text} (left out of the run)"}
