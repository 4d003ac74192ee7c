"""How a host could not be reached, in the reachability vocabulary (provisioner.reachability's
CATEGORIES): the one reading of Ansible's connection and become messages, used for the separate
pre-flight (--probe-strict) and for the reachability play at the start of site and smoke."""

from __future__ import annotations

import re

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
