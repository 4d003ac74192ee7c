"""The reachability pre-flight's vocabulary: what each failure category means, one host's result, and
the table the CLI prints. The probing itself goes through Ansible's connection layer
(:mod:`provisioner.run.probe`), so it judges every host the way the run will reach it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rich.table import Table

from .errors import shown

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
        table.add_row(shown(r.name), r.category, f"{r.address}:{r.port}", f"{r.seconds:.2f}", r.detail,
                      style=None if r.ok else "red")
    return table
