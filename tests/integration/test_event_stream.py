"""The CLI's event stream (provisioner.run.events and event_callback/awx_display.py) against
ansible-runner's own awx_display callback: the same playbook, run both ways for real through a
local connection (and one unreachable SSH host), must give the report the same events and the
same per-host results. Nothing is faked."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import ansible_runner
import pytest

from provisioner import settings
from provisioner.plan.options import RunOptions
from provisioner.results.report import RunReport
from provisioner.run.runner import ensure_ansible_on_path, run_playbook, runner_arguments

pytestmark = pytest.mark.integration

ROLE_TASKS = """
- name: role task
  ansible.builtin.set_fact:
    autoglm_report_demo: {checked: true, host: "{{ inventory_hostname }}"}
"""
PLAYBOOK = """
- name: nobody
  hosts: nosuch
  gather_facts: false
  tasks:
    - name: never
      ansible.builtin.debug: {msg: never}
- name: everything the report reads
  hosts: all
  gather_facts: false
  roles: [demo]
  tasks:
    - name: changed command
      ansible.builtin.command: /bin/true
      notify: a handler
    - name: failure ignored
      ansible.builtin.command: /bin/false
      ignore_errors: true
    - name: skipped
      ansible.builtin.debug: {msg: skipped}
      when: false
    - name: a loop
      ansible.builtin.debug: {msg: "{{ item }}"}
      loop: [1, 2]
    - name: retried
      ansible.builtin.command: /bin/false
      register: tried
      until: tried.rc == 0
      retries: 1
      delay: 0
      ignore_errors: true
    - name: not ascii
      ansible.builtin.debug: {msg: "caf\u00e9 \u2713 \u4e2d"}
    - name: secret
      ansible.builtin.debug: {msg: "s3cret-value"}
      no_log: true
    - name: rescued
      block:
        - name: fails in a block
          ansible.builtin.fail: {msg: block failed}
      rescue:
        - name: the rescue
          ansible.builtin.debug: {msg: rescued}
    - name: h2 fails
      ansible.builtin.fail: {msg: "h2 is broken"}
      when: inventory_hostname == 'h2'
    - name: after the failure
      ansible.builtin.debug: {msg: still here}
  handlers:
    - name: a handler
      ansible.builtin.debug: {msg: handled}
"""
INVENTORY = """[local]
h1 ansible_connection=local
h2 ansible_connection=local
[far]
h3 ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=9 ansible_user=nobody
[all:vars]
ansible_python_interpreter={python}
"""
READ_KINDS = {"runner_on_start", "runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable",
              "runner_retry", "playbook_on_task_start", "runner_item_on_ok"}
VOLATILE = {"start", "end", "delta", "invocation", "attempts"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:

    root = tmp_path_factory.mktemp("stream")
    (root / "playbooks").mkdir()
    (root / "playbooks" / "play.yml").write_text(PLAYBOOK)
    (root / "playbooks" / "roles" / "demo" / "tasks").mkdir(parents=True)
    (root / "playbooks" / "roles" / "demo" / "tasks" / "main.yml").write_text(ROLE_TASKS)
    (root / "hosts").write_text(INVENTORY.format(python=sys.executable))
    return root


def runners_own_events(project: Path) -> list[dict]:
    """ansible-runner with its own awx_display callback, as AWX and ansible-runner users run it."""
    events: list[dict] = []
    ensure_ansible_on_path()
    with tempfile.TemporaryDirectory() as private:
        ansible_runner.run(private_data_dir=private, project_dir=str(project / "playbooks"),
                           playbook=str(project / "playbooks" / "play.yml"), inventory=str(project / "hosts"),
                           envvars=settings.runner_env(3), event_handler=lambda e: events.append(e) or False,
                           **runner_arguments())
    return events


def the_clis_events(project: Path, tmp_path: Path) -> list[dict]:
    events: list[dict] = []
    (tmp_path / "control").mkdir()
    outcome = run_playbook(playbook=project / "playbooks" / "play.yml", inventory=project / "hosts", host_count=3,
                           options=RunOptions(), run_id="run-1", run_dir=tmp_path, control_dir=tmp_path / "control",
                           events=events.append)
    assert outcome.status == "failed" and outcome.rc == 4  # h2 failed, h3 unreachable
    return events


def projection(events: list[dict]) -> Counter:
    """What the report and the live view read of each event."""
    seen = Counter()
    for event in events:
        kind, data = event.get("event"), event.get("event_data") or {}
        if kind not in READ_KINDS:
            continue
        res = data.get("res") or {}
        # An unreachable host's message is ssh's and ansible's wording of the moment (CI saw the
        # host quoted '...' in one run and "..." in the other), not something the stream carries.
        message = "" if kind == "runner_on_unreachable" else str(res.get("msg", ""))[:60]
        seen[(kind, data.get("host"), data.get("task"), data.get("role"), bool(data.get("ignore_errors")),
              tuple(sorted(set(res) - VOLATILE)), res.get("changed"), message)] += 1
    return seen


def report_of(events: list[dict]) -> dict:
    report = RunReport(run_id="r", action="site", inventory="hosts", targeted=["h1", "h2", "h3"])
    for event in events:
        report.handle_event(event)
    report.finish(4, "failed", 1.0)
    data = report.to_dict()
    for host in data["hosts"].values():
        for item in host["failures"] + host["retries"]:
            # unreachable: ssh's and ansible's wording (its quotes vary run to run), not the stream's
            item["message"] = item["message"][:60].replace('"', "'")
    return {"hosts": data["hosts"], "warnings": data["warnings"]}


def test_the_report_reads_the_same_from_the_stream_as_from_runners_callback(project, tmp_path):
    theirs, ours = runners_own_events(project), the_clis_events(project, tmp_path)
    assert projection(ours) == projection(theirs)
    assert Counter(e["event"] for e in ours if e["event"] in READ_KINDS) == \
        Counter(e["event"] for e in theirs if e["event"] in READ_KINDS)
    stats = [{k: v for k, v in e["event_data"].items() if k in ("ok", "changed", "failures", "dark", "skipped",
                                                                 "rescued", "ignored")}
             for events in (theirs, ours) for e in events if e["event"] == "playbook_on_stats"]
    assert len(stats) == 2 and stats[0] == stats[1]
    ours_report, their_report = report_of(ours), report_of(theirs)
    assert ours_report["hosts"] == their_report["hosts"]
    hosts = ours_report["hosts"]
    assert hosts["h2"]["failed"] == 1 and hosts["h3"]["unreachable"] == 1 and hosts["h1"]["rescued"] == 1
    assert hosts["h1"]["facts"]["demo"] == {"checked": True, "host": "h1"}
    # Warnings: the stream carries the text (runner's callback carried `True`, which the report kept).
    assert "Could not match supplied host pattern, ignoring: nosuch" in ours_report["warnings"]
    assert "True" in their_report["warnings"]
    # no_log: censored in the stream as in runner's events; never the value.
    text = (tmp_path / "runner" / "artifacts" / "run-1" / "events.jsonl").read_text()
    assert "s3cret-value" not in text and "no_log: true" in text
    (unicode,) = [e for e in ours if e["event"] == "runner_on_ok" and e["event_data"]["task"] == "not ascii"
                  and e["event_data"]["host"] == "h1"]
    assert unicode["event_data"]["res"]["msg"] == "caf\u00e9 \u2713 \u4e2d"


def test_the_stdout_artifact_is_what_ansible_playbook_printed(project, tmp_path):
    the_clis_events(project, tmp_path)
    stdout = (tmp_path / "runner" / "artifacts" / "run-1" / "stdout").read_text()
    assert "TASK [changed command]" in stdout and "fatal: [h2]: FAILED!" in stdout and "PLAY RECAP" in stdout
    assert "\x1b[K" not in stdout  # no event markers: ansible-runner's encoding is not in the stream


def test_the_users_stdout_callback_prints_and_the_events_still_flow(project, tmp_path, monkeypatch):
    # ansible-runner keeps the caller's ANSIBLE_STDOUT_CALLBACK in ORIGINAL_STDOUT_CALLBACK; the
    # stand-in callback prints as that one does.
    monkeypatch.setenv("ANSIBLE_STDOUT_CALLBACK", "ansible.builtin.minimal")
    events = the_clis_events(project, tmp_path)
    stdout = (tmp_path / "runner" / "artifacts" / "run-1" / "stdout").read_text()
    assert "h1 | CHANGED" in stdout and "TASK [" not in stdout
    assert sum(e["event"] == "runner_on_ok" for e in events) > 10


def test_a_stdout_callback_ansible_cannot_load_is_named_in_the_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_STDOUT_CALLBACK", "no.such.callback")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "p.yml").write_text("- hosts: all\n  tasks: []\n")
    (tmp_path / "hosts").write_text("h1 ansible_connection=local\n")
    (tmp_path / "control").mkdir()
    outcome = run_playbook(playbook=tmp_path / "playbooks" / "p.yml", inventory=tmp_path / "hosts", host_count=1,
                           options=RunOptions(), run_id="run-1", run_dir=tmp_path, control_dir=tmp_path / "control",
                           events=lambda event: None)
    assert outcome.rc != 0
    assert "'no.such.callback' (ANSIBLE_STDOUT_CALLBACK) was not found" in outcome.early_error


def test_a_line_that_is_no_event_is_said_in_the_outcome(tmp_path):
    # A task on the local connection sees the run's environment, so it can append to the events
    # file itself: the one way to put a bad line there for real. The run must say results may be
    # missing rather than pass over it.
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "p.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: corrupt the stream\n"
        "      ansible.builtin.shell: printf 'not an event\\n' >> \"$AUTOGLM_EVENTS_FILE\"\n"
        "      changed_when: false\n")
    (tmp_path / "hosts").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (tmp_path / "control").mkdir()
    seen: list[dict] = []
    outcome = run_playbook(playbook=tmp_path / "playbooks" / "p.yml", inventory=tmp_path / "hosts", host_count=1,
                           options=RunOptions(), run_id="run-1", run_dir=tmp_path, control_dir=tmp_path / "control",
                           events=seen.append)
    assert outcome.rc == 0
    assert outcome.unreadable_events.startswith("1 line(s) of ") and "events.jsonl" in outcome.unreadable_events
    assert any(e.get("event") == "playbook_on_stats" for e in seen)  # the events around it still arrive


def test_url_credentials_never_reach_the_event_log_or_the_output_artifact(tmp_path):
    """A BMC URL with a password, in a task's message and in a role fact: the events file, runner's
    stdout artifact and what the CLI is handed hold the URL without its credentials."""
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "p.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: 'BMC https://admin:s3cret@bmc.example/redfish/v1 unreachable'\n"
        "    - ansible.builtin.set_fact:\n        autoglm_report_bios_check: {bmc: 'https://admin:s3cret@bmc.example'}\n")
    (tmp_path / "hosts").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (tmp_path / "control").mkdir()
    seen: list[dict] = []
    outcome = run_playbook(playbook=tmp_path / "playbooks" / "p.yml", inventory=tmp_path / "hosts", host_count=1,
                           options=RunOptions(), run_id="run-1", run_dir=tmp_path, control_dir=tmp_path / "control",
                           events=seen.append)
    assert outcome.rc == 0
    artifacts = tmp_path / "runner" / "artifacts" / "run-1"
    assert "https://***@bmc.example/redfish/v1" in (artifacts / "stdout").read_text()
    leaks = [p for p in (tmp_path / "runner").rglob("*") if p.is_file() and "s3cret" in p.read_text(errors="replace")]
    assert leaks == [] and "s3cret" not in json.dumps(seen)
    assert any("https://***@bmc.example" in json.dumps(e) for e in seen if e.get("event") == "runner_on_ok")


def test_under_umask_000_the_runs_artifacts_are_private(tmp_path):
    """ansible-runner writes its artifacts (rc, status, command, ...) with the umask's modes: after the
    run every file under runner/ is 0600 and every directory 0700."""
    import stat

    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "p.yml").write_text("- hosts: all\n  gather_facts: false\n  tasks:\n"
                                                 "    - ansible.builtin.ping:\n")
    (tmp_path / "hosts").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (tmp_path / "control").mkdir()
    previous = os.umask(0)
    try:
        outcome = run_playbook(playbook=tmp_path / "playbooks" / "p.yml", inventory=tmp_path / "hosts", host_count=1,
                               options=RunOptions(), run_id="run-1", run_dir=tmp_path, control_dir=tmp_path / "control",
                               events=lambda event: None)
    finally:
        os.umask(previous)
    assert outcome.rc == 0
    paths = [tmp_path / "runner", *(tmp_path / "runner").rglob("*")]
    assert {"rc", "status", "command", "stdout", "events.jsonl"} <= {p.name for p in paths}
    loose = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.lstat().st_mode)) for p in paths
             if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) != (0o700 if p.is_dir() else 0o600)}
    assert loose == {}, loose
