"""Nothing left behind on a real SSH host (an sshd container): a `check` cancelled during the
storage read test leaves no test file on the host, a `smoke` interrupted while its program runs
leaves neither the program nor its files there, and the SSH control master of a CLI killed with
kill -9 is closed by the next run's start."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from provisioner.run import scratch

from .conftest import CLI, ROOT, needs_podman, write_inventory
from .sshd_targets import SshdFleet

pytestmark = [needs_podman, pytest.mark.faults]
DATA = "/var/tmp/agp-data"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with SshdFleet("agp-left", tmp_path_factory.mktemp("left")) as fleet:
        (host,) = fleet.start(1)
        fleet.write_known_hosts()
        fleet.exec(host, f"mkdir -p {DATA}")
        yield fleet, host


def _inventory(tmp_path: Path, fleet, host) -> Path:
    return write_inventory(tmp_path / "hosts.yml", {host.name: {
        "ansible_host": host.address, "ansible_user": "root", "ansible_ssh_private_key_file": str(fleet.key),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={fleet.known_hosts}",
        "ansible_python_interpreter": "/usr/bin/python3"}},
        {"gpu_smoke_require_gpu": False, "preflight_data_path": DATA})


def _test_files(fleet, host) -> str:
    return fleet.exec(host, f"ls -a {DATA} | grep autoglm-preflight-readtest || true").stdout.strip()


def _masters_in(directory: Path) -> list[str]:
    out = subprocess.run(["pgrep", "-af", str(directory)], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "[mux]" in line or "ControlPersist" in line]


def test_sigterm_during_storage_read_test_leaves_no_file_on_the_ssh_host(cli, sshd, tmp_path):
    fleet, host = sshd
    inv = _inventory(tmp_path, fleet, host)
    proc = subprocess.Popen([*CLI, "check", str(inv), "--plain"], cwd=ROOT, env=cli.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not _test_files(fleet, host) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None and _test_files(fleet, host), "the read test never started on the host"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert cli.report()["hosts"][host.name]["status"] == "interrupted"
    deadline = time.monotonic() + 30  # the probe's finally runs when its signal (or its end) comes
    while _test_files(fleet, host) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _test_files(fleet, host) == "", "the storage read test's file was left on the host"


def test_control_master_of_a_killed_cli_dies_with_it_and_the_next_start_sweeps_its_scratch(cli, sshd, tmp_path):
    """kill -9 of the CLI: the run's watchdog (provisioner/state/orphans.py) stops every process of the run,
    the SSH control master included (it once outlived the CLI until the next start closed it)."""
    fleet, host = sshd
    inv = _inventory(tmp_path, fleet, host)
    before = set(scratch.root().glob(f"{scratch.PREFIX}*"))
    proc = subprocess.Popen([*CLI, "check", str(inv), "--plain", "-e", "preflight_storage_read_test=false"],
                            cwd=ROOT, env=cli.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def control_sockets() -> list[Path]:
        return [p for d in set(scratch.root().glob(f"{scratch.PREFIX}*")) - before for p in d.glob("cp/*")]

    deadline = time.monotonic() + 180
    while not control_sockets() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert control_sockets(), "no control socket: the run never connected"
    killed_scratch = control_sockets()[0].parent.parent
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _masters_in(killed_scratch) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _masters_in(killed_scratch) == [], "the killed run's SSH master outlived it"
    again = cli("check", str(inv), "--plain", "--tags", "always")
    assert again.returncode in (0, 1), again.stdout
    assert not killed_scratch.exists()


SLOW_PYTHON = "/var/tmp/agp-slow-python"  # sleeps, then the host's python3: time to interrupt the program
REMOTE_TMP = "/var/tmp/agp-remote-tmp"  # Ansible's remote_tmp for these runs: the zipapp's directory


def _smoke_leftovers(fleet, host) -> str:
    """Every file of the smoke run on the host: its scratch directory (made by mktemp in the host's
    /tmp; the container is this module's own) and what is in Ansible's remote_tmp."""
    return fleet.exec(host, f"ls -d /tmp/autoglm-gpu-smoke.* {REMOTE_TMP}/* {REMOTE_TMP}/*/* 2>/dev/null || true"
                      ).stdout.strip()


def _program_on(fleet, host) -> str:
    return fleet.exec(host, "pgrep -af '[a]utoglm_smoke[.]pyz' || true").stdout.strip()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_signal_during_the_smoke_program_leaves_nothing_on_the_ssh_host(cli, sshd, tmp_path, sig):
    fleet, host = sshd
    fleet.exec(host, f"mkdir -p {REMOTE_TMP} && printf '#!/bin/sh\\nsleep 300\\nexec /usr/bin/python3 \"$@\"\\n' "
                     f"> {SLOW_PYTHON} && chmod 755 {SLOW_PYTHON}")
    assert _program_on(fleet, host) == "", "an earlier test's smoke program still runs on the host"
    inv = _inventory(tmp_path, fleet, host)
    proc = subprocess.Popen([*CLI, "smoke", str(inv), "--plain", "--level", "quick",
                             "-e", f"gpu_smoke_python={SLOW_PYTHON}", "-e", f"ansible_remote_tmp={REMOTE_TMP}"],
                            cwd=ROOT, env=cli.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not _program_on(fleet, host) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None and _program_on(fleet, host), "the smoke program never ran on the host"
    assert "autoglm_smoke.pyz" in _smoke_leftovers(fleet, host), "the zipapp is not in the test's remote_tmp"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    deadline = time.monotonic() + 30  # the host's shell acts when the SSH session hangs up
    while (_program_on(fleet, host) or _smoke_leftovers(fleet, host)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _program_on(fleet, host) == "", "the smoke program outlived the run on the host"
    assert _smoke_leftovers(fleet, host) == "", "the interrupted smoke run left these on the host"
