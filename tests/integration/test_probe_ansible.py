"""The reachability pre-flight through Ansible's connection layer against real sshd targets (podman
containers of the project's image): every category from a real server or network condition, and the
SSH set-ups only Ansible's own connection handles — ProxyJump through a bastion from an Include'd
ssh_config, a host certificate checked against an @cert-authority known_hosts line, a non-standard
port. Nothing is faked."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from provisioner.inventory.inventory import read_inventory
from provisioner.plan.options import RunOptions
from provisioner.run.preflight import probe_with_ansible, ssh_hosts
from provisioner.run.scratch import Scratch

from .conftest import needs_podman, write_inventory
from .sshd_targets import SshdFleet

pytestmark = [needs_podman]
SUDO_PASSWORD = "correct-horse-8"  # a throwaway password of a throwaway container user


def restart_sshd(fleet, host, extra_config: str) -> None:
    fleet.exec(host, "cat >> /etc/ssh/sshd_config && sshd -t && systemctl restart ssh",
               input_text=extra_config + "\n")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("probe")
    with SshdFleet("agp-probe", workdir) as fleet:
        hosts = fleet.start(4)
        fleet.exec(hosts[0], f"""set -e
            useradd -m -s /bin/sh deploy
            install -d -m 700 -o deploy -g deploy /home/deploy/.ssh
            install -m 600 -o deploy -g deploy /root/.ssh/authorized_keys /home/deploy/.ssh/authorized_keys
            echo 'deploy:{SUDO_PASSWORD}' | chpasswd
            echo 'deploy ALL=(ALL) ALL' > /etc/sudoers.d/deploy
            useradd -m -s /bin/sh plain
            echo 'plain:{SUDO_PASSWORD}' | chpasswd
            install -d -m 700 -o plain -g plain /home/plain/.ssh
            install -m 600 -o plain -g plain /root/.ssh/authorized_keys /home/plain/.ssh/authorized_keys""")
        # hosts[2]: a host certificate signed by a site CA, and sshd on port 2222 as well as 22.
        ca = workdir / "host_ca"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ca)], check=True)
        pub = workdir / "host2_ed25519.pub"
        pub.write_text(fleet.exec(hosts[2], "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout)
        subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", hosts[2].name, "-h", "-n", hosts[2].address,
                        str(pub)], check=True)
        fleet.exec(hosts[2], "cat > /etc/ssh/ssh_host_ed25519_key-cert.pub",
                   input_text=(workdir / "host2_ed25519-cert.pub").read_text())
        restart_sshd(fleet, hosts[2], "HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub\nPort 22\nPort 2222")
        fleet.ca_line = f"@cert-authority * {ca.with_suffix('.pub').read_text().strip()}"
        yield fleet


def inventory(fleet, tmp_path: Path, hosts: dict, known_hosts: Path | None = None, **all_vars) -> Path:
    return write_inventory(tmp_path / "hosts.yml", hosts, {
        "ansible_user": "root", "ansible_ssh_private_key_file": str(fleet.key),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts or fleet.known_hosts}", **all_vars})


def run(path: Path, **options) -> dict:
    inv = read_inventory(path)
    # Several names for one container are the point of these inventories (validate refuses them).
    errors = [p for p in inv.problems if p.severity == "error" and "listed twice" not in p.message]
    assert not errors, [p.render() for p in errors]
    with Scratch() as scratch:
        results = probe_with_ansible(inv, ssh_hosts(inv, list(inv.hosts)), RunOptions(**options), scratch)
    return {r.name: r for r in results}


def test_categories_from_real_servers(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_TIMEOUT", "4")
    good, paused = fleet.hosts[0], fleet.hosts[1]
    stale = tmp_path / "stale_known_hosts"  # good's address with another host's keys: a "reinstalled" host
    stale.write_text("".join(line.replace(fleet.hosts[3].address, good.address, 1) + "\n"
                             for line in fleet.host_key_lines(fleet.hosts[3])))
    other_key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    path = inventory(fleet, tmp_path, {
        "ok": {"ansible_host": good.address},
        "closed": {"ansible_host": "127.0.0.1", "ansible_port": 9},
        "ghost.invalid": {},
        "paused": {"ansible_host": paused.address},
        "wrongkey": {"ansible_host": good.address, "ansible_ssh_private_key_file": str(other_key)},
        "unknownkey": {"ansible_host": good.address, "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null"},
        "changedkey": {"ansible_host": good.address, "ansible_ssh_common_args": f"-o UserKnownHostsFile={stale}"},
        "needs_sudo_pw": {"ansible_host": good.address, "ansible_user": "deploy"},
        "no_sudo_rights": {"ansible_host": good.address, "ansible_user": "plain"},
        "controller": {"ansible_connection": "local"},
    })
    subprocess.run(["podman", "pause", paused.name], check=True, capture_output=True)
    try:
        found = run(path)
    finally:
        subprocess.run(["podman", "unpause", paused.name], check=True, capture_output=True)
    got = {name: r.category for name, r in found.items()}
    assert got == {"ok": "ok", "closed": "refused", "ghost.invalid": "dns", "paused": "timeout", "wrongkey": "auth",
                   "unknownkey": "host_key_unknown", "changedkey": "host_key_changed",
                   "needs_sudo_pw": "sudo_password", "no_sudo_rights": "sudo_password"}, \
        {n: (r.category, r.detail) for n, r in found.items()}
    assert found["closed"].port == 9 and found["needs_sudo_pw"].user == "deploy"
    with_password = run(path, become_password=SUDO_PASSWORD)  # as -K gives it
    assert with_password["needs_sudo_pw"].category == "ok", with_password["needs_sudo_pw"]
    assert with_password["no_sudo_rights"].category == "sudo_denied", with_password["no_sudo_rights"]


def test_no_python(fleet, tmp_path):
    host = fleet.hosts[1]
    path = inventory(fleet, tmp_path, {"nopython": {"ansible_host": host.address}})
    # Every python3* on PATH (Ansible's interpreter discovery would find python3.11 otherwise).
    fleet.exec(host, "mkdir -p /root/hidden && mv /usr/bin/python3* /root/hidden/")
    try:
        found = run(path)["nopython"]
    finally:
        fleet.exec(host, "mv /root/hidden/python3* /usr/bin/")
    assert found.category == "no_python", found


def test_proxyjump_bastion_from_an_included_ssh_config(fleet, tmp_path):
    """`behind` is 127.0.0.1 as seen from the bastion: reachable only through the jump."""
    bastion = fleet.hosts[0]
    known = tmp_path / "known_hosts"
    known.write_text(fleet.known_hosts.read_text() + "".join(
        line.replace(bastion.address, "127.0.0.1", 1) + "\n" for line in fleet.host_key_lines(bastion)))
    included = tmp_path / "site.conf"
    included.write_text(f"Host behind-bastion\n  HostName 127.0.0.1\n  ProxyJump root@{bastion.address}\n"
                        f"Host *\n  User root\n  IdentityFile {fleet.key}\n  UserKnownHostsFile {known}\n"
                        "  StrictHostKeyChecking yes\n")
    config = tmp_path / "ssh_config"
    config.write_text(f"Include {included}\n")
    path = write_inventory(tmp_path / "hosts.yml", {"behind": {"ansible_host": "behind-bastion"}},
                           {"ansible_ssh_common_args": f"-F {config}"})
    found = run(path)["behind"]
    assert found.category == "ok", found
    assert fleet.exec(bastion, "grep -c 'Accepted publickey for root from 127.0.0.1' /var/log/auth.log || "
                               "journalctl -u ssh --no-pager | grep -c 'from 127.0.0.1'", check=False).stdout.strip() \
        not in ("", "0")


def test_cert_authority_known_hosts_and_a_non_standard_port(fleet, tmp_path):
    host = fleet.hosts[2]
    known = tmp_path / "known_hosts_ca"
    known.write_text(fleet.ca_line + "\n")  # no plain key for the host at all: only the CA vouches for it
    path = inventory(fleet, tmp_path, {"certified": {"ansible_host": host.address},
                                       "port2222": {"ansible_host": host.address, "ansible_port": 2222}},
                     known_hosts=known)
    found = run(path)
    assert found["certified"].category == "ok", found["certified"]
    assert found["port2222"].category == "ok" and found["port2222"].port == 2222, found["port2222"]
    without_ca = tmp_path / "empty_known_hosts"
    without_ca.write_text("")
    refused = run(inventory(fleet, tmp_path, {"certified": {"ansible_host": host.address}}, known_hosts=without_ca))
    assert refused["certified"].category == "host_key_unknown", refused["certified"]


@pytest.mark.skipif(not os.environ.get("AUTOGLM_PROBE_SCALE"), reason="scale figure: AUTOGLM_PROBE_SCALE=20,200")
def test_scale_figure(fleet, tmp_path):
    """N inventory hosts over the fleet's containers (names cycle over the real sshd containers)."""
    for count in (int(n) for n in os.environ["AUTOGLM_PROBE_SCALE"].split(",")):
        hosts = {f"node{i:03d}": {"ansible_host": fleet.hosts[i % len(fleet.hosts)].address} for i in range(count)}
        path = inventory(fleet, tmp_path, hosts)
        started = time.monotonic()
        found = run(path)
        elapsed = time.monotonic() - started
        assert all(r.ok for r in found.values()), [r for r in found.values() if not r.ok]
        print(f"\npre-flight through Ansible: {count} hosts on {len(fleet.hosts)} sshd containers in {elapsed:.1f} s "
              f"(load average {os.getloadavg()[0]:.1f})")
