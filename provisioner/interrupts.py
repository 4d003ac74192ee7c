"""Signals at every phase of a command end the same way: SIGINT, SIGTERM and SIGHUP interrupt
(KeyboardInterrupt, exit 130) outside a playbook run (during it, :class:`runner.Cancellation`
stops ansible-playbook cleanly), and are held back while run records are being written, so a
report is never left half-done by a signal."""

from __future__ import annotations

import contextlib
import signal
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
