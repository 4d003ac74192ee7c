"""A private scratch directory per run, outside the run directory: the extra-vars files handed to
ansible-playbook, the SSH control sockets and the --probe-strict pre-flight's files. It lives in
memory (/dev/shm) where the machine has it, is 0700, and is removed when the run ends, interrupted
or not.

Each one is locked by its process (the kernel drops the lock when the process dies, even by
``kill -9``); every start sweeps the directories of dead processes (this user's, never one whose
lock a live process holds): their SSH control masters are closed and their files removed, so nothing
of a killed run lingers, and the run says what it removed (:meth:`Scratch.swept_warning`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ..state import statedir

PREFIX = "autoglm-run-"
LOCK = ".lock"
# A directory is made under this name, locked, and only then renamed to PREFIX...: a sweep never sees
# an unlocked run directory of a starting run. One left under it (a run killed in those
# microseconds) is swept once it is older than STARTING_GRACE_S.
STARTING = ".autoglm-starting-"
STARTING_GRACE_S = 60.0


def root() -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return Path(tempfile.gettempdir())


def close_ssh_masters(control_dir: Path) -> int:
    """Ask every ControlPersist master with a socket in ``control_dir`` to exit."""
    closed = 0
    for socket in control_dir.iterdir() if control_dir.is_dir() else []:
        if socket.is_socket():
            done = subprocess.run(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "autoglm-cleanup"],
                                  capture_output=True, timeout=10, check=False)
            closed += done.returncode == 0
    return closed


def sweep(base: Path | None = None) -> list[Path]:
    """Remove the scratch directories of processes that died without cleaning up (``kill -9``),
    closing their SSH control masters first. Returns what was removed."""
    base = base or root()
    removed = []
    try:
        candidates = [p for p in base.glob(f"{PREFIX}*") if p.is_dir() and p.owner() == _me()]
        candidates += [p for p in base.glob(f"{STARTING}*") if p.is_dir() and p.owner() == _me() and _stale(p)]
    except OSError:
        return removed
    for directory in candidates:
        if statedir.lock_held(directory / LOCK):  # its process is alive
            continue
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            close_ssh_masters(directory / "cp")
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
    return removed


def _stale(directory: Path) -> bool:
    return time.time() - directory.stat().st_mtime > STARTING_GRACE_S


def _me() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


class Scratch:
    """``with Scratch() as s:`` ``s.path`` (0700), ``s.control_dir`` for SSH sockets."""

    def __init__(self, base: Path | None = None):
        self.base = base or root()
        self.path = Path()
        self.swept: list[Path] = []  # killed runs' scratch directories its start removed
        self._fd: int | None = None

    @property
    def control_dir(self) -> Path:
        return self.path / "cp"

    def swept_warning(self) -> str:
        """What the start swept, named as a killed run's leftover processes are (state/orphans.py)."""
        named = ", ".join(str(path) for path in self.swept[:5])
        more = f" and {len(self.swept) - 5} more" if len(self.swept) > 5 else ""
        return (f"removed {len(self.swept)} private scratch director{'y' if len(self.swept) == 1 else 'ies'} "
                f"left by killed run(s) (kill -9: their SSH masters closed, extra-vars files and pre-flight "
                f"files deleted): {named}{more}")

    def __enter__(self) -> Scratch:
        self.swept = sweep(self.base)
        starting = Path(tempfile.mkdtemp(prefix=STARTING, dir=self.base))  # 0700
        self._fd = os.open(starting / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.path = starting.with_name(PREFIX + starting.name[len(STARTING):])
        os.rename(starting, self.path)  # the lock (on the file's inode) goes with it
        self.control_dir.mkdir(mode=0o700)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            close_ssh_masters(self.control_dir)
        shutil.rmtree(self.path, ignore_errors=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
