"""The host-side guard of the smoke program (plugins/action/autoglm_smoke_run.py, guarded_command),
run by a real shell as Ansible runs it on the host (/bin/sh is dash on Debian and Ubuntu, bash on
RHEL): the program's exit status and output when it ends on its own; when the shell is signalled
(SIGHUP from an SSH hang-up, SIGINT, SIGTERM from the worker's process group), the program stopped and
the scratch and remote temporary directories gone."""

from __future__ import annotations

import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.action.autoglm_smoke_run import guarded_command

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)


def _leftovers(tmp_path: Path) -> list[str]:
    scratch, remote_tmp = tmp_path / "autoglm-gpu-smoke.x", tmp_path / "ansible-tmp-1 with space"
    for directory in (scratch, remote_tmp):
        directory.mkdir()
    (scratch / "result.json.tmp").write_text("{")
    (remote_tmp / "autoglm_smoke.pyz").write_text("zip")
    return [str(scratch), str(remote_tmp)]


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


SHELLS = [shell for shell in ("/bin/dash", "/bin/bash") if Path(shell).exists()]


def _shell(shell: str, command: str) -> subprocess.Popen:
    return subprocess.Popen([shell, "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("shell", SHELLS)
def test_a_program_that_ends_gives_its_status_and_output_and_the_files_stay(tmp_path, shell):
    leftovers = _leftovers(tmp_path)
    program = "PYTHONUNBUFFERED=1 sh -c 'echo summary; echo oops >&2; exit 1'"
    proc = _shell(shell, guarded_command(program, leftovers, shlex.quote))
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out, err) == (1, "summary\n", "oops\n")
    assert all(Path(path).is_dir() for path in leftovers), "the action reads the JSON and removes them itself"


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
@pytest.mark.parametrize("shell", SHELLS)
def test_a_signalled_shell_stops_the_program_and_removes_the_files(tmp_path, sig, shell):
    leftovers = _leftovers(tmp_path)
    started = tmp_path / "pid"  # the program's pid, once it runs
    writes_pid = f"echo $$ > {started}.new; mv {started}.new {started}; exec sleep 300"
    program = f"timeout --kill-after=30 300s sh -c {shlex.quote(writes_pid)}"
    proc = _shell(shell, guarded_command(program, leftovers, shlex.quote))
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started.exists(), "the program never started"
    proc.send_signal(sig)
    proc.communicate(timeout=10)  # not the program's 300 s
    assert proc.returncode == 128 + sig
    assert [path for path in leftovers if Path(path).exists()] == []
    assert not _running(int(started.read_text())), "the program outlived its shell"
