"""Reliability through the real CLI: a host that goes away in the middle of a run is reported
unreachable while the others finish, and --retry-failed picks it up once it is back; a mirror that
hangs fails the apt refresh at its time limit and leaves no apt process (and no lock) on the host."""

import contextlib
import socket
import subprocess
import threading
import time

import pytest

from .conftest import CLI, IMAGE, ROOT, needs_podman, podman_host, write_inventory
from .sshd_targets import GATEWAY

pytestmark = [needs_podman, pytest.mark.faults]


def start(name: str) -> None:
    subprocess.run(["podman", "run", "-d", "--name", name, "--systemd=always", IMAGE, "/lib/systemd/systemd"],
                   check=True, capture_output=True)


def test_host_lost_mid_run_is_unreachable_and_retry_picks_it_up(cli, tmp_path):
    names = [f"autoglm-rel-{i}-{time.monotonic_ns() % 100000}" for i in range(2)]
    steady, lost = names
    try:
        for name in names:
            start(name)
        inv = write_inventory(tmp_path / "hosts.yml", {n: podman_host(n) for n in names},
                              {"gpu_smoke_require_gpu": False})
        proc = subprocess.Popen([*CLI, "smoke", str(inv), "--level", "quick", "--plain"], cwd=ROOT, env=cli.env,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        seen = ""
        deadline = time.monotonic() + 180
        while "TASK [Read the boot id" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        subprocess.run(["podman", "stop", "-t", "0", lost], check=True, capture_output=True)  # pulled the plug
        out, _ = proc.communicate(timeout=600)
        report = cli.report()
        assert report["hosts"][lost]["status"] == "unreachable", seen + out
        assert report["hosts"][steady]["status"] == "ok", seen + out
        assert proc.returncode == 4

        subprocess.run(["podman", "start", lost], check=True, capture_output=True)
        time.sleep(3)
        retry = cli("smoke", str(inv), "--level", "quick", "--plain", "--retry-failed")
        assert f"retrying 1 host(s) from run {report['run_id']}: {lost}" in retry.stdout
        assert retry.returncode == 0, retry.stdout
        assert list(cli.report()["hosts"]) == [lost]
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", *names], capture_output=True, check=False)



@contextlib.contextmanager
def black_hole_proxy():
    """An HTTP proxy that accepts connections and never answers: a hung mirror, as apt sees one
    (apt-cacher-ng once left `apt-get update` waiting for 20 minutes in a benchmark run)."""
    server = socket.create_server((GATEWAY, 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.5)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://{GATEWAY}:{server.getsockname()[1]}", held
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_hung_mirror_fails_the_refresh_at_its_limit_and_leaves_no_apt_running(cli, container, tmp_path):
    with black_hole_proxy() as (proxy, held):
        inv = write_inventory(tmp_path / "hosts.yml", {container: podman_host(container)}, {
            "apt_sources_proxy_url": proxy, "common_apt_timeout": 20, "common_apt_retries": 0,
            "common_apt_cache_valid_time": 0})
        started = time.monotonic()
        result = cli("site", str(inv), "--plain", "--tags", "apt_sources", timeout=600)
        took = time.monotonic() - started
        assert held, "apt never reached the proxy: the test did not simulate a hung mirror"
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    failed = cli.report()["hosts"][container]
    assert failed["status"] == "failed", out
    assert "Refresh the package lists" in str(failed), failed
    assert took < 240, f"the refresh was not stopped at its 20 s limit: the run took {took:.0f} s"
    # The async wrapper killed the module's process group on the host: apt-get and its http method
    # too. A task timeout alone stopped waiting on the controller and left them holding the lock.
    ps = subprocess.run(["podman", "exec", container, "ps", "-eo", "pid,args"], capture_output=True, text=True,
                        check=True).stdout
    assert not [line for line in ps.splitlines() if "AnsiballZ_apt" in line or "/apt/methods/" in line], ps
    # The lists lock is free: a non-waiting refresh gets it (it fails on the dead proxy, not the lock).
    locked = subprocess.run(["podman", "exec", container, "apt-get", "-o", "DPkg::Lock::Timeout=0",
                             "-o", "Acquire::http::Timeout=1", "-o", "Acquire::Retries=0", "update"],
                            capture_output=True, text=True, check=False)
    assert "Could not get lock" not in locked.stderr, locked.stderr
