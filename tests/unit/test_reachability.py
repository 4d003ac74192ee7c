"""Reachability pre-flight: inventory -> targets, failure classification, the table.

The real SSH cases (ok, auth, host keys, sudo, python, paused host) run against real sshd
containers in tests/integration/test_reachability_ssh.py. Here: real local sockets where they can
show a condition (a silent TCP server, a non-SSH server), and a faked socket layer only for
"no route to host" and a TCP connect timeout, which cannot be produced here without touching
addresses that are not ours.
"""

from __future__ import annotations

import errno
import socket
import threading
from pathlib import Path

import pytest
from rich.console import Console

from provisioner import reachability
from provisioner.inventory import read_inventory
from provisioner.reachability import ProbeResult, Target, probe, probe_all, render_table, summary

INVENTORY = """
all:
  vars:
    ansible_user: admin
  children:
    gpu:
      vars:
        ansible_ssh_common_args: "-o UserKnownHostsFile=~/fleet_known_hosts -o ProxyJump=bastion.example"
      hosts:
        gpu[01:02]:
          ansible_host: 10.0.0.1
        gpu03:
          ansible_host: 10.0.0.3
          ansible_port: 2222
          ansible_user: ops
          ansible_ssh_private_key_file: ~/keys/ops
          ansible_become: false
          ansible_python_interpreter: /opt/py/bin/python3
        gpu04:
          ansible_host: "{{ lookup('env', 'GPU04') }}"
          ansible_become_password: !vault |
            $ANSIBLE_VAULT;1.1;AES256
            6162
        gpu05:
          ansible_password: s3cret
          ansible_become_pass: s3cret
          ansible_become: "no"
          ansible_python_interpreter: auto_silent
    local:
      hosts:
        controller: {ansible_connection: local}
        box: {ansible_connection: containers.podman.podman}
        plainssh: {ansible_connection: ssh, ansible_ssh_common_args: "-J jump1"}
"""


@pytest.fixture
def targets(tmp_path) -> dict[str, Target]:
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY)
    inv = read_inventory(path)
    return {t.name: t for t in reachability.targets_from_inventory(inv, user="cli-user", key_file="/cli/key")}


def test_targets_skip_local_and_container_connections(targets):
    assert set(targets) == {"gpu01", "gpu02", "gpu03", "gpu04", "gpu05", "plainssh"}


def test_targets_inventory_wins_over_cli_like_ansible(targets):
    gpu03 = targets["gpu03"]
    assert (gpu03.address, gpu03.port, gpu03.user) == ("10.0.0.3", 2222, "ops")
    assert gpu03.key_file == str(Path("~/keys/ops").expanduser())
    assert gpu03.become is False and gpu03.python == "/opt/py/bin/python3"
    gpu01 = targets["gpu01"]
    assert (gpu01.user, gpu01.key_file, gpu01.become, gpu01.port) == ("admin", "/cli/key", True, 22)
    assert targets["plainssh"].user == "admin"


def test_targets_ssh_args_known_hosts_and_proxy(targets):
    assert targets["gpu01"].known_hosts == str(Path("~/fleet_known_hosts").expanduser())
    assert targets["gpu01"].proxy_command == "ssh -W %h:%p bastion.example"
    assert targets["plainssh"].proxy_command == "ssh -W %h:%p jump1"
    assert targets["plainssh"].known_hosts is None


def test_targets_vaulted_and_templated_values_are_not_used(targets):
    gpu04 = targets["gpu04"]
    assert gpu04.address == "gpu04"  # templated ansible_host: the probe falls back to the name
    assert gpu04.become_password is None
    assert set(gpu04.unresolved) >= {"ansible_host", "ansible_become_password"}


def test_targets_passwords_and_become_strings(targets):
    gpu05 = targets["gpu05"]
    assert gpu05.password == "s3cret" and gpu05.become_password == "s3cret"
    assert gpu05.become is False and gpu05.python is None
    assert "s3cret" not in repr(gpu05) and "s3cret" not in str(gpu05)


class _Server:
    """A real TCP server on 127.0.0.1 that either says nothing or answers like a web server."""

    def __init__(self, reply: bytes | None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.reply is not None:
                conn.sendall(self.reply)
                conn.close()

    def close(self):
        for conn in self.conns:
            conn.close()
        self.sock.close()


def test_silent_server_is_timeout():
    server = _Server(reply=None)
    try:
        result = probe(Target("hung", "127.0.0.1", port=server.port, user="root"), timeout=1.5)
    finally:
        server.close()
    assert (result.ok, result.category) == (False, "timeout"), result
    assert "accepted TCP" in result.detail and result.seconds >= 1.3


def test_non_ssh_server_is_error():
    server = _Server(reply=b"HTTP/1.1 400 Bad Request\r\n\r\n")
    try:
        result = probe(Target("web", "127.0.0.1", port=server.port, user="root"), timeout=3)
    finally:
        server.close()
    assert result.category == "error", result
    assert result.seconds < 3


@pytest.mark.parametrize(("raised", "category"), [
    (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), "unreachable"),
    (TimeoutError("timed out"), "timeout"),
    (OSError(errno.EACCES, "Permission denied"), "error"),
])
def test_connect_errors_fake_socket(monkeypatch, raised, category):
    # Faked: no route / SYN timeout cannot be produced here without addresses that are not ours.
    def fake_connect(address, timeout=None):
        raise raised

    monkeypatch.setattr(reachability.socket, "create_connection", fake_connect)
    result = probe(Target("n1", "127.0.0.1", user="root"), timeout=1)
    assert result.category == category, result


def test_probe_all_keeps_order_and_runs_in_parallel(monkeypatch):
    import time

    def slow_probe(target, timeout):
        time.sleep(0.3)
        return ProbeResult(target.name, True, "ok", "", 0.3)

    monkeypatch.setattr(reachability, "probe", slow_probe)
    targets = [Target(f"h{i:03d}", "127.0.0.1") for i in range(100)]
    started = time.monotonic()
    results = probe_all(targets, workers=50)
    assert [r.name for r in results] == [t.name for t in targets]
    assert time.monotonic() - started < 3  # 100 x 0.3 s serially would be 30 s
    assert probe_all([]) == []


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
    produced = {"ok", "dns", "refused", "timeout", "unreachable", "host_key_unknown", "host_key_changed",
                "auth", "sudo_password", "sudo_denied", "no_python", "error"}
    assert produced == set(reachability.CATEGORIES)
