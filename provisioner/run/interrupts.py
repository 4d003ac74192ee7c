"""Signals at every phase of a command end the same way: SIGINT, SIGTERM and SIGHUP interrupt
(KeyboardInterrupt, exit 130) outside a playbook run (during it, :class:`runner.Cancellation`
stops ansible-playbook cleanly), and are held back while run records are being written, so a
report is never left half-done by a signal."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install() -> None:
    """SIGTERM and SIGHUP interrupt like Ctrl-C (SIGINT), instead of killing without a word."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP back until the block is done; a held signal then interrupts."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def name(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else "SIGINT"


class _ClosedReaderGuard:
    """``sys.stdout`` that outlives its reader: once the pipe is closed (``| head``), what is left goes
    to /dev/null and the command goes on to its own end and exit code (a run is not cut short by its
    log reader), with no BrokenPipeError, not even from the interpreter's flush at exit."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def _to_devnull(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()


def guard_stdout() -> None:
    """Install :class:`_ClosedReaderGuard` on a real standard output (not a test's capture)."""
    try:
        sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    if not isinstance(sys.stdout, _ClosedReaderGuard):
        sys.stdout = _ClosedReaderGuard(sys.stdout)
