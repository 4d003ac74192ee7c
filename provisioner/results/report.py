"""Per-host results from ansible-runner events: report.json, JUnit XML and the exit code."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..errors import EXIT_HOST_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TOOL_ERROR, EXIT_UNREACHABLE
from ..reachability import REACHABILITY_TASK, left_out_failure
from ..state.records import RecordError, atomic_write_json, atomic_write_text, check_report, read_json_object
from .facts import p2p_platform, role_facts
from .smoke import Judgement, explain_p2p, failure_message, finding_lines

REPORT_JSON = "report.json"
REPORT_JUNIT = "report.junit.xml"
COUNTERS = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")
_STATS_KEYS = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
               "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}
MESSAGE_LIMIT = 2000


@dataclass
class HostResult:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0
    not_run: bool = False  # targeted, but no task ever ran (rollout stopped, or interrupted)
    cut_short: bool = False  # the run was interrupted before this host finished the play
    retries: list[dict] = field(default_factory=list)  # transient failures retried (apt locks, mirrors)
    failures: list[dict] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    smoke: dict = field(default_factory=dict)  # its smoke verdict and codes (results.smoke.host_verdict)

    @property
    def status(self) -> str:
        if self.not_run:
            return "not_run"
        if self.cut_short and not self.failed and not self.unreachable:
            return "interrupted"
        if self.unreachable and not self.failed:
            return "unreachable"
        if self.failed:
            return "failed"
        return "ok"


def task_name(data: dict) -> str:
    task = data.get("task") or ""
    role = data.get("role")
    return f"{role} : {task}" if role and not task.startswith(f"{role} :") else task


def _message(res: dict) -> str:
    """The module's own explanation, as ansible-playbook would show it."""
    parts = []
    for key in ("msg", "reason", "stderr", "module_stderr", "stdout"):
        value = res.get(key)
        if value and str(value).strip() and str(value) not in parts:
            parts.append(str(value).strip())
            if key in ("msg", "reason"):
                break
    for module, sub in (res.get("failed_modules") or {}).items():  # fact gathering: say which and why
        detail = " ".join(str(sub.get(k)).strip() for k in ("msg", "module_stderr") if sub.get(k))
        parts.append(f"{module}: {detail or _message(sub)}")
    if res.get("results") and not parts:  # a loop: the failed items' messages
        parts = [_message(item) for item in res["results"] if isinstance(item, dict) and item.get("failed")]
    text = "\n".join(p for p in parts if p) or "(the module gave no message)"
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + " …(truncated)"


@dataclass
class RunReport:
    run_id: str
    action: str
    inventory: str
    options: dict = field(default_factory=dict)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished: str = ""
    duration_s: float = 0.0
    status: str = "running"
    runner_rc: int | None = None
    interrupted: bool = False
    hosts: dict[str, HostResult] = field(default_factory=dict)
    targeted: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fleet: dict[str, dict] = field(default_factory=dict)  # per-host slow-node flags (results.smoke)
    _stats_seen: bool = False
    # The reachability play at the start of site/smoke runs on every host before the rollout's
    # batches: a host that passed it but ran nothing after it was not run (the rollout stopped).
    _preflight_seen: bool = False
    _past_preflight: set[str] = field(default_factory=set)

    def host(self, name: str) -> HostResult:
        return self.hosts.setdefault(name, HostResult())

    def handle_event(self, event: dict) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        host = data.get("host")
        if host and kind.startswith("runner_on_"):
            if data.get("task") == REACHABILITY_TASK:
                self._preflight_seen = True
            else:
                self._past_preflight.add(host)
        if kind == "runner_on_start" and host:  # a task started on it: the host was reached by the run
            self.host(host)
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped") and host:
            self._on_result(kind, host, data)
        elif kind == "runner_retry" and host:  # a task's `retries`/`until` tried again after a failure
            res = data.get("res") or {}
            self.host(host).retries.append({"task": task_name(data), "attempt": res.get("attempts"),
                                            "message": _message(res)[:300]})
        elif kind == "playbook_on_stats":
            self._on_stats(data)
        elif kind == "warning":
            self.warnings.append(str(data.get("warning") or event.get("stdout", "")).strip())

    def _on_result(self, kind: str, host: str, data: dict) -> None:
        result = self.host(host)
        res = data.get("res") or {}
        if kind == "runner_on_ok":
            result.ok += 1
            result.changed += bool(res.get("changed"))
            result.facts.update(role_facts(res.get("ansible_facts") or {}))
        elif kind == "runner_on_skipped":
            result.skipped += 1
        elif kind in ("runner_on_unreachable", "runner_on_failed") and data.get("task") == REACHABILITY_TASK:
            # The reachability play at the start of site and smoke: the host is left out of the run.
            unreachable = kind == "runner_on_unreachable"
            result.unreachable += unreachable
            result.failed += not unreachable
            result.failures.append(left_out_failure(unreachable, _message(res)))
        elif kind == "runner_on_unreachable":
            result.unreachable += 1
            result.failures.append({"task": task_name(data), "kind": "unreachable", "message": _message(res)})
        elif data.get("ignore_errors"):
            result.ignored += 1
        else:
            result.failed += 1
            result.failures.append({"task": task_name(data), "kind": "failed", "message": _message(res)})

    def _on_stats(self, data: dict) -> None:
        """The play recap is authoritative (it knows about rescues); later plays' stats accumulate."""
        if not self._stats_seen:  # hosts Ansible never saw (left out by the pre-flight) keep theirs
            in_stats = {host for key in _STATS_KEYS for host in (data.get(key) or {})}
            for name in in_stats & set(self.hosts):
                for counter in COUNTERS:
                    setattr(self.hosts[name], counter, 0)
        self._stats_seen = True
        for stats_key, counter in _STATS_KEYS.items():
            for host, count in (data.get(stats_key) or {}).items():
                result = self.host(host)
                setattr(result, counter, getattr(result, counter) + count)
        for result in self.hosts.values():
            if not result.failed and not result.unreachable:
                for failure in result.failures:
                    failure["kind"] = "rescued"

    def record_fleet(self, judgement: Judgement) -> None:
        """The run's fleet judgement and each host's smoke verdict codes (results.smoke), made once:
        the summary, JUnit, the host state and the HTML report all show this one."""
        self.fleet = judgement.fleet
        for name, view in judgement.verdicts.items():
            if name in self.hosts:  # a slow P2P / NCCL figure names ACS or the IOMMU mode when seen
                self.hosts[name].smoke = explain_p2p(view, p2p_platform(self.hosts[name].facts))
        self.options["slow_threshold"] = judgement.threshold
        self.warnings += judgement.warnings

    def finish(self, runner_rc: int | None, status: str, duration_s: float) -> None:
        self.runner_rc = runner_rc
        self.status = "interrupted" if self.interrupted else status
        self.duration_s = round(duration_s, 2)
        self.finished = datetime.now(UTC).isoformat(timespec="seconds")
        for result in self.hosts.values():
            result.cut_short = self.interrupted
        missing = [h for h in self.targeted if h not in self.hosts or (
            self._preflight_seen and h not in self._past_preflight and not self.hosts[h].failures)]
        for name in missing:
            self.hosts[name] = HostResult(not_run=True)
        if missing and not self.interrupted:
            failed = sum(r.status in ("failed", "unreachable") for r in self.hosts.values())
            cause = (f"the rollout stopped after {failed} host(s) failed or were unreachable "
                     "(a whole batch failed, or --max-fail-percentage was exceeded)" if failed
                     else "ansible-playbook stopped before the first task (its error is above)"
                     if runner_rc not in (0, None) and len(missing) == len(self.targeted)
                     else "no task ran on them")
            self.warnings.append(f"{len(missing)} targeted host(s) were not run: {cause}. "
                                 "`--retry-failed` runs them together with the failed ones.")

    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        statuses = {r.status for r in self.hosts.values()}
        if "failed" in statuses:
            return EXIT_HOST_FAILED
        if "unreachable" in statuses:
            return EXIT_UNREACHABLE
        if self.runner_rc not in (0, None) or self.status not in ("successful", "running"):
            return EXIT_TOOL_ERROR  # ansible-playbook failed without a host result (syntax, no hosts)
        return EXIT_OK

    def to_dict(self) -> dict:
        totals = {c: sum(getattr(r, c) for r in self.hosts.values()) for c in COUNTERS}
        totals["retries"] = sum(len(r.retries) for r in self.hosts.values())
        by_status: dict[str, int] = {}
        for r in self.hosts.values():
            by_status[r.status] = by_status.get(r.status, 0) + 1
        return {
            "run_id": self.run_id, "action": self.action, "inventory": self.inventory,
            "options": self.options, "started": self.started, "finished": self.finished,
            "duration_s": self.duration_s, "status": self.status, "interrupted": self.interrupted,
            "runner_rc": self.runner_rc, "exit_code": self.exit_code(),
            "totals": totals, "hosts_by_status": by_status, "warnings": self.warnings, "fleet": self.fleet,
            "hosts": {name: {"status": r.status, **{k: v for k, v in asdict(r).items()
                                                    if k not in ("not_run", "cut_short")}}
                      for name, r in sorted(self.hosts.items())},
        }

    def write(self, run_dir: Path) -> None:
        data = self.to_dict()
        write_junit(data, run_dir / REPORT_JUNIT)
        atomic_write_json(run_dir / REPORT_JSON, data)  # last: report.json marks a run as recorded


def write_junit(data: dict, path: Path) -> None:
    """One testcase per host; a failed host carries <failure>, an unreachable one <error>."""
    hosts = data["hosts"]
    suite = ET.Element("testsuite", {
        "name": f"autoglm-provision.{data['action']}", "tests": str(len(hosts)),
        "failures": str(sum(h["status"] == "failed" for h in hosts.values())),
        "errors": str(sum(h["status"] == "unreachable" for h in hosts.values())),
        "time": str(data["duration_s"]), "timestamp": data["started"]})
    for name, host in hosts.items():
        case = ET.SubElement(suite, "testcase", {"classname": f"autoglm-provision.{data['action']}",
                                                 "name": name, "time": str(data["duration_s"])})
        failures = [f for f in host["failures"] if f["kind"] != "rescued"]
        if host["status"] == "not_run":
            ET.SubElement(case, "skipped", {"message": "not run: the rollout stopped or was interrupted"})
        if host["status"] in ("failed", "unreachable"):
            tag = "failure" if host["status"] == "failed" else "error"
            first = failures[0] if failures else {"task": "", "message": host["status"]}
            message = f"{first['task']}: {first['message']}"
            smoke = failure_message(host.get("smoke"))  # the smoke test's codes and next step come first
            element = ET.SubElement(case, tag, {"message": (f"{smoke} || {message}" if smoke else message)[:1000],
                                                "type": host["status"]})
            element.text = "\n\n".join([f"TASK [{f['task']}] {f['kind']}\n{f['message']}" for f in failures]
                                        + (["GPU smoke verdict codes:\n" + "\n".join(finding_lines(host["smoke"]))]
                                           if smoke else []))
        counts = ", ".join(f"{c}={host[c]}" for c in COUNTERS)
        codes = (host.get("smoke") or {}).get("codes")
        ET.SubElement(case, "system-out").text = counts + (f"\nGPU smoke codes: {', '.join(codes)}" if codes else "")
    if data.get("interrupted"):
        ET.SubElement(suite, "system-err").text = "run interrupted: results are partial"
    text = ET.tostring(suite, encoding="unicode", xml_declaration=True)
    atomic_write_text(path, text + "\n")


def load(run_dir: Path) -> dict:
    """A run's report.json, checked for the shape every reader relies on (RecordError otherwise)."""
    path = Path(run_dir) / REPORT_JSON
    if not path.exists() and Path(run_dir).is_dir():
        raise RecordError(f"run {Path(run_dir).name} has no {REPORT_JSON}: it is still running, or it was killed "
                          "before writing one (kill -9, power loss); its runner/ artifacts are all there is")
    return check_report(read_json_object(path, "report"), path)
