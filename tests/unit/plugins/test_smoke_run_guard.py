"""The host-side guard of the smoke program (plugins/action/autoglm_smoke_run.py, guarded_command),
run by a real shell as Ansible runs it on the host (/bin/sh is dash on Debian and Ubuntu, bash on
RHEL): the program's exit status and output when it ends on its own; when the shell is signalled
(SIGHUP from an SSH hang-up, SIGINT, SIGTERM from the worker's process group), the program stopped and
the scratch and remote temporary directories gone."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.action.autoglm_smoke_run import guarded_command

from provisioner.state.orphans import kill_leftovers

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


# A stand-in for the Ansible worker that runs the host shell under `connection: local` (faked: a real
# worker needs a whole playbook run, which tests/integration/test_cli_interruptions.py makes, where this
# race showed about 1 run in 20): a session of its own, the shell's stdout and stderr piped to it, and
# on SIGTERM what ansible-core's WorkerProcess._term does, the signal to its own process group, then exit.
WORKER = """
import os, signal, subprocess, sys
os.setsid()
def term(signum, frame):
    signal.signal(signum, signal.SIG_DFL)
    os.killpg(os.getpid(), signum)
    os._exit(1)
signal.signal(signal.SIGTERM, term)
subprocess.Popen(sys.argv[1], shell=True, executable="/bin/sh", stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE).communicate()
"""


def test_an_interrupted_run_whose_worker_dies_too_still_removes_the_files(tmp_path):
    # The CLI's kill_leftovers sends SIGTERM to every process of the run at once: the worker (which
    # passes it to its group, the host shell's commands too), the host shell, `timeout`, the program.
    # The worker's end of the shell's stderr is closed then, and the shell used to write "Terminated"
    # there for its killed child and die of SIGPIPE before its trap removed anything (in about 1 of 5
    # tries here); repeated, since it is a race.
    for attempt in range(25):
        run = tmp_path / f"run{attempt}"
        run.mkdir()
        leftovers = _leftovers(run)
        started = run / "started"
        program = f"timeout --kill-after=30 300s sh -c {shlex.quote(f'touch {started}; exec sleep 300')}"
        worker = subprocess.Popen([sys.executable, "-c", WORKER, guarded_command(program, leftovers, shlex.quote)])
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started.exists(), "the program never started"
        time.sleep(0.05)
        stopped = kill_leftovers(str(run))  # its path is in the command lines of the shell and the program
        worker.wait(timeout=10)
        assert len(stopped) >= 4, stopped
        assert [path for path in leftovers if Path(path).exists()] == [], f"attempt {attempt}"
