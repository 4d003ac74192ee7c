"""Real Redfish services on 127.0.0.1 for redfish_bios's integration tests (nothing else is reached):
test_redfish_emulator.py (the module) and test_redfish_check_cli.py (`autoglm-provision check` end to
end). sushy-emulator with libvirt's in-process test hypervisor (test:///default) and HTTP basic auth,
seeded with a vendor's BIOS attribute set (seed), read back over plain HTTP (current); any Redfish
service's process run while it answers (serve).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytest.importorskip("libvirt", reason="libvirt-python is needed for sushy-emulator's libvirt driver")
bcrypt = pytest.importorskip("bcrypt")

BIN = Path(sys.executable).parent
USER, PASSWORD = "root", "Rf-calvin-7731!"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, auth=None, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, auth=auth, timeout=2).status_code < 500:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in {seconds}s")


@contextlib.contextmanager
def serve(argv: list[str], url: str, log: Path, auth=None, env=None):
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_http(url, auth)
        yield url.rsplit("/redfish/v1", 1)[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def sushy_emulator(work: Path):
    """sushy-emulator on libvirt test:///default with basic auth; yields (base url, system path).
    bcrypt cost 4 keeps the per-request password check fast on a 2-core CI machine."""
    port = free_port()
    (work / "htpasswd").write_text(f"{USER}:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    (work / "emulator.conf").write_text(
        "SUSHY_EMULATOR_LIBVIRT_URI = 'test:///default'\n"
        "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\n"
        f"SUSHY_EMULATOR_LISTEN_PORT = {port}\n"
        f"SUSHY_EMULATOR_AUTH_FILE = '{work / 'htpasswd'}'\n"
    )
    argv = [str(BIN / "sushy-emulator"), "--config", str(work / "emulator.conf")]
    url = f"http://127.0.0.1:{port}/redfish/v1/Systems"
    with serve(argv, url, work / "emulator.log", auth=(USER, PASSWORD)) as base:
        members = requests.get(url, auth=(USER, PASSWORD), timeout=5).json()["Members"]
        yield base, members[0]["@odata.id"]


def seed(emulator, attributes: dict) -> None:
    """Give the emulated system a vendor's BIOS attribute set (reset to defaults, then PATCH)."""
    base, system = emulator
    auth = (USER, PASSWORD)
    requests.post(f"{base}{system}/BIOS/Actions/Bios.ResetBios", auth=auth, timeout=5).raise_for_status()
    requests.patch(
        f"{base}{system}/BIOS/Settings", json={"Attributes": attributes}, auth=auth, timeout=5
    ).raise_for_status()


def current(emulator) -> dict:
    base, system = emulator
    return requests.get(f"{base}{system}/BIOS", auth=(USER, PASSWORD), timeout=5).json()["Attributes"]
