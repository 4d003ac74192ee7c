"""The event stream of one ansible-playbook run: each playbook event, in ansible-runner's event
shape, handed to the caller's sink as it happens, and kept as the run's ``events.jsonl``.

ansible-runner still starts, watches and stops ansible-playbook (password prompts, cancellation,
the ``stdout`` artifact); only its event transport is replaced, for the CLI's runs alone.
``event_callback/awx_display.py`` stands in for runner's callback of that name (runner loads it
from ``AWX_LIB_DIRECTORY``): it prints what the user's stdout callback prints and appends every
event to ``events.jsonl`` as one JSON line, which :class:`EventFollower` reads back in a thread.
``bench/event_transport.py`` measures the controller's CPU per event with runner's transport and
with this one (figures in bench/README.md).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

from ..state.statedir import private_dir

CALLBACK_DIR = Path(__file__).parent.parent / "event_callback"
EVENTS_FILE = "events.jsonl"
EVENTS_FILE_ENV = "AUTOGLM_EVENTS_FILE"  # read by event_callback/awx_display.py
POLL_S = 0.05  # how stale the live view may be when ansible-playbook is quiet


def stream_env(events_file: Path) -> dict[str, str]:
    """The environment that makes ansible-runner's ansible-playbook write to ``events_file``."""
    return {"AWX_LIB_DIRECTORY": str(CALLBACK_DIR), EVENTS_FILE_ENV: str(events_file)}


class EventFollower:
    """Follows ``events_file`` while ansible-playbook writes it, handing each event to ``sink`` in
    the order written, from one thread of its own. Leaving the ``with`` block (after the run has
    ended) reads what is left, waits for the thread and raises what the sink raised, if anything."""

    def __init__(self, events_file: Path, sink: Callable[[dict], object], poll_s: float = POLL_S) -> None:
        self.path, self.sink, self.poll_s = events_file, sink, poll_s
        self.count = 0
        self.unreadable = 0  # lines that were not one JSON object (a writer killed mid-line)
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._follow, name="autoglm-events", daemon=True)

    def __enter__(self) -> EventFollower:
        private_dir(self.path.parent, "run artifacts directory")  # 0700 with its parents, whatever the umask
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error

    def _follow(self) -> None:
        pending = b""
        with open(self.path, "rb") as stream:
            while True:
                ended = self._done.is_set()  # before the read: a run that has ended writes no more
                chunk = stream.read(1 << 20)
                if chunk:
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        self._hand_on(line)
                elif ended:
                    break
                else:
                    self._done.wait(self.poll_s)
        if pending.strip():
            self._hand_on(pending)

    def _hand_on(self, line: bytes) -> None:
        if self._error is not None or not line.strip():
            return
        try:
            event = json.loads(line)
        except ValueError:
            self.unreadable += 1
            return
        if not isinstance(event, dict):
            self.unreadable += 1
            return
        self.count += 1
        try:
            self.sink(event)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread, at __exit__
            self._error = exc
