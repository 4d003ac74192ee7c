"""A time bound on reading the input, below its size bound (:mod:`provisioner.inventory.bounds`): an
inventory or ``-e @file`` under 8 MiB can still take minutes to parse (8 MiB of YAML, 170,928 hosts:
130 s, three quarters of it in Ansible's inventory plugins). ``with bounded(seconds):`` around the
reading and validating of the input stops it at the deadline with a :class:`ParseTimeoutError` (exit 2)
naming what was being read (:func:`reading`), the elapsed time, the limit and how to raise it.

Why a signal and not a worker process: ansible-core's inventory is read in this process and the rest of
the plan uses it (an ``InventoryManager``, not picklable), so a worker would have to read it twice. The
alarm (``setitimer``, wall-clock) runs its handler in the main thread between Python bytecodes: Ansible's
plugins are Python, so the stop comes within moments of the limit; one C-level YAML parse of a single
file (at most 8 MiB) finishes before the stop is seen. The stop is a BaseException, as Ctrl-C is, so
Ansible's ``except Exception`` around each plugin passes it on, and it repeats every
:data:`REPEAT_S` until the bounded block ends, so no handler that swallows it can let the read run on.
Outside the main thread (no signals there) the input is read unbounded.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import UsageError

DEFAULT_PARSE_TIMEOUT_S = 60  # 10,000 hosts read in 2.5 s on the CI machine; 8 MiB (170,928 hosts) in 130 s
REPEAT_S = 0.25


class _Expired(BaseException):
    """Raised into the reading code at the deadline (not an Exception: nothing there may take it)."""


class ParseTimeoutError(UsageError):
    """The input took longer to read than the parse deadline; nothing was run."""


class _Clock:
    def __init__(self, seconds: float) -> None:
        self.seconds, self.started = seconds, time.monotonic()
        self.what, self.armed, self.expired_after, self.expired_what = "the input", True, 0.0, ""

    def expire(self, signum: int, frame: object) -> None:
        if self.armed:
            if not self.expired_after:  # the first stop: what was being read then is the one to name
                self.expired_after, self.expired_what = time.monotonic() - self.started, self.what
            raise _Expired

    def error(self) -> ParseTimeoutError:
        return ParseTimeoutError(
            f"reading {self.expired_what} took longer than the parse deadline: stopped after "
            f"{self.expired_after:.1f} s (limit {self.seconds:g} s); raise it with --parse-timeout SECONDS, or "
            "split the inventory into smaller ones run one after another (a large -e @file: split it or trim "
            "it); nothing was run")


_active: _Clock | None = None


@contextmanager
def bounded(seconds: float | None) -> Iterator[None]:
    """Read the input within ``seconds`` (None or 0: unbounded); nested blocks keep the outer deadline."""
    global _active  # noqa: PLW0603 - one alarm per process: the deadline is process state
    if _active is not None or not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    clock = _Clock(seconds)
    previous = signal.signal(signal.SIGALRM, clock.expire)
    _active = clock
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_S)
    try:
        yield
    except _Expired:
        pass
    finally:
        clock.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)  # None: set from C
        _active = None
    if clock.expired_after:  # also when something on the way swallowed the stop and returned
        raise clock.error()


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Name what is being read while inside this block (for the message at the deadline)."""
    clock = _active
    if clock is None:
        yield
        return
    before, clock.what = clock.what, what
    try:
        yield
    finally:
        clock.what = before
