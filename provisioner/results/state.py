"""Per-host state across runs: the datacenter view of "which hosts are ready".

One JSON file per host under ``<state dir>/hosts/`` (a thousand-host fleet rewrites only the
hosts a run touched). Each run merges what it learnt: a ``check`` refreshes preflight, BIOS and
smoke verdicts; a ``site`` run refreshes everything.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from .. import paths
from ..state import statedir
from ..state.records import RecordError, atomic_write_json, read_json_object
from .facts import host_summary, is_pass

# The status columns, from the host's accumulated role facts (results.facts reads them).
COLUMNS = ("preflight", "bios", "driver", "cuda", "venv", "smoke")
VERDICT_COLUMNS = ("preflight", "bios", "smoke")


def hosts_dir(base: Path | None = None) -> Path:
    return (base or paths.state_dir()) / "hosts"


def check_hosts_dir(base: Path | None = None) -> None:
    """Refuse a state dir (or its hosts/) that another local user could write: UnsafeStateError."""
    statedir.check_private(base or paths.state_dir(), "state directory")
    statedir.check_private(hosts_dir(base), "host state directory")


def _file(name: str, base: Path | None) -> Path:
    """The host's record: its name encoded (plugin_utils/host_files.py), distinct for every host name."""
    # the one encoding of host names as file names, shared with the gpu_smoke role
    host_files = paths.collection_module("plugin_utils.host_files")
    return hosts_dir(base) / f"{host_files.host_file_name(name)}.json"


def _legacy_file(name: str, base: Path | None) -> Path | None:
    """Where releases before the encoding kept the record (``_`` for each other character: names
    could share it), when that differs from :func:`_file`; read only if it names this host."""
    legacy = hosts_dir(base) / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".json")
    return None if legacy == _file(name, base) or len(legacy.name.encode()) > 255 else legacy


def _read(path: Path, name: str) -> dict:
    record = read_json_object(path, f"state of host {name}")
    for key, expected in (("facts", dict), ("summary", dict)):
        if not isinstance(record.get(key, expected()), expected):
            raise RecordError(f"state of host {name} {path}: {key!r} must be an object; "
                              f"it is {type(record[key]).__name__}")
    return record


def load_host(name: str, base: Path | None = None) -> dict | None:
    """A host's record, None when it has none; RecordError when its file is unusable or holds the
    record of another host (copied or planted there)."""
    path = _file(name, base)
    try:
        present = path.exists()
        legacy = None if present else _legacy_file(name, base)
        if not present and (legacy is None or not legacy.exists()):
            return None
    except OSError as exc:  # an unreadable hosts/ (chmod 000)
        raise RecordError(f"state of host {name} {path} cannot be read: {exc.strerror or exc}; fix: "
                          f"chmod 700 {path.parent}") from None
    if not present:
        record = _read(legacy, name)
        return record if record.get("host") == name else None
    record = _read(path, name)
    if record.get("host") != name:
        raise RecordError(f"state of host {name!r} {path} holds the record of host {record.get('host')!r}, "
                          "not this one (copied or planted?); a run of this host rewrites it")
    return record


def summarize(facts: dict) -> dict:
    """The status columns from a host's accumulated role facts."""
    host = host_summary(facts)
    summary = {column: host[column] for column in ("preflight", "bios", "driver", "cuda", "smoke")}
    summary["venv"] = host["venv_profile"] or host["venv_python"]
    summary["reboot_pending"] = host["reboot_pending"]
    return {column: summary[column] for column in (*COLUMNS, "reboot_pending")}


def is_ready(record: dict) -> bool:
    """Ready = the last provisioning run succeeded, every gate passed, no reboot pending."""
    summary = record.get("summary", {})
    verdicts_ok = all(is_pass(summary.get(c)) for c in VERDICT_COLUMNS)
    return (bool(record.get("last_site_ok")) and verdicts_ok and not summary.get("reboot_pending")
            and not summary.get("slow_node"))


def record_run(report: dict, base: Path | None = None) -> list[str]:
    """Merge one run's report into each touched host's record. Never raises for a state problem:
    what could not be recorded comes back as warnings (the run itself is in its report)."""
    directory = hosts_dir(base)
    try:
        statedir.private_dir(base or paths.state_dir(), "state directory")
        statedir.private_dir(directory, "host state directory")
    except statedir.UnsafeStateError as exc:
        return [f"host state not recorded: {exc}"]
    except OSError as exc:
        return [f"host state not recorded: {directory} cannot be created ({exc.strerror or exc})"]
    warnings = []
    for name, host in report["hosts"].items():
        try:
            _record_host(report, name, host, base)
        except RecordError as exc:
            warnings.append(f"host state of {name}: {exc}; it was started afresh from this run")
            _file(name, base).unlink(missing_ok=True)
            try:
                _record_host(report, name, host, base)
            except (OSError, RecordError) as again:
                warnings.append(f"host state of {name} not recorded: {again}")
        except OSError as exc:
            warnings.append(f"host state of {name} not recorded: {exc.strerror or exc}")
    return warnings


def _record_host(report: dict, name: str, host: dict, base: Path | None) -> None:
    record = load_host(name, base) or {"host": name, "facts": {}}
    record.setdefault("facts", {})
    record["facts"].update(host.get("facts") or {})
    record.update({
        "last_run_id": report["run_id"], "last_action": report["action"], "last_status": host["status"],
        "last_run_finished": report["finished"], "inventory": report["inventory"],
        "summary": summarize(record["facts"]),
    })
    if name in (report.get("fleet") or {}):  # a smoke run judged this host against its peers
        record["slow_node"] = bool(report["fleet"][name].get("slow"))
    record["summary"]["slow_node"] = record.get("slow_node", False)
    smoke = host.get("smoke") or {}
    if smoke:  # the smoke test ran: its verdict codes replace the last ones (kept until it runs again)
        record["smoke"] = {"run_id": report["run_id"], "verdict": smoke.get("verdict"), "level": smoke.get("level"),
                           "codes": list(smoke.get("codes") or [])}
    record["summary"]["smoke_codes"] = (record.get("smoke") or {}).get("codes", [])
    if report["action"] == "site" and not report["options"].get("check"):
        record["last_site_ok"] = host["status"] == "ok" and not report.get("interrupted")
        record["last_site_run_id"] = report["run_id"]
    record["ready"] = is_ready(record)
    atomic_write_json(_file(name, base), record)
    legacy = _legacy_file(name, base)
    with contextlib.suppress(OSError, RecordError):
        if legacy is not None and legacy.exists() and read_json_object(legacy, "").get("host") == name:
            legacy.unlink()  # moved to the encoded name


def status_rows(hosts: list[str], base: Path | None = None, problems: list[str] | None = None) -> list[dict]:
    """One row per host; an unusable state file is a row saying so (and a problem), not a crash. A state
    directory another user could write is refused (UnsafeStateError): its records could be forged."""
    check_hosts_dir(base)
    rows = []
    for name in hosts:
        try:
            record = load_host(name, base)
        except RecordError as exc:
            if problems is not None:
                problems.append(str(exc))
            rows.append({"host": name, "ready": False, "last_run_id": None, "last_action": None,
                         "last_status": "state unreadable", "summary": {}})
            continue
        if record is None:
            rows.append({"host": name, "ready": False, "last_run_id": None, "last_action": None,
                         "last_status": "never run", "summary": {}})
        else:
            rows.append({**record, "host": name})
    return rows
