import json
import xml.etree.ElementTree as ET

from provisioner.errors import EXIT_HOST_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TOOL_ERROR, EXIT_UNREACHABLE
from provisioner.results.report import RunReport, load
from provisioner.results.smoke import judge_run
from tests.fixtures.signoff_run import faulty_smoke_report


def ev(kind, host=None, **data):
    if host:
        data["host"] = host
    return {"event": kind, "event_data": data}


def feed(report, events):
    for event in events:
        report.handle_event(event)
    return report


def make():
    return RunReport(run_id="r1", action="site", inventory="inv.yml")


def test_counts_failures_facts_and_exit_codes():
    report = feed(make(), [
        ev("runner_on_start", "a", task="Install", role="kernel"),
        ev("runner_on_ok", "a", task="Install", res={"changed": True,
                                                     "ansible_facts": {"autoglm_report_kernel": {"v": 1},
                                                                       "other": 2}}),
        ev("runner_on_failed", "b", task="Install", role="kernel", res={"msg": "No package matching"}),
        ev("runner_on_failed", "a", task="Probe", res={"msg": "ignored"}, ignore_errors=True),
        ev("runner_on_unreachable", "c", task="Gathering Facts", res={"msg": "ssh: connect refused"}),
        ev("runner_on_skipped", "a", task="Skip"),
    ])
    assert report.hosts["a"].facts == {"kernel": {"v": 1}}
    assert (report.hosts["a"].ok, report.hosts["a"].changed, report.hosts["a"].ignored) == (1, 1, 1)
    assert report.hosts["b"].failures == [{"task": "kernel : Install", "kind": "failed",
                                           "message": "No package matching"}]
    assert report.hosts["c"].status == "unreachable"
    report.finish(2, "failed", 1.0)
    assert report.exit_code() == EXIT_HOST_FAILED
    data = report.to_dict()
    assert data["hosts_by_status"] == {"ok": 1, "failed": 1, "unreachable": 1}


def test_unreachable_only_and_ok_and_tool_error_and_interrupt():
    r = feed(make(), [ev("runner_on_unreachable", "c", task="t", res={"msg": "timeout"})])
    r.finish(4, "failed", 1)
    assert r.exit_code() == EXIT_UNREACHABLE
    ok = feed(make(), [ev("runner_on_ok", "a", task="t", res={})])
    ok.finish(0, "successful", 1)
    assert ok.exit_code() == EXIT_OK
    broken = make()
    broken.finish(4, "failed", 0.1)
    assert broken.exit_code() == EXIT_TOOL_ERROR
    stopped = feed(make(), [ev("runner_on_ok", "a", task="t", res={})])
    stopped.interrupted = True
    stopped.finish(254, "canceled", 1)
    assert stopped.exit_code() == EXIT_INTERRUPTED and stopped.status == "interrupted"


def test_stats_are_authoritative_and_mark_rescued_failures():
    r = feed(make(), [
        ev("runner_on_failed", "a", task="Try", res={"msg": "first try failed"}),
        ev("runner_on_ok", "a", task="Rescue", res={}),
        ev("playbook_on_stats", ok={"a": 5}, changed={"a": 1}, failures={}, dark={}, skipped={"a": 2},
           rescued={"a": 1}, ignored={}),
    ])
    r.finish(0, "successful", 1)
    host = r.hosts["a"]
    assert (host.ok, host.changed, host.failed, host.skipped, host.rescued) == (5, 1, 0, 2, 1)
    assert host.status == "ok" and host.failures[0]["kind"] == "rescued"
    assert r.exit_code() == EXIT_OK


def test_loop_failures_and_long_messages():
    r = feed(make(), [ev("runner_on_failed", "a", task="Loop", res={"results": [
        {"failed": True, "msg": "item one broke"}, {"failed": False, "msg": "fine"}]}),
        ev("runner_on_failed", "b", task="Big", res={"stderr": "x" * 5000})])
    assert r.hosts["a"].failures[0]["message"] == "item one broke"
    assert r.hosts["b"].failures[0]["message"].endswith("…(truncated)")


def test_written_files_json_and_junit(tmp_path):
    r = feed(make(), [ev("runner_on_ok", "a", task="t", res={}),
                      ev("runner_on_failed", "b", task="Gate", res={"msg": "smoke test failed"}),
                      ev("runner_on_unreachable", "c", task="t", res={"msg": "no route"})])
    r.finish(2, "failed", 3.5)
    r.write(tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["exit_code"] == 1 and data["hosts"]["b"]["failures"][0]["message"] == "smoke test failed"
    suite = ET.parse(tmp_path / "report.junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["a"].find("failure") is None
    assert "smoke test failed" in cases["b"].find("failure").get("message")
    assert "no route" in cases["c"].find("error").text


def test_fact_gathering_failure_names_the_module_and_its_stderr():
    r = feed(make(), [ev("runner_on_failed", "a", task="Gathering Facts", res={
        "msg": "The following modules failed to execute: ansible.legacy.setup.",
        "failed_modules": {"ansible.legacy.setup": {"msg": "Module result deserialization failed",
                                                    "module_stderr": "python3.13: command not found"}}})])
    message = r.hosts["a"].failures[0]["message"]
    assert "ansible.legacy.setup: Module result deserialization failed" in message
    assert "python3.13: command not found" in message


def test_targeted_hosts_that_never_ran_are_reported_not_run():
    r = RunReport(run_id="r", action="site", inventory="i", targeted=["a", "b", "c"])
    feed(r, [ev("runner_on_failed", "a", task="Gate", res={"msg": "canary failed"})])
    r.finish(2, "failed", 1)
    data = r.to_dict()
    assert data["hosts"]["b"]["status"] == "not_run" and data["hosts"]["c"]["status"] == "not_run"
    assert "rollout stopped" in data["warnings"][0] and r.exit_code() == EXIT_HOST_FAILED


def test_interrupted_run_marks_unfinished_hosts_interrupted():
    r = feed(make(), [ev("runner_on_ok", "a", task="t", res={}),
                      ev("runner_on_failed", "b", task="t", res={"msg": "broke"})])
    r.interrupted = True
    r.finish(254, "canceled", 1)
    data = r.to_dict()
    assert data["hosts"]["a"]["status"] == "interrupted" and data["hosts"]["b"]["status"] == "failed"
    assert r.exit_code() == EXIT_INTERRUPTED


def test_retried_transient_failures_are_counted():
    r = feed(make(), [ev("runner_retry", "a", task="Install packages", role="kernel",
                         res={"attempts": 1, "msg": "Could not get lock /var/lib/dpkg/lock-frontend"}),
                      ev("runner_on_ok", "a", task="Install packages", res={})])
    r.finish(0, "successful", 1)
    data = r.to_dict()
    assert data["totals"]["retries"] == 1
    assert data["hosts"]["a"]["retries"][0]["task"] == "kernel : Install packages"
    assert "Could not get lock" in data["hosts"]["a"]["retries"][0]["message"]


def test_a_host_whose_first_task_started_is_interrupted_not_not_run():
    """runner_on_start registers the host: cut short in its first task, it was reached (issue 15 moved
    the current task to the live view; the report still learns that the host started)."""
    report = RunReport(run_id="r", action="site", inventory="i", targeted=["a", "b"])
    report.handle_event({"event": "runner_on_start", "event_data": {"host": "a", "task": "Gathering Facts"}})
    report.interrupted = True
    report.finish(None, "canceled", 1.0)
    assert report.hosts["a"].status == "interrupted" and report.hosts["b"].status == "not_run"


def test_the_reachability_play_reports_hosts_left_out_with_the_category_of_why():
    """site/smoke start with playbooks/reachability.yml; its failures read as the pre-flight's did."""
    import yaml

    from provisioner import reachability
    from provisioner.plan import runplan

    task = yaml.safe_load(runplan.action_playbook("reachability").read_text())[0]["tasks"][0]["name"]
    assert task == reachability.REACHABILITY_TASK  # the report recognises the play by this name
    refused = "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 9: Connection refused"
    report = feed(make(), [
        ev("runner_on_unreachable", "dead", task=task, res={"msg": refused, "unreachable": True}),
        ev("runner_on_failed", "nosudo", task=task, res={"msg": "Missing sudo password"}),
        ev("runner_on_ok", "alive", task=task, res={"ping": "pong"}),
    ])
    dead, nosudo = report.hosts["dead"], report.hosts["nosudo"]
    assert dead.status == "unreachable" and dead.failures == [{
        "task": "reachability pre-flight", "kind": "unreachable",
        "message": f"refused: {refused} (left out of the run)"}]
    assert nosudo.status == "failed" and nosudo.failures[0]["message"].startswith("sudo_password: ")
    assert report.hosts["alive"].status == "ok"
    report.finish(4, "failed", 1.0)
    assert report.exit_code() in (EXIT_HOST_FAILED, EXIT_UNREACHABLE)


def test_a_host_that_only_passed_the_reachability_play_was_not_run():
    """The rollout stopped after the canary: the later waves passed the pre-flight play (which runs on
    every host first) but ran nothing after it, so they are not_run, as before the play existed."""
    from provisioner.reachability import REACHABILITY_TASK

    report = RunReport(run_id="r1", action="site", inventory="inv.yml", targeted=["canary", "wave"])
    feed(report, [ev("runner_on_start", h, task=REACHABILITY_TASK) for h in ("canary", "wave")]
         + [ev("runner_on_ok", h, task=REACHABILITY_TASK, res={"ping": "pong"}) for h in ("canary", "wave")]
         + [ev("runner_on_failed", "canary", task="Install", role="kernel", res={"msg": "boom"})]
         + [ev("playbook_on_stats", ok={"canary": 1, "wave": 1}, failures={"canary": 1})])
    report.finish(2, "failed", 1.0)
    assert report.hosts["canary"].status == "failed" and report.hosts["wave"].status == "not_run"
    assert any("were not run" in w for w in report.warnings)


def test_smoke_codes_reach_report_json_and_junit(tmp_path):
    """A host failed by its smoke test: report.json records its codes (results.smoke, the one
    reader of smoke/<host>.json), JUnit's failure message leads with code and next step."""
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "b.json").write_text(json.dumps(faulty_smoke_report("b")))
    reason = "b: GPU smoke test (standard) FAILED: gpu0 h2d_gbs: 44% of spec peak [GPU_H2D_LOW]"
    r = feed(make(), [ev("runner_on_ok", "a", task="t", res={}),
                      ev("runner_on_failed", "b", task="Fail the host on a failed smoke verdict", role="gpu_smoke",
                         res={"msg": reason})])
    r.finish(2, "failed", 3.5)
    r.record_fleet(judge_run(tmp_path))
    r.write(tmp_path)
    data = load(tmp_path)
    assert data["hosts"]["b"]["smoke"]["codes"] == ["GPU_H2D_LOW", "GPU_PERSISTENCE_OFF"]
    assert data["hosts"]["b"]["smoke"]["findings"][0]["remediation"].startswith("re-run the smoke test")
    assert data["hosts"]["a"]["smoke"] == {}
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "report.junit.xml").getroot().iter("testcase")}
    failure = cases["b"].find("failure")
    message = failure.get("message")
    assert message.startswith("GPU smoke failed: GPU_H2D_LOW (degraded) gpu0 h2d_gbs. Next: GPU_H2D_LOW: re-run")
    assert message.endswith(f"|| gpu_smoke : Fail the host on a failed smoke verdict: {reason}")
    assert "GPU smoke verdict codes:\nFAIL GPU_H2D_LOW (degraded) gpu0 h2d_gbs" in failure.text
    assert "WARN GPU_PERSISTENCE_OFF (degraded) gpu1 persistence_mode" in failure.text
    assert cases["b"].find("system-out").text.endswith("GPU smoke codes: GPU_H2D_LOW, GPU_PERSISTENCE_OFF")
    assert "GPU smoke" not in cases["a"].find("system-out").text


def test_slow_p2p_names_acs_from_the_hosts_own_bios_check_fact(tmp_path):
    """Host b published bios_check's p2p requirement (ACS redirect on 0000:02:00.0) and its smoke
    test failed a P2P figure: report.json and JUnit carry the likely cause with the finding."""
    from ansible_collections.autoglm.provision.plugins.plugin_utils.bios_check import bios_check_report

    smoke = faulty_smoke_report("b")
    slow = next(c for c in smoke["gpus"][0]["checks"] if c.get("code") == "GPU_H2D_LOW")
    slow.update(code="GPU_P2P_BW_LOW", name="p2p_bandwidth_oneway")
    smoke["codes"] = ["GPU_P2P_BW_LOW", "GPU_PERSISTENCE_OFF"]
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "b.json").write_text(json.dumps(smoke))
    probe = {"p2p": {"verdict": "FAIL", "cause": "acs_redirect", "evidence": [], "remediation": "turn ACS off",
                     "details": {"redirect_bridges": {"0000:02:00.0": {"bits": ["ReqRedir"], "between": []}},
                                 "translated_domains": []}}}
    fact = bios_check_report({"requirements": {}}, None, ["p2p"], True, False, probe)
    r = feed(make(), [ev("runner_on_ok", "b", task="Publish", role="bios_check",
                         res={"ansible_facts": {"autoglm_report_bios_check": fact}})])
    r.finish(2, "failed", 1.0)
    r.record_fleet(judge_run(tmp_path))
    r.write(tmp_path)
    finding = load(tmp_path)["hosts"]["b"]["smoke"]["findings"][0]
    assert finding["code"] == "GPU_P2P_BW_LOW"
    assert finding["likely_cause"] == "ACS redirect on PCIe bridge(s) 0000:02:00.0 (bios_check p2p: FAIL)"
    assert finding["remediation"].startswith("likely cause: ACS redirect on PCIe bridge(s) 0000:02:00.0")
