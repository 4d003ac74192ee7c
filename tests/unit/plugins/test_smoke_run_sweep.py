"""The host-side sweep of killed smoke runs' scratch directories (plugins/action/autoglm_smoke_run.py,
sweep_command and the owner.pid that guarded_command writes), run by a real shell as Ansible runs it on
the host (dash on Debian and Ubuntu, bash on RHEL).

Reproduced on main (9579a6c): nothing swept them (no sweep existed), and a host shell killed with
SIGKILL left its scratch directory with nothing to tell a later run whether its owner still lived."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.action.autoglm_smoke_run import (
    OWNER,
    REMOTE_TMP,
    SCRATCH_PREFIX,
    STALE_MINUTES,
    SWEPT,
    guarded_command,
    sweep_command,
)

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

SHELLS = [shell for shell in ("/bin/dash", "/bin/bash") if Path(shell).exists()]
STALE = time.time() - (STALE_MINUTES + 5) * 60


def _made(tmp_path: Path, name: str, owner: int | None = None, aged: bool = True) -> Path:
    directory = tmp_path / f"{SCRATCH_PREFIX}{name}"
    directory.mkdir()
    if owner is not None:
        (directory / OWNER).write_text(f"{owner}\n")
    if aged:
        os.utime(directory, (STALE, STALE))
    return directory


def _sweep(shell: str, tmp_path: Path) -> tuple[list[str], Path]:
    done = subprocess.run([shell, "-c", sweep_command()], env={**os.environ, "TMPDIR": str(tmp_path)},
                          capture_output=True, text=True, timeout=30, check=True)
    lines = done.stdout.strip().splitlines()
    return [line.removeprefix(SWEPT) for line in lines[:-1]], Path(lines[-1])


def _gone_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


@pytest.mark.parametrize("shell", SHELLS)
def test_only_our_stale_dirs_whose_owner_is_gone_are_swept(tmp_path, shell):
    live_shell = subprocess.Popen(["sleep", "300"])
    try:
        dead = _made(tmp_path, "dead", _gone_pid())
        unstarted = _made(tmp_path, "unstarted")  # killed between mktemp and the program: no owner.pid
        garbage = _made(tmp_path, "garbage")
        (garbage / OWNER).write_text("not a pid")
        os.utime(garbage, (STALE, STALE))
        spaced = _made(tmp_path, "with space", _gone_pid())
        kept = [_made(tmp_path, "live", live_shell.pid),  # a long run (burn): kept however old
                _made(tmp_path, "fresh", aged=False),  # a concurrent run between its steps
                tmp_path / "other-name.x"]
        kept[-1].mkdir()
        os.utime(kept[-1], (STALE, STALE))
        target = tmp_path / "target"
        target.mkdir()
        (tmp_path / f"{SCRATCH_PREFIX}link").symlink_to(target)  # not a directory of ours: a link
        if os.getuid() == 0:  # another user's, however stale
            foreign = _made(tmp_path, "foreign", _gone_pid())
            os.chown(foreign, 65534, 65534)
            os.utime(foreign, (STALE, STALE))
            kept.append(foreign)
        swept, made = _sweep(shell, tmp_path)
        assert sorted(swept) == sorted(str(d) for d in (dead, unstarted, garbage, spaced))
        assert not any(d.exists() for d in (dead, unstarted, garbage, spaced))
        assert all(d.is_dir() for d in kept) and target.is_dir() and (tmp_path / f"{SCRATCH_PREFIX}link").is_symlink()
        assert made.is_dir() and made.parent == tmp_path and made.name.startswith(SCRATCH_PREFIX)
        assert _sweep(shell, tmp_path)[0] == [], "a second run found more to sweep"
    finally:
        live_shell.kill()
        live_shell.wait()


@pytest.mark.parametrize("shell", SHELLS)
def test_a_host_shell_killed_with_sigkill_leaves_a_dir_the_next_run_sweeps(tmp_path, shell):
    _, scratch = _sweep(shell, tmp_path)
    started = tmp_path / "pid"
    program = f"sh -c {shlex.quote(f'echo $$ > {started}; exec sleep 300')}"
    proc = subprocess.Popen([shell, "-c", guarded_command(program, [str(scratch)], shlex.quote, str(scratch))])
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started.exists(), "the program never started"
    assert (scratch / OWNER).read_text().strip() == str(proc.pid), "owner.pid does not name the host shell"
    os.utime(scratch, (STALE, STALE))
    assert _sweep(shell, tmp_path)[0] == [], "a running shell's scratch dir was swept"
    proc.send_signal(signal.SIGKILL)  # no trap runs: the scratch dir stays
    proc.wait()
    os.kill(int(started.read_text()), signal.SIGKILL)
    assert scratch.is_dir()
    os.utime(scratch, (STALE, STALE))
    assert _sweep(shell, tmp_path)[0] == [str(scratch)] and not scratch.exists()


@pytest.mark.parametrize("shell", SHELLS)
def test_a_program_that_ends_freshens_its_dir_so_the_read_back_is_never_swept(tmp_path, shell):
    _, scratch = _sweep(shell, tmp_path)
    os.utime(scratch, (STALE, STALE))  # a long run: its dir unchanged since the start
    done = subprocess.run([shell, "-c", guarded_command("exit 1", [str(scratch)], shlex.quote, str(scratch))],
                          timeout=30, check=False)
    assert done.returncode == 1, "the program's exit status is the shell's"
    assert _sweep(shell, tmp_path)[0] == [] and scratch.is_dir(), "swept between the program's end and read-back"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_killed_runs_zipapp_directory_goes_with_its_scratch_dir_and_nothing_else_does(tmp_path, shell):
    """The zipapp sits in Ansible's remote temporary directory, which only the run itself removed: a run
    killed around the program (or its host shell killed with SIGKILL) left it for good. The scratch
    directory, made first, now names it (REMOTE_TMP), and the sweep removes it with the scratch dir, but
    only a directory named ansible-tmp-*, as Ansible names them."""
    remote_tmp = tmp_path / "home" / ".ansible" / "tmp" / "ansible-tmp-1765000000.1-42-1"
    remote_tmp.mkdir(parents=True)
    (remote_tmp / "autoglm_smoke.pyz").write_text("zipapp")
    done = subprocess.run([shell, "-c", sweep_command(shlex.quote(str(remote_tmp)))], capture_output=True,
                          text=True, env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=30, check=True)
    scratch = Path(done.stdout.strip().splitlines()[-1])
    assert (scratch / REMOTE_TMP).read_text() == f"{remote_tmp}\n"
    precious = tmp_path / "precious"  # a record that names something that is not Ansible's: left alone
    precious.mkdir()
    other = _made(tmp_path, "other", _gone_pid())
    (other / REMOTE_TMP).write_text(f"{precious}\n")
    os.utime(other, (STALE, STALE))
    (scratch / OWNER).write_text(f"{_gone_pid()}\n")  # the run was killed: its shell is gone
    os.utime(scratch, (STALE, STALE))
    swept, _ = _sweep(shell, tmp_path)
    assert sorted(swept) == sorted([str(remote_tmp), str(scratch), str(other)])
    assert not remote_tmp.exists() and not scratch.exists() and precious.is_dir()
