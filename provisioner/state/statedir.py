"""The state directory (runs, host state) is private to the user running the CLI, as ssh keeps
``~/.ssh``: a directory another local user could write (group- or world-writable, owned by someone
else) or one that is a symbolic link is refused before anything is read from or written to it, since
whoever can write there can forge "ready" hosts or plant a report. What the CLI creates there is
0700 (directories) and 0600 (files) whatever the umask.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from pathlib import Path

from ..errors import UsageError

DIR_MODE, FILE_MODE = 0o700, 0o600


class UnsafeStateError(UsageError):
    """A state or run directory that others could write, or that is not a plain directory of the user."""


def check_private(path: Path, what: str) -> None:
    """Refuse ``path`` (when it exists) unless it is a real directory of this user (or root) that no
    one else can write; the error names the path, what is wrong and the fix."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # not there (yet): whoever creates it says why it cannot
        return
    except OSError as exc:
        raise UnsafeStateError(f"{what} {path} cannot be examined: {exc.strerror or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeStateError(f"{what} {path} is a symbolic link (to {os.readlink(path)}): refused, as ssh refuses "
                               "one for ~/.ssh; point AUTOGLM_PROVISION_STATE (or --run-dir) at the real directory")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeStateError(f"{what} {path} is not a directory (records cannot be created in it); move it "
                               "away or set AUTOGLM_PROVISION_STATE (or --run-dir) elsewhere")
    if info.st_uid not in (os.geteuid(), 0):
        raise UnsafeStateError(f"{what} {path} is owned by uid {info.st_uid}, not by you (uid {os.geteuid()}): "
                               f"another user could forge its records; fix: chown -R {os.geteuid()} {path}, or "
                               "set AUTOGLM_PROVISION_STATE to a directory of your own")
    if info.st_mode & 0o022:
        who = " and ".join(w for w, bit in (("group", 0o020), ("world", 0o002)) if info.st_mode & bit)
        raise UnsafeStateError(f"{what} {path} is {who}-writable (mode {stat.S_IMODE(info.st_mode):04o}): another "
                               f"local user could forge or plant records there; fix: chmod 700 {path}")


def private_dir(path: Path, what: str) -> Path:
    """``path`` as a private directory: created 0700 with any missing parents (whatever the umask),
    checked with :func:`check_private` when it was there already."""
    path = Path(path)
    missing = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by a run beside this one: checked below
            os.mkdir(directory, DIR_MODE)
            os.chmod(directory, DIR_MODE)
    check_private(path, what)
    return path


def make_private(root: Path) -> None:
    """Every directory under ``root`` 0700 and every file 0600 (what ansible-runner wrote with the
    umask's modes); symbolic links are left as they are."""
    for directory, subdirs, files in os.walk(root):
        for name, mode in [*((d, DIR_MODE) for d in subdirs), *((f, FILE_MODE) for f in files), ("", DIR_MODE)]:
            path = os.path.join(directory, name) if name else directory
            with contextlib.suppress(OSError):
                if not os.path.islink(path):
                    os.chmod(path, mode)


def lock_held(lock_file: Path) -> bool:
    """True while a live process holds ``lock_file`` (an exclusive flock, as a run directory and a
    scratch directory hold theirs until their process ends, kill -9 included). The probe asks for a
    shared lock without waiting, so two probes at once never take each other for the holder."""
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
