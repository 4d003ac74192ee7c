"""Reliability through the real CLI: a host that goes away in the middle of a run is reported
unreachable while the others finish, and --retry-failed picks it up once it is back."""

import subprocess
import time

from .conftest import CLI, IMAGE, ROOT, needs_podman, podman_host, write_inventory

pytestmark = [needs_podman]


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
