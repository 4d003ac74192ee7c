"""kill -9 of the CLI during the --probe-strict pre-flight: its ansible-playbook and ssh die with it (issue
#29: the pre-flight was not under the run's watchdog). The target is a TCP port that accepts and never
speaks (a stand-in for a host whose sshd hangs: the real thing cannot be made to hang on demand here), so
ssh waits the pre-flight's connect timeout (10 s) for a banner: the window in which the CLI is killed.
Processes are found by a marker of this test in their environment."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from provisioner.run import scratch

from .conftest import CLI, ROOT
from .test_cli_sigkill import _marked, _wait_for

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

_DRIVE = """
import sys
from provisioner.inventory.inventory import read_inventory
from provisioner.plan.options import RunOptions
from provisioner.run.preflight import probe_with_ansible, ssh_hosts
from provisioner.run.scratch import Scratch
inv = read_inventory(sys.argv[1])
with Scratch() as scratch:
    probe_with_ansible(inv, ssh_hosts(inv, list(inv.hosts)), RunOptions(), scratch)
"""


def _silent_port() -> tuple[socket.socket, int]:
    """A listening socket that accepts connections and never answers them."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


def test_kill_9_during_the_preflight_leaves_no_process_of_it(tmp_path):
    server, port = _silent_port()
    (tmp_path / "hosts").write_text(f"hung ansible_host=127.0.0.1 ansible_port={port} ansible_user=nobody "
                                    f"ansible_python_interpreter={sys.executable}\n")
    marker = secrets.token_hex(8)
    proc = subprocess.Popen([sys.executable, "-c", _DRIVE, str(tmp_path / "hosts")], cwd=ROOT, text=True,
                            env={**os.environ, "AUTOGLM_TEST_MARK": marker, "TMPDIR": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def ssh_started() -> bool:
            return any(" ssh " in f" {p.split(': ', 1)[1]}" or p.split(": ", 1)[1].startswith("ssh ")
                       for p in _marked(marker)) or proc.poll() is not None

        assert _wait_for(ssh_started, 60), f"no ssh started: {_marked(marker)}"
        assert proc.poll() is None, proc.communicate()[0]
        assert any("ansible-playbook" in p for p in _marked(marker)), _marked(marker)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Well inside the 10 s connect timeout that would otherwise end them on their own.
        assert _wait_for(lambda: _marked(marker) == [], 4), f"alive 4 s after kill -9: {_marked(marker)}"
    finally:
        for line in _marked(marker):  # what the test itself started, by its marker
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        server.close()


def _probe_dirs_of(host: str, tmpdir: Path) -> list[Path]:
    """The private directories of a pre-flight of ``host``, wherever the CLI made them (``tmpdir``, its
    $TMPDIR, or its scratch root): its limit file names the host (a name unique to this test)."""
    found = []
    for base in {tmpdir, scratch.root()}:
        for limit in [*base.glob("agp-probe-*/hosts.limit"), *base.glob(f"{scratch.PREFIX}*/*/hosts.limit")]:
            with contextlib.suppress(OSError):
                if host in limit.read_text().split():
                    found.append(limit.parent)
    return found


def _strict_preflight(cli, inventory: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "site", str(inventory), "--plain", "--probe-strict"], cwd=ROOT, text=True,
                            env={**cli.env, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_kill_9_during_the_preflight_leaves_no_temp_dir_and_the_next_run_sweeps_it(cli, tmp_path):
    """Reproduced on main (9579a6c): a pre-flight killed with kill -9 left its two private directories,
    agp-probe-* and agp-pcp-*, in $TMPDIR for good (tempfile's clean-up never ran and nothing swept
    them). Now they live in the run's locked scratch directory: a concurrent run's start leaves them
    alone while their CLI lives, and the first run after its death removes them and says so."""
    server, port = _silent_port()
    host = f"hung-{secrets.token_hex(4)}"
    (tmp_path / "tmp").mkdir()
    env = {"AUTOGLM_TEST_MARK": secrets.token_hex(8), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "hung.ini").write_text(f"{host} ansible_host=127.0.0.1 ansible_port={port} ansible_user=nobody\n")
    with socket.socket() as closed:  # a port nothing listens on: the second run's pre-flight fails at once
        closed.bind(("127.0.0.1", 0))
        refused = closed.getsockname()[1]
    (tmp_path / "refused.ini").write_text(f"refused ansible_host=127.0.0.1 ansible_port={refused} "
                                          "ansible_user=nobody\n")
    proc = _strict_preflight(cli, tmp_path / "hung.ini", env)
    tmpdir = tmp_path / "tmp"
    try:
        assert _wait_for(lambda: _probe_dirs_of(host, tmpdir) or proc.poll() is not None, 60), "no pre-flight started"
        assert proc.poll() is None, proc.communicate()[0]
        live = _probe_dirs_of(host, tmpdir)
        concurrent = _strict_preflight(cli, tmp_path / "refused.ini", env)
        assert concurrent.wait(120) == 4, concurrent.communicate()[0]
        assert all(d.is_dir() for d in live), "a concurrent run's start removed a live pre-flight's directory"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _wait_for(lambda: _marked(env["AUTOGLM_TEST_MARK"]) == [], 4), _marked(env["AUTOGLM_TEST_MARK"])
        assert not list(tmpdir.glob("agp-*")), "kill -9 left the pre-flight's directories in $TMPDIR"
        after = _strict_preflight(cli, tmp_path / "refused.ini", env)
        out = after.communicate(timeout=120)[0]
        assert after.returncode == 4, out
        assert _probe_dirs_of(host, tmpdir) == [], f"the next run did not sweep the killed pre-flight's dir: {out}"
    finally:
        for line in _marked(env["AUTOGLM_TEST_MARK"]):  # what the test itself started, by its marker
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        server.close()
