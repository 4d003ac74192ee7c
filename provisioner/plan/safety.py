"""Safety settings turned off outside the CLI's defaults, said out loud: SSH host key checking
disabled by the environment, an ansible.cfg, the inventory or -e is a warning in the summary and
in report.json, never a silent downgrade."""

from __future__ import annotations

import configparser
import os
import re
from pathlib import Path

from ..inventory.inventory import Inventory

_FALSE = {"false", "no", "off", "0", "n", "f"}
_SSH_ARGS = ("ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args")
_SSH_OFF = re.compile(r"StrictHostKeyChecking[= ]+(no|off|accept-new)|UserKnownHostsFile[= ]+/dev/null",
                      re.IGNORECASE)
_VARS_OFF = ("ansible_host_key_checking", "ansible_ssh_host_key_checking", "ansible_paramiko_host_key_checking")


def _is_false(value: object) -> bool:
    return value is False or (isinstance(value, str | int) and str(value).strip().lower() in _FALSE)


def _config_file(environ: dict[str, str], project_dir: Path) -> Path | None:
    explicit = environ.get("ANSIBLE_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return project_dir / "ansible.cfg"


def host_key_warnings(inv: Inventory, hosts: list[str], extra_vars: dict[str, object],
                      environ: dict[str, str] | None = None, project_dir: Path | None = None) -> list[str]:
    """One warning per place that turns SSH host key checking off for the targeted hosts."""
    environ = dict(os.environ) if environ is None else environ
    warnings = []
    for key in ("ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING", "ANSIBLE_PARAMIKO_HOST_KEY_CHECKING"):
        if key in environ and _is_false(environ[key]):
            warnings.append(f"SSH host key checking is OFF: the environment sets {key}={environ[key]} "
                            "(hosts are not authenticated: a spoofed host would get the run)")
    for key in ("ANSIBLE_SSH_ARGS", "ANSIBLE_SSH_COMMON_ARGS", "ANSIBLE_SSH_EXTRA_ARGS"):
        if key in environ and _SSH_OFF.search(environ[key]):
            warnings.append(f"SSH host key checking is OFF: the environment's {key} holds "
                            f"{_SSH_OFF.search(environ[key]).group(0)!r}")
    cfg = _config_file(environ, project_dir or Path.cwd())
    if cfg and cfg.is_file() and "ANSIBLE_HOST_KEY_CHECKING" not in environ:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(cfg, encoding="utf-8")
            value = parser.get("defaults", "host_key_checking", fallback=None)
        except (configparser.Error, UnicodeDecodeError):
            value = None
        if value is not None and _is_false(value):
            warnings.append(f"SSH host key checking is OFF: {cfg} sets host_key_checking = {value}")
    offenders: dict[str, list[str]] = {}
    for name in hosts:
        merged = {k: v.value for k, v in inv.merged_vars(name).items()} if name in inv.hosts else {}
        merged.update(extra_vars)
        for key in _VARS_OFF:
            if key in merged and _is_false(merged[key]):
                offenders.setdefault(f"{key}: {merged[key]}", []).append(name)
        for key in _SSH_ARGS:
            value = merged.get(key)
            if isinstance(value, str) and (match := _SSH_OFF.search(value)):
                offenders.setdefault(f"{key} with {match.group(0)!r}", []).append(name)
    for setting, names in offenders.items():
        shown = ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")
        warnings.append(f"SSH host key checking is OFF for {len(names)} host(s) ({shown}): the inventory or -e "
                        f"sets {setting}")
    return warnings
