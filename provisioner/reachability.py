"""Reachability pre-flight: probe every host's SSH in parallel before a rollout and say, per host,
why it cannot be used (DNS, refused, timeout, host key, authentication, sudo, python3).

Each probe does what Ansible's first task would need: resolve the address, open TCP, check the
host key against known_hosts (unknown and changed keys are failures, never accepted), log in,
find ``python3``, and run ``sudo -n true`` when the play becomes root. Probes run in a thread
pool (paramiko), so hundreds of hosts take seconds.
"""

from __future__ import annotations

import errno
import getpass
import logging
import os
import shlex
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import paramiko
from rich.table import Table

from .inventory import Inventory

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
SYSTEM_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"


@dataclass(frozen=True)
class Target:
    """One host to probe, built from the inventory's merged variables."""

    name: str
    address: str
    port: int = 22
    user: str | None = None
    key_file: str | None = None
    password: str | None = field(default=None, repr=False)  # ansible_password: never printed
    become: bool = True
    become_password: str | None = field(default=None, repr=False)
    known_hosts: str | None = None  # default ~/.ssh/known_hosts (and /etc/ssh/ssh_known_hosts)
    python: str | None = None  # ansible_python_interpreter when it names a path or command
    become_method: str = "sudo"
    proxy_command: str | None = None  # from ProxyCommand / ProxyJump in ssh args or ~/.ssh/config
    unresolved: tuple[str, ...] = ()  # vaulted or templated variables the probe could not use


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


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey):
        super().__init__(f"{hostname} not found in known_hosts")
        self.hostname, self.key = hostname, key


class _ReportingRejectPolicy(paramiko.RejectPolicy):
    """paramiko's RejectPolicy, keeping the offered key so the report can show its fingerprint."""

    def missing_host_key(self, client, hostname, key):
        raise _UnknownHostKey(hostname, key)


class _Failed(Exception):
    def __init__(self, category: str, detail: str):
        super().__init__(detail)
        self.category, self.detail = category, detail


# --- inventory -> targets ---------------------------------------------------------------------

def _usable(value: object) -> bool:
    return isinstance(value, (str, int)) and not (isinstance(value, str) and "{{" in value)


def _ssh_option_args(*arg_strings: object) -> dict[str, str]:
    """``-o Key=Value`` / ``-o "Key Value"`` / ``-J jump`` from ansible_ssh_*_args, keys lowercased."""
    options: dict[str, str] = {}
    for text in arg_strings:
        if not isinstance(text, str):
            continue
        try:
            words = shlex.split(text)
        except ValueError:  # unbalanced quotes: Ansible's own ssh call would fail; nothing to take
            continue
        for flag, value in zip(words, [*words[1:], ""], strict=True):
            if flag == "-J":
                options["proxyjump"] = value
            elif flag == "-o" and value:
                key, _, val = value.replace("=", " ", 1).partition(" ")
                options[key.strip().lower()] = val.strip()
    return options


def targets_from_inventory(inv: Inventory, user: str | None = None, key_file: str | None = None) -> list[Target]:
    """One Target per SSH host. ``user``/``key_file`` are the CLI's -u/--private-key: like Ansible,
    the inventory's ansible_user / ansible_ssh_private_key_file win over them."""
    targets = []
    for name in inv.hosts:
        merged = {key: var.value for key, var in inv.merged_vars(name).items()}

        def pick(*keys: str, _merged: dict = merged) -> object:
            return next((_merged[k] for k in keys if _merged.get(k) is not None), None)

        connection = pick("ansible_connection")
        if not isinstance(connection, str | None) or connection not in SSH_CONNECTIONS:
            continue
        unresolved = tuple(k for k, v in merged.items()
                           if k.startswith("ansible_") and v is not None and not _usable(v) and not isinstance(v, bool))
        address, port = pick("ansible_host", "ansible_ssh_host"), pick("ansible_port", "ansible_ssh_port")
        login = pick("ansible_user", "ansible_ssh_user")
        key = pick("ansible_ssh_private_key_file", "ansible_private_key_file")
        password = pick("ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
        become_password = pick("ansible_become_password", "ansible_become_pass", "ansible_sudo_pass")
        become = pick("ansible_become")
        python = pick("ansible_python_interpreter")
        ssh_opts = _ssh_option_args(pick("ansible_ssh_common_args"), pick("ansible_ssh_extra_args"))
        targets.append(Target(
            name=name,
            address=str(address) if _usable(address) else name,
            port=int(port) if _usable(port) and str(port).isdigit() else 22,
            user=str(login) if _usable(login) else user,
            key_file=os.path.expanduser(str(key)) if _usable(key) else key_file,
            password=str(password) if _usable(password) else None,
            become=become if isinstance(become, bool) else str(become).lower() in ("1", "true", "yes", "on")
            if become is not None else True,
            become_password=str(become_password) if _usable(become_password) else None,
            known_hosts=os.path.expanduser(ssh_opts["userknownhostsfile"].split()[0])
            if "userknownhostsfile" in ssh_opts else None,
            python=str(python) if _usable(python) and not str(python).startswith("auto") else None,
            become_method=str(pick("ansible_become_method") or "sudo"),
            proxy_command=_proxy_command(ssh_opts),
            unresolved=unresolved,
        ))
    return targets


def _proxy_command(options: dict[str, str]) -> str | None:
    if options.get("proxycommand", "none").lower() != "none":
        return options["proxycommand"]
    if options.get("proxyjump", "none").lower() != "none":
        return f"ssh -W %h:%p {shlex.quote(options['proxyjump'])}"
    return None


# --- one probe --------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _user_ssh_config() -> paramiko.SSHConfig | None:
    path = Path("~/.ssh/config").expanduser()
    return paramiko.SSHConfig.from_path(str(path)) if path.is_file() else None


def _with_ssh_config(target: Target) -> Target:
    """Fill what the inventory left open from ~/.ssh/config, as OpenSSH (and so Ansible) would."""
    config = _user_ssh_config()
    if config is None:
        return target
    entry = config.lookup(target.address)
    changes: dict[str, object] = {}
    if entry.get("hostname") and entry["hostname"] != target.address:
        changes["address"] = entry["hostname"]
    if target.user is None and entry.get("user"):
        changes["user"] = entry["user"]
    if target.key_file is None and entry.get("identityfile"):
        changes["key_file"] = entry["identityfile"][0]
    if target.known_hosts is None and entry.get("userknownhostsfile"):
        changes["known_hosts"] = os.path.expanduser(entry["userknownhostsfile"].split()[0])
    if target.proxy_command is None:
        changes["proxy_command"] = _proxy_command({k: v for k, v in entry.items() if isinstance(v, str)})
    return replace(target, **changes) if changes else target


def _connect_socket(target: Target, timeout: float):
    if target.proxy_command:
        command = target.proxy_command.replace("%h", target.address).replace("%p", str(target.port))
        return paramiko.ProxyCommand(command)
    try:
        socket.getaddrinfo(target.address, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _Failed("dns", f"{target.address} does not resolve: {exc.strerror}") from None
    try:
        return socket.create_connection((target.address, target.port), timeout=timeout)
    except ConnectionRefusedError:
        raise _Failed("refused", f"{target.address}:{target.port} refused the connection "
                      "(no sshd on that port, or a firewall rejecting)") from None
    except TimeoutError:
        raise _Failed("timeout", f"no TCP answer from {target.address}:{target.port} in {timeout:g} s "
                      "(host down or packets dropped)") from None
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
            raise _Failed("unreachable", f"{target.address}:{target.port}: {exc.strerror}") from None
        raise _Failed("error", f"{target.address}:{target.port}: {exc}") from None


def _known_hosts_files(target: Target) -> list[str]:
    user_file = target.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
    return [user_file] + ([SYSTEM_KNOWN_HOSTS] if os.path.isfile(SYSTEM_KNOWN_HOSTS) else [])


def _login(client: paramiko.SSHClient, target: Target, user: str, timeout: float) -> None:
    files = _known_hosts_files(target)
    for path in files:
        if os.path.isfile(path):
            client.load_system_host_keys(path)
    client.set_missing_host_key_policy(_ReportingRejectPolicy())
    started = time.monotonic()
    sock = _connect_socket(target, timeout)
    hostkey_name = target.address if target.port == 22 else f"[{target.address}]:{target.port}"
    try:
        client.connect(target.address, port=target.port, username=user, password=target.password,
                       key_filename=target.key_file, sock=sock, timeout=timeout, banner_timeout=timeout,
                       auth_timeout=timeout, channel_timeout=timeout, allow_agent=True,
                       look_for_keys=target.key_file is None)
    except _UnknownHostKey as exc:
        raise _Failed("host_key_unknown", f"{hostkey_name} offers {exc.key.get_name()} {exc.key.fingerprint}, "
                      f"not in {' or '.join(files)}; check it, then add it "
                      f"(ssh-keyscan -p {target.port} {target.address} >> {files[0]})") from None
    except paramiko.BadHostKeyException as exc:
        raise _Failed("host_key_changed", f"{hostkey_name} now offers {exc.key.get_name()} {exc.key.fingerprint}, "
                      f"{files[0]} has {exc.expected_key.fingerprint}; if the host was reinstalled, "
                      f"remove the old key: ssh-keygen -R '{hostkey_name}' -f {files[0]}") from None
    except paramiko.AuthenticationException as exc:
        tried = (f"key {target.key_file}" if target.key_file else "agent and default keys") + \
            (" and a password" if target.password else "")
        raise _Failed("auth", f"user {user!r}: authentication failed ({tried}): {exc}") from None
    except (TimeoutError, paramiko.SSHException, EOFError, OSError) as exc:
        # paramiko gives up on a silent server in several ways ("No existing session", banner
        # errors): a wait that used up the whole timeout is a timeout whatever the message.
        timed_out = isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)
        if timed_out or time.monotonic() - started >= 0.9 * timeout:
            raise _Failed("timeout", f"{target.address}:{target.port} accepted TCP but SSH did not answer in "
                          f"{timeout:g} s (sshd hung or host overloaded)") from None
        raise _Failed("error", f"{target.address}:{target.port}: {type(exc).__name__}: {exc}") from None


def _run(client: paramiko.SSHClient, command: str, timeout: float, stdin_text: str | None = None) -> tuple[int, str]:
    stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
    if stdin_text is not None:
        stdin.write(stdin_text)
        stdin.channel.shutdown_write()
    output = stdout.read().decode(errors="replace") + stderr.read().decode(errors="replace")
    return stdout.channel.recv_exit_status(), output.strip()


def _check_python(client: paramiko.SSHClient, target: Target, timeout: float) -> str:
    wanted = target.python or "python3"
    probe = f"test -x {shlex.quote(wanted)}" if wanted.startswith("/") else f"command -v {shlex.quote(wanted)}"
    rc, output = _run(client, probe, timeout)
    if rc != 0:
        raise _Failed("no_python", f"{wanted} not found on the host: Ansible needs it "
                      "(install python3, or set ansible_python_interpreter)")
    return output.splitlines()[0] if output else wanted


def _check_sudo(client: paramiko.SSHClient, target: Target, user: str, timeout: float) -> str:
    if not target.become or user == "root":
        return "no sudo needed" if not target.become else "root login"
    if target.become_method != "sudo":
        return f"become_method {target.become_method} not checked"
    rc, output = _run(client, "sudo -n true", timeout)
    if rc == 0:
        return "sudo without password"
    if "password is required" not in output and "terminal is required" not in output:
        raise _Failed("sudo_denied", f"user {user!r} cannot sudo: {output or f'sudo exited {rc}'}")
    if target.become_password is None:
        if any(k in target.unresolved for k in ("ansible_become_password", "ansible_become_pass")):
            return "sudo needs a password; the inventory's (vaulted/templated) become password was not tried"
        raise _Failed("sudo_password", f"sudo needs a password for {user!r}: set ansible_become_password "
                      "(vaulted) or run with -K")
    rc, output = _run(client, "sudo -S -k -p '' true", timeout, stdin_text=target.become_password + "\n")
    if rc != 0 and ("not in the sudoers" in output or "not allowed" in output):
        raise _Failed("sudo_denied", f"user {user!r} cannot sudo: {output.splitlines()[-1]}")
    if rc != 0:
        raise _Failed("sudo_password", f"sudo rejected the given become password for {user!r}")
    return "sudo with the become password"


def probe(target: Target, timeout: float = 10.0) -> ProbeResult:
    """Probe one host; never raises for a host-side problem."""
    started = time.monotonic()
    target = _with_ssh_config(target)
    user = target.user or getpass.getuser()

    def result(category: str, detail: str) -> ProbeResult:
        return ProbeResult(target.name, category == "ok", category, detail, round(time.monotonic() - started, 3),
                           target.address, target.port, user)

    if target.key_file and not os.path.isfile(target.key_file):
        return result("auth", f"private key file {target.key_file} does not exist")
    client = paramiko.SSHClient()
    try:
        _login(client, target, user, timeout)
        python = _check_python(client, target, timeout)
        sudo = _check_sudo(client, target, user, timeout)
        return result("ok", f"{user}@{target.address}:{target.port}, {python}, {sudo}")
    except _Failed as failure:
        return result(failure.category, failure.detail)
    except (TimeoutError, paramiko.SSHException, OSError, EOFError) as exc:  # after login: a hung command
        category = "timeout" if isinstance(exc, TimeoutError) else "error"
        return result(category, f"after login: {type(exc).__name__}: {exc}")
    finally:
        client.close()


def probe_all(targets: list[Target], timeout: float = 10.0, workers: int = 64) -> list[ProbeResult]:
    """Probe every target in parallel; results come back in the targets' order."""
    if not targets:
        return []
    # paramiko logs every failed handshake as an ERROR with a traceback; the table says it better.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets))), thread_name_prefix="probe") as pool:
        return list(pool.map(lambda t: probe(t, timeout), targets))


# --- reporting --------------------------------------------------------------------------------

def failed(results: list[ProbeResult]) -> list[ProbeResult]:
    return [r for r in results if not r.ok]


def summary(results: list[ProbeResult]) -> str:
    counts = Counter(r.category for r in results if not r.ok)
    ok = sum(r.ok for r in results)
    slowest = max((r.seconds for r in results), default=0.0)
    tail = ", ".join(f"{n} {cat}" for cat, n in counts.most_common())
    return f"{len(results)} host(s): {ok} reachable" + (f", {len(results) - ok} not ({tail})" if tail else "") + \
        f"; slowest probe {slowest:.1f} s"


def render_table(results: list[ProbeResult]) -> Table:
    """Failures first (grouped by category), then the reachable hosts."""
    table = Table(title="SSH reachability", caption=summary(results), show_lines=False)
    for column, style in (("host", "bold"), ("result", None), ("address", None), ("s", None), ("detail", None)):
        table.add_column(column, style=style, justify="right" if column == "s" else "left",
                         overflow="fold" if column == "detail" else "ellipsis")
    for r in sorted(results, key=lambda r: (r.ok, r.category, r.name)):
        table.add_row(r.name, r.category, f"{r.address}:{r.port}", f"{r.seconds:.2f}", r.detail,
                      style=None if r.ok else "red")
    return table
