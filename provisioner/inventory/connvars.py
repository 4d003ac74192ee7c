"""Ansible's connection and become variables, judged by Ansible's own rules before any host is
contacted: a port Ansible would not connect to, an address with spaces, a connection or become
plugin that does not exist, a boolean Ansible would not parse. ``check(name, value)`` returns
``(what is wrong, what is allowed)`` or None; templated and vaulted values are left to Ansible."""

from __future__ import annotations

import ipaddress
import re
import shlex

from ansible.module_utils.parsing.convert_bool import BOOLEANS, boolean

from .. import paths
from .yamlsrc import is_vaulted

PORTS = ("ansible_port", "ansible_ssh_port")
HOSTS = ("ansible_host", "ansible_ssh_host")
USERS = ("ansible_user", "ansible_ssh_user", "ansible_become_user")
BOOLS = ("ansible_become", "ansible_pipelining", "ansible_ssh_pipelining", "ansible_host_key_checking",
         "ansible_ssh_host_key_checking", "ansible_become_ask_pass")
ARGS = ("ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_scp_extra_args", "ansible_sftp_extra_args",
        "ansible_ssh_args", "ansible_become_flags")
TIMEOUTS = ("ansible_timeout", "ansible_ssh_timeout", "ansible_persistent_connect_timeout")
COUNTS = ("ansible_ssh_retries",)
PATHS = ("ansible_ssh_private_key_file", "ansible_private_key_file")
# Names Ansible maps to a plugin itself (not plugin names).
CONNECTION_ALIASES = ("smart", "paramiko")
INTERPRETER_AUTO = ("auto", "auto_silent", "auto_legacy", "auto_legacy_silent")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_DOTTED = re.compile(r"^[0-9.]+$")


def _plugin_exists(kind: str, name: str) -> bool:
    from ansible.plugins.loader import become_loader, connection_loader

    paths.collection_imports()
    loader = connection_loader if kind == "connection" else become_loader
    try:
        return bool(loader.has_plugin(name))
    except Exception:  # a malformed collection name
        return False


def _port(value: object) -> tuple[str, str] | None:
    allowed = "an integer port from 1 to 65535"
    if isinstance(value, bool) or not isinstance(value, int | str):
        return f"{value!r} is not a port", allowed
    try:
        port = int(str(value).strip())
    except ValueError:
        return f"{value!r} is not a port number", allowed
    return None if 1 <= port <= 65535 else (f"{value!r} is out of range", allowed)


def _kind(value: object) -> str:
    """The plain type name (Ansible wraps inventory values in tagged subclasses)."""
    return next((t.__name__ for t in (bool, int, float, list, dict) if isinstance(value, t)), type(value).__name__)


def _host(value: object) -> tuple[str, str] | None:
    allowed = "one host name, IPv4 or IPv6 address as a string, without spaces"
    if not isinstance(value, str):
        return f"{value!r} is a {_kind(value)}, not a host name or address", allowed
    text = value.strip()
    if not text or any(c.isspace() for c in text):
        return f"{value!r} is empty or contains whitespace", allowed
    if ":" in text:
        try:
            ipaddress.IPv6Address(text.strip("[]"))
        except ValueError:
            return f"{value!r} is not a valid IPv6 address", allowed + " (IPv6 like 2001:db8::1)"
        return None
    if _DOTTED.match(text):
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            return f"{value!r} is not a valid IPv4 address", allowed
        return None
    return None if _HOSTNAME.match(text) else (f"{value!r} has characters a host name cannot have", allowed)


def _word(value: object, what: str) -> tuple[str, str] | None:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip() \
            or any(c.isspace() for c in str(value)):
        return f"{value!r} is not a {what}", f"a {what}: one word, no spaces"
    return None


def _bool(value: object) -> tuple[str, str] | None:
    try:
        boolean(value, strict=True)
    except TypeError:
        return f"{value!r} is not a boolean Ansible accepts", "true/false, yes/no, on/off, 1/0, y/n, t/f " \
                                                              f"({len(BOOLEANS)} spellings in all)"
    return None


def _number(value: object, minimum: int) -> tuple[str, str] | None:
    allowed = f"an integer >= {minimum}"
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None:
        return f"{value!r} is not an integer", allowed
    return None if number >= minimum else (f"{value!r} is below {minimum}", allowed)


def check(name: str, value: object) -> tuple[str, str] | None:
    """Judge one ``ansible_*`` variable; None when Ansible would accept it (or it is not one judged here)."""
    if value is None or is_vaulted(value) or (isinstance(value, str) and "{{" in value):
        return None
    if name in PORTS:
        return _port(value)
    if name in HOSTS:
        return _host(value)
    if name in USERS:
        return _word(value, "user name")
    if name in BOOLS:
        return _bool(value)
    if name in TIMEOUTS:
        return _number(value, 1)
    if name in COUNTS:
        return _number(value, 0)
    if name in PATHS:
        return None if isinstance(value, str) and value.strip() else (f"{value!r} is not a path", "a file path")
    if name == "ansible_connection":
        if isinstance(value, str) and (value in CONNECTION_ALIASES or _plugin_exists("connection", value)):
            return None
        return (f"{value!r} is not a connection plugin Ansible has",
                "ssh, paramiko, local, smart, or an installed collection's connection (e.g. containers.podman.podman)")
    if name == "ansible_become_method":
        if isinstance(value, str) and _plugin_exists("become", value):
            return None
        return f"{value!r} is not a become plugin Ansible has", "sudo, su, doas, pbrun, pfexec, runas, ..."
    if name == "ansible_python_interpreter":
        if isinstance(value, str) and (value in INTERPRETER_AUTO or value.startswith("/")):
            return None
        return (f"{value!r} is not an interpreter Ansible can run",
                "an absolute path on the host (/usr/bin/python3, '/usr/bin/env python3') or "
                + ", ".join(INTERPRETER_AUTO))
    if name in ARGS:
        if not isinstance(value, str):
            return f"{value!r} is not a string of arguments", "a string, split like a shell command line"
        try:
            shlex.split(value)
        except ValueError as exc:
            return f"{value!r} cannot be split into arguments ({exc})", "balanced quotes, as in a shell"
    return None
