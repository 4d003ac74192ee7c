"""Per-host state across runs: the datacenter view of "which hosts are ready".

One JSON file per host under ``<state dir>/hosts/`` (a thousand-host fleet rewrites only the
hosts a run touched). Each run merges what it learnt: a ``check`` refreshes preflight, BIOS and
smoke verdicts; a ``site`` run refreshes everything.
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import paths
from ..records import RecordError, atomic_write_json, read_json_object

PASS_WORDS = {"pass", "passed", "ok", "qualified", "success", "successful", "true"}
# Status columns: (column, role fact, keys tried in order for the value shown).
COLUMNS = (
    ("preflight", "preflight", ("verdict", "status")),
    ("bios", "bios_check", ("verdict",)),
    # The nvidia_driver role publishes version_loaded (the running module) and version_installed
    # (the userland package): the loaded one is what the GPUs run.
    ("driver", "nvidia_driver", ("version_loaded", "version_installed")),
    ("cuda", "cuda", ("version",)),
    ("venv", "python_venv", ("profile", "python_version")),
    ("smoke", "gpu_smoke", ("verdict",)),
)
VERDICT_COLUMNS = {"preflight", "bios", "smoke"}


def hosts_dir(base: Path | None = None) -> Path:
    return (base or paths.state_dir()) / "hosts"


def _file(name: str, base: Path | None) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return hosts_dir(base) / f"{safe}.json"


def load_host(name: str, base: Path | None = None) -> dict | None:
    """A host's record, None when it has none; RecordError when its file is unusable."""
    path = _file(name, base)
    if not path.exists():
        return None
    record = read_json_object(path, f"state of host {name}")
    for key, expected in (("facts", dict), ("summary", dict)):
        if not isinstance(record.get(key, expected()), expected):
            raise RecordError(f"state of host {name} {path}: {key!r} must be an object; "
                              f"it is {type(record[key]).__name__}")
    return record


def _preflight_verdict(fact: dict) -> str | None:
    if "qualified" in fact:
        return "PASS" if fact["qualified"] else "FAIL"
    return fact.get("verdict")


def _bios_verdict(fact: dict) -> str | None:
    if "failed_mandatory" in fact:
        return "FAIL" if fact["failed_mandatory"] else "PASS"
    return fact.get("verdict")


def summarize(facts: dict) -> dict:
    """The status columns from a host's accumulated role facts."""
    summary: dict[str, object] = {}
    for column, role, keys in COLUMNS:
        fact = facts.get(role)
        if not isinstance(fact, dict):
            summary[column] = None
            continue
        if column in ("bios", "preflight"):
            summary[column] = (_bios_verdict if column == "bios" else _preflight_verdict)(fact)
            continue
        summary[column] = next((fact[k] for k in keys if fact.get(k) not in (None, "")), None)
    summary["reboot_pending"] = any(isinstance(f, dict) and bool(f.get("reboot_pending")) for f in facts.values())
    return summary


def is_ready(record: dict) -> bool:
    """Ready = the last provisioning run succeeded, every gate passed, no reboot pending."""
    summary = record.get("summary", {})
    verdicts_ok = all(str(summary.get(c) or "").lower() in PASS_WORDS for c in VERDICT_COLUMNS)
    return (bool(record.get("last_site_ok")) and verdicts_ok and not summary.get("reboot_pending")
            and not summary.get("slow_node"))


def record_run(report: dict, base: Path | None = None) -> list[str]:
    """Merge one run's report into each touched host's record. Never raises for a state problem:
    what could not be recorded comes back as warnings (the run itself is in its report)."""
    directory = hosts_dir(base)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
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
    if report["action"] == "site" and not report["options"].get("check"):
        record["last_site_ok"] = host["status"] == "ok" and not report.get("interrupted")
        record["last_site_run_id"] = report["run_id"]
    record["ready"] = is_ready(record)
    atomic_write_json(_file(name, base), record)


def status_rows(hosts: list[str], base: Path | None = None, problems: list[str] | None = None) -> list[dict]:
    """One row per host; an unusable state file is a row saying so (and a problem), not a crash."""
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
