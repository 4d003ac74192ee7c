"""The reachability pre-flight against real sshd targets: podman containers of the project's image
on their own bridge addresses, a closed port on 127.0.0.1, a paused container, a `.invalid` name.

Nothing here is faked: every category comes from a real SSH server or a real network condition.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from pathlib import Path

import pytest
from rich.console import Console

from provisioner.inventory import read_inventory
from provisioner.reachability import Target, probe, probe_all, render_table, targets_from_inventory

from .conftest import needs_podman, write_inventory
from .sshd_targets import SshdFleet, SshdHost

pytestmark = [needs_podman]
FLEET_SIZE = int(os.environ.get("AUTOGLM_REACH_FLEET", "20"))
SUDO_PASSWORD = "correct-horse-7"  # a throwaway password of a throwaway container user


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with SshdFleet("agp-reach", tmp_path_factory.mktemp("reach")) as fleet:
        started = time.monotonic()
        hosts = fleet.start(FLEET_SIZE)
        print(f"\n{len(hosts)} sshd containers up in {time.monotonic() - started:.1f} s")
        # Two sudoers on the first host: one with a password, one without (NOPASSWD).
        fleet.exec(hosts[0], f"""set -e
            for u in deploy nopw; do
                useradd -m -s /bin/sh "$u"
                install -d -m 700 -o "$u" -g "$u" /home/"$u"/.ssh
                install -m 600 -o "$u" -g "$u" /root/.ssh/authorized_keys /home/"$u"/.ssh/authorized_keys
            done
            echo 'deploy:{SUDO_PASSWORD}' | chpasswd
            echo 'deploy ALL=(ALL) ALL' > /etc/sudoers.d/deploy
            echo 'nopw ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/nopw
            useradd -m -s /bin/sh plain
            echo 'plain:{SUDO_PASSWORD}' | chpasswd
            install -d -m 700 -o plain -g plain /home/plain/.ssh
            install -m 600 -o plain -g plain /root/.ssh/authorized_keys /home/plain/.ssh/authorized_keys""")
        yield fleet


def target(fleet: SshdFleet, host: SshdHost, **overrides) -> Target:
    values = {"name": host.name, "address": host.address, "user": "root", "key_file": str(fleet.key),
              "known_hosts": str(fleet.known_hosts), **overrides}
    return Target(**values)


def test_ok_reports_python_and_root(fleet):
    result = probe(target(fleet, fleet.hosts[0]))
    assert (result.ok, result.category) == (True, "ok"), result
    assert "/usr/bin/python3" in result.detail and "root login" in result.detail


def test_refused_on_closed_local_port():
    result = probe(Target("closed", "127.0.0.1", port=9, user="root"), timeout=5)
    assert (result.ok, result.category) == (False, "refused"), result


def test_dns_failure_on_invalid_name():
    result = probe(Target("ghost", "gpu-node-17.invalid", user="root"), timeout=5)
    assert result.category == "dns", result
    assert "gpu-node-17.invalid" in result.detail


def test_timeout_on_paused_container(fleet):
    host = fleet.hosts[1]
    subprocess.run(["podman", "pause", host.name], check=True, capture_output=True)
    try:
        result = probe(target(fleet, host), timeout=3)
    finally:
        subprocess.run(["podman", "unpause", host.name], check=True, capture_output=True)
    assert result.category == "timeout", result
    assert 2.5 <= result.seconds < 15, result


def test_wrong_key_is_auth(fleet, tmp_path):
    other_key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    result = probe(target(fleet, fleet.hosts[0], key_file=str(other_key)))
    assert result.category == "auth", result
    assert "'root'" in result.detail and str(other_key) in result.detail


def test_missing_key_file_is_auth(fleet, tmp_path):
    result = probe(target(fleet, fleet.hosts[0], key_file=str(tmp_path / "absent")))
    assert result.category == "auth" and "does not exist" in result.detail, result


def test_unknown_host_key_is_not_accepted(fleet, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    result = probe(target(fleet, fleet.hosts[0], known_hosts=str(empty)))
    assert result.category == "host_key_unknown", result
    assert "SHA256:" in result.detail
    assert empty.read_text() == "", "the unknown key must not be written to known_hosts"


def test_changed_host_key(fleet, tmp_path):
    victim, other = fleet.hosts[0], fleet.hosts[2]
    # known_hosts claims the victim's address has the other container's keys: a "reinstalled" host.
    lines = [line.replace(other.address, victim.address, 1) for line in fleet.host_key_lines(other)]
    stale = tmp_path / "known_hosts"
    stale.write_text("\n".join(lines) + "\n")
    result = probe(target(fleet, victim, known_hosts=str(stale)))
    assert result.category == "host_key_changed", result
    assert f"ssh-keygen -R '{victim.address}'" in result.detail


def test_hashed_known_hosts_entries_are_understood(fleet, tmp_path):
    hashed = tmp_path / "known_hosts"
    hashed.write_text(fleet.known_hosts.read_text())
    subprocess.run(["ssh-keygen", "-H", "-f", str(hashed)], check=True, capture_output=True)
    assert fleet.hosts[0].address not in hashed.read_text()
    assert probe(target(fleet, fleet.hosts[0], known_hosts=str(hashed))).category == "ok"


def test_sudo_needs_password(fleet):
    host = fleet.hosts[0]
    no_password = probe(target(fleet, host, user="deploy"))
    assert no_password.category == "sudo_password", no_password
    assert "ansible_become_password" in no_password.detail
    wrong = probe(target(fleet, host, user="deploy", become_password="wrong"))
    assert wrong.category == "sudo_password" and "rejected" in wrong.detail, wrong
    right = probe(target(fleet, host, user="deploy", become_password=SUDO_PASSWORD))
    assert right.category == "ok" and "become password" in right.detail, right
    assert SUDO_PASSWORD not in repr(target(fleet, host, become_password=SUDO_PASSWORD))
    # become off: no sudo check at all
    assert probe(target(fleet, host, user="deploy", become=False)).category == "ok"


def test_sudo_nopasswd_and_no_sudo_rights(fleet):
    host = fleet.hosts[0]
    assert probe(target(fleet, host, user="nopw")).category == "ok"
    # sudo asks a user outside sudoers for a password too; only with the right one does it say no.
    assert probe(target(fleet, host, user="plain")).category == "sudo_password"
    denied = probe(target(fleet, host, user="plain", become_password=SUDO_PASSWORD))
    assert denied.category == "sudo_denied" and "sudoers" in denied.detail, denied


def test_no_python(fleet):
    host = fleet.hosts[2]
    fleet.exec(host, "mv /usr/bin/python3 /usr/bin/python3.hidden")
    try:
        missing = probe(target(fleet, host))
        custom = probe(target(fleet, host, python="/usr/bin/python3.hidden"))
    finally:
        fleet.exec(host, "mv /usr/bin/python3.hidden /usr/bin/python3")
    assert missing.category == "no_python", missing
    assert custom.category == "ok", custom


def test_proxy_jump_through_another_host(fleet):
    jump, behind = fleet.hosts[0], fleet.hosts[3]
    command = (f"ssh -i {fleet.key} -o BatchMode=yes -o StrictHostKeyChecking=yes "
               f"-o UserKnownHostsFile={fleet.known_hosts} -W %h:%p root@{jump.address}")
    result = probe(target(fleet, behind, proxy_command=command))
    assert result.category == "ok", result


def test_inventory_to_table_in_parallel(fleet, tmp_path):
    """The lead's path: inventory -> targets -> parallel probes -> one table. Every fleet host, plus
    a refused and a DNS failure, and local/container hosts that must be left out."""
    hosts = {h.name: {"ansible_host": h.address} for h in fleet.hosts}
    hosts["closed"] = {"ansible_host": "127.0.0.1", "ansible_port": 9}
    hosts["ghost.invalid"] = {}
    hosts["controller"] = {"ansible_connection": "local"}
    hosts["box"] = {"ansible_connection": "containers.podman.podman"}
    inv_path = write_inventory(tmp_path / "hosts.yml", hosts, {
        "ansible_user": "root", "ansible_ssh_private_key_file": str(fleet.key),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={fleet.known_hosts}"})
    targets = targets_from_inventory(read_inventory(inv_path))
    assert {t.name for t in targets} == set(hosts) - {"controller", "box"}
    started = time.monotonic()
    results = probe_all(targets, timeout=10)
    elapsed = time.monotonic() - started
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == [t.name for t in targets]
    assert all(by_name[h.name].category == "ok" for h in fleet.hosts), [r for r in results if not r.ok]
    assert by_name["closed"].category == "refused" and by_name["ghost.invalid"].category == "dns"
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(render_table(results))
    text = console.export_text()
    assert "2 not (1 refused, 1 dns)" in text or "2 not (1 dns, 1 refused)" in text
    print(f"\nprobed {len(targets)} targets ({len(fleet.hosts)} real sshd) in {elapsed:.2f} s\n{text}")


def test_scale_figure(fleet):
    """Twice the fleet (each container probed under two names: real, separate SSH sessions) to
    reach 2N probes; the figure is printed, not asserted tightly (2-core shared machine)."""
    targets = [target(fleet, h, name=f"{h.name}-{copy}") for copy in "ab" for h in fleet.hosts]
    started = time.monotonic()
    results = probe_all(targets, timeout=15, workers=64)
    elapsed = time.monotonic() - started
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    slowest = max(r.seconds for r in results)
    print(f"\nscale: {len(targets)} SSH probes (login + python3 check) in {elapsed:.2f} s wall, "
          f"slowest single probe {slowest:.2f} s, load average {os.getloadavg()[0]:.1f}")
    assert elapsed < 120


def test_known_hosts_file_untouched(fleet):
    before = Path(fleet.known_hosts).read_text()
    probe_all([target(fleet, h) for h in fleet.hosts[:3]])
    assert Path(fleet.known_hosts).read_text() == before
