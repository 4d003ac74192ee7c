"""Run and state files that survive crashes: atomic writes, and readers that turn a missing,
truncated, mistyped or oddly shaped file into one clear input error (exit 2) instead of a traceback."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from ..errors import DiskFullError, UsageError
from ..paths import collection_imports

MAX_RECORD_BYTES = 256 * 1024 * 1024  # a report of 100,000 hosts is far below this


class RecordError(UsageError):
    """A run or state file that cannot be used as it is (missing, truncated, malformed)."""


def strip_url_credentials_of(text: str) -> str:
    """``text`` with every URL's credentials replaced by ``***`` (plugin_utils/url_credentials.py)."""
    collection_imports()  # the one definition, shared with the event callback (the event log)
    from ansible_collections.autoglm.provision.plugins.plugin_utils.url_credentials import (  # noqa: PLC0415
        strip_url_credentials,
    )

    return strip_url_credentials(text)


# What the machine may answer to a write the CLI must make, and what to do about it.
DISK_ERRNOS = {errno.ENOSPC: "free space there", errno.EDQUOT: "free space within your quota there",
               errno.EROFS: "remount it read-write"}


def disk_error(exc: OSError, path: Path | str) -> DiskFullError | None:
    """A :class:`DiskFullError` naming ``path``, its file system's free space and what to free, when
    ``exc`` is a full disk, a quota or a read-only file system; else None (the caller's error stands)."""
    if exc.errno not in DISK_ERRNOS:
        return None
    where = Path(path)
    probe = next((p for p in (where, *where.parents) if p.exists()), Path("/"))
    try:
        free = f"{shutil.disk_usage(probe).free // 1024} KiB free"
    except OSError:
        free = "free space unknown"
    return DiskFullError(f"cannot write {path}: {exc.strerror or os.strerror(exc.errno)} ({free} on the file system "
                         f"of {probe}); {DISK_ERRNOS[exc.errno]} (old run directories can go: remove some or lower "
                         "--keep-runs) or point AUTOGLM_PROVISION_STATE / --run-dir elsewhere, then run again; "
                         "the runs already recorded are intact")


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``path`` so that a reader (or a crash) sees the old file or the new one, never half.
    Every record goes through here: a URL's credentials (``https://user:password@bmc``) never reach one."""
    path = Path(path)
    text = strip_url_credentials_of(text)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise disk_error(exc, path) or exc from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and (full := disk_error(exc, path)):
            raise full from None
        raise


def atomic_write_json(path: Path, data: object, mode: int = 0o600) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n", mode)


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket"}


def read_regular_file(path: Path, what: str, limit: int = MAX_RECORD_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a link, FIFO, device or socket) of at most
    ``limit`` bytes: opened non-blocking, read bounded, so nothing planted there can hang or flood a
    reader. Every other case is a RecordError naming the file and what to do."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RecordError(f"{what} {path} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RecordError(f"{what} {path} is a symbolic link (to {os.readlink(path)}): records are plain files; "
                              "remove it") from None
        raise RecordError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise RecordError(f"{what} {path} is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise RecordError(f"{what} {path} is {kind}, not a regular file: remove it (nothing reads from it)")
        if info.st_size > limit:
            raise RecordError(f"{what} {path} is {info.st_size} bytes, more than the {limit} allowed")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise RecordError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise RecordError(f"{what} {path} grew past the {limit} bytes allowed while it was read")
    return b"".join(chunks)


def read_json_object(path: Path, what: str) -> dict:
    """A JSON object from ``path``; every way it can be unusable is a RecordError naming the file."""
    path = Path(path)
    raw = read_regular_file(path, what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"{what} {path} is not UTF-8 text (byte {exc.start}): the file is damaged") from None
    if not text.strip():
        raise RecordError(f"{what} {path} is empty (the run was killed while writing it?)")
    try:
        data = json.loads(text)
    except RecursionError:
        raise RecordError(f"{what} {path} is nested too deeply to be a record") from None
    except ValueError as exc:
        raise RecordError(f"{what} {path} is not valid JSON (truncated or edited?): {exc}") from None
    if not isinstance(data, dict):
        raise RecordError(f"{what} {path} must hold a JSON object; it holds {type(data).__name__}")
    return data


# The keys every reader of report.json relies on, with their types.
_REPORT_KEYS: dict[str, type | tuple[type, ...]] = {
    "run_id": str, "action": str, "status": str, "hosts": dict, "exit_code": int,
    "duration_s": (int, float), "started": str, "finished": str, "inventory": str,
}
_HOST_KEYS: dict[str, type | tuple[type, ...]] = {
    "status": str, "failures": list, "ok": int, "changed": int, "failed": int, "unreachable": int, "skipped": int,
}


def _type_names(expected: type | tuple[type, ...]) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join({"str": "a string", "dict": "an object", "int": "an integer", "float": "a number",
                        "list": "a list"}.get(t.__name__, t.__name__) for t in types)


def _check_keys(data: dict, keys: dict, where: str, path: Path) -> None:
    for key, expected in keys.items():
        value = data.get(key)
        if key not in data:
            raise RecordError(f"report {path}: {where}key {key!r} is missing (the file is damaged or not a report)")
        if isinstance(value, bool) or not isinstance(value, expected):
            raise RecordError(f"report {path}: {where}{key!r} is {type(value).__name__} {str(value)[:60]!r}; "
                              f"expected {_type_names(expected)}")


def check_report(data: dict, path: Path) -> dict:
    """The shape ``report``, ``--json``, ``--html``, ``--retry-failed`` and ``status`` rely on."""
    _check_keys(data, _REPORT_KEYS, "", path)
    for name, host in data["hosts"].items():
        if not isinstance(host, dict):
            raise RecordError(f"report {path}: host {name!r} must be an object; it is {type(host).__name__}")
        _check_keys(host, _HOST_KEYS, f"host {name!r}: ", path)
        for failure in host["failures"]:
            if not isinstance(failure, dict) or not all(isinstance(failure.get(k), str)
                                                         for k in ("task", "kind", "message")):
                raise RecordError(f"report {path}: host {name!r}: a failure entry is not an object with "
                                  f"task, kind and message strings: {str(failure)[:80]!r}")
        for key, expected in (("facts", dict), ("retries", list), ("smoke", dict)):
            if not isinstance(host.get(key, expected()), expected):
                raise RecordError(f"report {path}: host {name!r}: {key!r} must be {_type_names(expected)}")
    for key in ("warnings",):
        if not isinstance(data.get(key, []), list):
            raise RecordError(f"report {path}: {key!r} must be a list")
    for key in ("options", "fleet", "totals"):
        if not isinstance(data.get(key, {}), dict):
            raise RecordError(f"report {path}: {key!r} must be an object")
    return data
