"""kill -9 of the CLI during the --probe-strict pre-flight: its ansible-playbook and ssh die with it (issue
#29: the pre-flight was not under the run's watchdog). The target is a TCP port that accepts and never
speaks (a stand-in for a host whose sshd hangs: the real thing cannot be made to hang on demand here), so
ssh waits the pre-flight's connect timeout (10 s) for a banner: the window in which the CLI is killed.
Processes are found by a marker of this test in their environment."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading

import pytest

from .conftest import ROOT
from .test_cli_sigkill import _marked, _wait_for

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

_DRIVE = """
import sys
from provisioner.inventory.inventory import read_inventory
from provisioner.plan.options import RunOptions
from provisioner.run.preflight import probe_with_ansible, ssh_hosts
inv = read_inventory(sys.argv[1])
probe_with_ansible(inv, ssh_hosts(inv, list(inv.hosts)), RunOptions())
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
