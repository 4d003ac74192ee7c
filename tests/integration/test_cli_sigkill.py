"""kill -9 of the CLI while ansible-playbook runs a slow task: no process of the run survives it
(issue #29, item 6). Processes are found by a marker of this test in their environment, which every
process of the run inherits (ansible-playbook, its workers, the task's shell and its sleep)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

_SLOW = """- hosts: all
  gather_facts: false
  tasks:
    - name: a task that outlives the CLI unless stopped
      ansible.builtin.shell: "echo started > {{ stamp }}; sleep 300; true"
"""

_DRIVE = """
import sys
from pathlib import Path
from provisioner.plan.options import RunOptions
from provisioner.run.runner import run_playbook
root = Path(sys.argv[1])
run_playbook(playbook=root / "playbooks" / "slow.yml", inventory=root / "hosts", host_count=1,
             options=RunOptions(extra_vars_args=[f"stamp={root / 'stamp'}"]), run_id="run-1",
             run_dir=root, control_dir=root / "control", events=lambda event: None)
"""


def _marked(marker: str) -> list[str]:
    """Live processes (not zombies) with ``marker`` in their environment: 'pid: command line'."""
    found = []
    needle = f"AUTOGLM_TEST_MARK={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                continue
            found.append(f"{entry.name}: " + (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError):
            continue
    return found


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_kill_9_of_the_cli_leaves_no_process_of_the_run(tmp_path):
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "control").mkdir()
    (tmp_path / "playbooks" / "slow.yml").write_text(_SLOW)
    (tmp_path / "hosts").write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    marker = secrets.token_hex(8)
    proc = subprocess.Popen([sys.executable, "-c", _DRIVE, str(tmp_path)], cwd=ROOT, text=True,
                            env={**os.environ, "AUTOGLM_TEST_MARK": marker},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert _wait_for(lambda: (tmp_path / "stamp").exists() or proc.poll() is not None, 60), "the task never ran"
        assert proc.poll() is None, proc.communicate()[0]
        assert any("ansible-playbook" in p for p in _marked(marker)), _marked(marker)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _wait_for(lambda: _marked(marker) == [], 5), f"alive 5 s after kill -9: {_marked(marker)}"
    finally:
        for line in _marked(marker):  # what the test itself started, by its marker
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        proc.stdout.close()
