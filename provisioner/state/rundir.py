"""Run directories: one per run, named ``<UTC timestamp>-<id>``, rotated, found again by id.

A running run holds an exclusive lock on its ``.lock`` file for as long as its process lives
(the kernel drops it when the process dies, even by ``kill -9``): rotation never deletes a run
whose lock is held, and ``latest`` only moves to a run once it has written its report.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path

from .. import paths
from ..errors import UsageError
from . import statedir
from .records import RecordError, disk_error

DEFAULT_KEEP = 50
LATEST = "latest"
LOCK = ".lock"
REPORT = "report.json"
_held: dict[Path, int] = {}  # run dir -> fd of the lock this process holds


def check_keep(keep: int) -> int:
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise UsageError(f"--keep-runs {keep!r}: allowed a whole number of runs to keep, 1 or more "
                         "(0 keeps every run)")
    return keep


def _base(base: Path | None) -> Path:
    """The runs directory, made private (0700, with its missing parents) or refused when another
    user could write it (:mod:`provisioner.state.statedir`); with no --run-dir, the state dir is checked too."""
    default = base is None
    base = Path(base) if base is not None else paths.runs_dir()
    try:
        if default:
            statedir.private_dir(paths.state_dir(), "state directory")
        statedir.private_dir(base, "run directory")
    except statedir.UnsafeStateError:
        raise
    except OSError as exc:
        raise disk_error(exc, base) or UsageError(
            f"run directory {base} cannot be created: {exc.strerror or exc} (set --run-dir or "
            "AUTOGLM_PROVISION_STATE to a writable place)") from None
    if not os.access(base, os.W_OK | os.X_OK):
        raise UsageError(f"run directory {base} is not writable (set --run-dir or AUTOGLM_PROVISION_STATE)")
    return base


def create(base: Path | None = None, keep: int = DEFAULT_KEEP, rotate_now: bool = True) -> Path:
    """A new run directory, locked by this process until :func:`release` (or the process ends).
    ``rotate_now=False``: a run that may still be refused; call :func:`rotate` once it starts."""
    check_keep(keep)
    base = _base(base)
    now = datetime.now(UTC)  # microseconds keep names in creation order for rotation
    run_id = f"{now:%Y%m%dT%H%M%S.%f}Z-{secrets.token_hex(3)}"
    run = base / run_id
    try:
        run.mkdir(mode=0o700)
    except OSError as exc:
        raise disk_error(exc, run) or UsageError(f"run directory {run} cannot be created: "
                                                 f"{exc.strerror or exc}") from None
    fd = None
    try:
        fd = os.open(run / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as exc:  # a full disk: the half-made run goes again, nothing else is touched
        if fd is not None:
            os.close(fd)
        shutil.rmtree(run, ignore_errors=True)
        raise disk_error(exc, run / LOCK) or UsageError(f"run directory {run} cannot be created: "
                                                        f"{exc.strerror or exc}") from None
    _held[run] = fd
    if rotate_now:
        rotate(base, keep)
    return run


def is_running(run: Path) -> bool:
    """True while a live process holds the run's lock."""
    return run in _held or statedir.lock_held(run / LOCK)


def mark_latest(run: Path) -> None:
    """Point ``latest`` at ``run``; only for a run that wrote its report."""
    if not (run / REPORT).is_file():
        return
    base = run.parent
    tmp = base / f".{LATEST}.{run.name}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run.name)
    os.replace(tmp, base / LATEST)


def release(run: Path) -> None:
    fd = _held.pop(run, None)
    if fd is not None:
        os.close(fd)  # closing drops the lock


def discard(run: Path | None) -> None:
    """A run directory made for a run that never started (its input was refused) goes again."""
    if run is not None:
        release(run)
        shutil.rmtree(run, ignore_errors=True)


def list_runs(base: Path) -> list[Path]:
    try:
        entries = list(base.iterdir()) if base.is_dir() else []
    except OSError as exc:
        raise UsageError(f"run directory {base} cannot be listed: {exc.strerror or exc}") from None
    return sorted(p for p in entries if p.is_dir() and not p.is_symlink() and p.name[:1].isdigit())


def rotate(base: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` runs (0 keeps everything); a running run is never deleted."""
    check_keep(keep)
    runs = list_runs(base)
    doomed = [r for r in (runs[:-keep] if keep and len(runs) > keep else []) if not is_running(r)]
    for run in doomed:
        shutil.rmtree(run, ignore_errors=True)
    return doomed


def resolve(ref: str | None, base: Path | None = None) -> Path:
    """A run by directory path, full id, unique id prefix/suffix, or ``latest`` (the default)."""
    if base is None:
        statedir.check_private(paths.state_dir(), "state directory")
    base = Path(base) if base is not None else paths.runs_dir()
    statedir.check_private(base, "run directory")
    ref = ref or LATEST
    candidate = Path(ref).expanduser()
    if candidate.is_dir() and (candidate / REPORT).exists():
        return candidate.resolve()
    if ref == LATEST:
        link = base / LATEST
        if link.exists():
            return link.resolve()
        if link.is_symlink():
            raise RecordError(f"{link} points at {os.readlink(link)}, which no longer exists; run "
                              "`report RUN_ID` with one of the recorded runs")
        raise UsageError(f"no runs recorded yet under {base}")
    if base.exists() and not base.is_dir():
        raise UsageError(f"run directory {base} is not a directory")
    matches = [r for r in list_runs(base) if r.name == ref or r.name.startswith(ref) or r.name.endswith(ref)]
    if len(matches) == 1:
        if not (matches[0] / REPORT).exists():
            why = "it is still running" if is_running(matches[0]) else \
                "it was killed before writing one (kill -9, power loss)"
            raise RecordError(f"run {matches[0].name} has no {REPORT}: {why}; its runner/ artifacts are "
                              "all there is")
        return matches[0]
    if not matches:
        recent = ", ".join(r.name for r in list_runs(base)[-3:]) or "none"
        raise UsageError(f"no run {ref!r} under {base} (most recent: {recent})")
    raise UsageError(f"run {ref!r} is ambiguous under {base}: {', '.join(m.name for m in matches)}")
