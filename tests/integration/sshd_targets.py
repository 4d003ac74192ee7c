"""N real SSH targets: systemd containers of the project's image (openssh-server, host keys made
at first boot) on podman's bridge network, each reached on its own 10.88.x.x address.

Reusable by tests and benchmarks::

    with SshdFleet("autoglm-reach", workdir) as fleet:
        hosts = fleet.start(5)         # root login with fleet.key, keys in fleet.known_hosts
        fleet.exec(hosts[0], "useradd -m deploy")

Only containers named with the fleet's prefix are ever removed.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("AUTOGLM_TEST_IMAGE", "localhost/autoglm-debian12:latest")
HOST_KEY_TYPES = ("ed25519", "ecdsa", "rsa")
GATEWAY = "10.88.0.1"  # podman's default bridge: this machine, as the containers see it
os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))


@dataclass(frozen=True)
class SshdHost:
    name: str  # the container's name (also its hostname)
    address: str  # its address on podman's bridge


def podman(*args: str, check: bool = True, input_text: str | None = None, timeout: float = 120):
    return subprocess.run(["podman", *args], check=check, capture_output=True, text=True, input=input_text,
                          timeout=timeout)


def wait_for_ssh_banner(address: str, port: int = 22, deadline_s: float = 60.0) -> None:
    """Until sshd answers with its banner (systemd has started ssh.service after key generation)."""
    deadline = time.monotonic() + deadline_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=2) as sock:
                sock.settimeout(2)
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"sshd on {address}:{port} did not answer in {deadline_s} s ({last})")


# Every systemd container takes ~6 inotify instances of the (shared) root user; the kernel's
# default of 128 stops the ~20th container's boot silently ("Too many open files" in logind,
# ssh-keygen.service never starts).
INOTIFY_INSTANCES_PER_CONTAINER = 8
INOTIFY_SYSCTL = Path("/proc/sys/fs/inotify/max_user_instances")


def ensure_inotify_instances(wanted: int) -> None:
    """Raise fs.inotify.max_user_instances to ``wanted`` when lower (root only; never lowers it)."""
    current = int(INOTIFY_SYSCTL.read_text())
    if current >= wanted:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"fs.inotify.max_user_instances is {current}; {wanted} are needed for this many "
                           f"systemd containers: sysctl -w fs.inotify.max_user_instances={wanted}")
    INOTIFY_SYSCTL.write_text(str(wanted))


class SshdFleet:
    def __init__(self, prefix: str, workdir: Path, image: str = IMAGE):
        self.prefix = f"{prefix}-{secrets.token_hex(2)}"
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.image = image
        self.hosts: list[SshdHost] = []
        self.key = self.workdir / "id_ed25519"
        self.known_hosts = self.workdir / "known_hosts"
        if not self.key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.prefix, "-f", str(self.key)],
                           check=True)
        self.known_hosts.touch()

    def __enter__(self) -> SshdFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def public_key(self) -> str:
        return self.key.with_suffix(".pub").read_text().strip()

    def start(self, count: int, boot_deadline_s: float = 120.0) -> list[SshdHost]:
        """Start ``count`` more containers; return them once each accepts root's key over SSH."""
        ensure_inotify_instances(INOTIFY_INSTANCES_PER_CONTAINER * (count + len(self.hosts)) + 256)
        names = [f"{self.prefix}-{len(self.hosts) + i:03d}" for i in range(count)]
        for name in names:  # podman serialises on its own locks: starting one at a time is as fast
            podman("run", "-d", "--name", name, "--hostname", name, "--systemd=always", self.image,
                   "/lib/systemd/systemd")
        with ThreadPoolExecutor(max_workers=8) as pool:
            started = list(pool.map(lambda n: self._prepare(n, boot_deadline_s), names))
        self.hosts += started
        self.write_known_hosts()
        return started

    def _prepare(self, name: str, deadline_s: float) -> SshdHost:
        address = podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).stdout.strip()
        if not address:
            raise RuntimeError(f"container {name} has no address on podman's bridge")
        self.exec_name(name, "install -d -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys && "
                       "chmod 600 /root/.ssh/authorized_keys", input_text=self.public_key + "\n")
        wait_for_ssh_banner(address, deadline_s=deadline_s)
        return SshdHost(name, address)

    def host_key_lines(self, host: SshdHost) -> list[str]:
        """known_hosts lines for the host's current keys, read inside the container (no keyscan trust)."""
        lines = []
        for kind in HOST_KEY_TYPES:
            out = self.exec_name(host.name, f"cat /etc/ssh/ssh_host_{kind}_key.pub", check=False)
            if out.returncode == 0 and out.stdout.strip():
                key_type, blob = out.stdout.split()[:2]
                lines.append(f"{host.address} {key_type} {blob}")
        return lines

    def write_known_hosts(self, path: Path | None = None, hosts: list[SshdHost] | None = None) -> Path:
        path = path or self.known_hosts
        path.write_text("".join(f"{line}\n" for h in (hosts or self.hosts) for line in self.host_key_lines(h)))
        return path

    def exec_name(self, name: str, command: str, check: bool = True, input_text: str | None = None):
        return podman("exec", "-i", name, "sh", "-c", command, check=check, input_text=input_text)

    def exec(self, host: SshdHost, command: str, check: bool = True, input_text: str | None = None):
        return self.exec_name(host.name, command, check=check, input_text=input_text)

    def stop(self) -> None:
        names = podman("ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{self.prefix}-").stdout.split()
        names = [n for n in names if n.startswith(f"{self.prefix}-")]
        if names:
            podman("rm", "-f", "-t", "0", *names, check=False, timeout=300)
        self.hosts = []
