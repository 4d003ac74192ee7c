"""The real CLI and ansible-runner against this machine through a local connection."""

import json
import subprocess
import xml.etree.ElementTree as ET


def test_check_this_machine_writes_reports_and_report_replays_them(cli):
    result = cli("check", "--plain")
    out = result.stdout
    report = cli.report()
    # This machine may or may not qualify (CI machines have 2 cores); whatever the verdict, the
    # exit code, report.json and the JUnit file must agree.
    assert result.returncode in (0, 1), out + result.stderr
    assert report["exit_code"] == result.returncode and report["action"] == "check"
    assert list(report["hosts"]) == ["localhost"]
    host = report["hosts"]["localhost"]
    assert host["facts"]["host"]["connection"] == "local"
    assert host["ok"] > 0
    assert "\x1b[" not in out  # plain output carries no ANSI codes
    assert "localhost" in out and "Run directory:" in out
    suite = ET.parse(cli.latest() / "report.junit.xml").getroot()
    assert suite.get("tests") == "1" and suite.get("name") == "autoglm-provision.check"
    runner_dir = cli.latest() / "runner" / "artifacts" / report["run_id"]
    # The playbook's events, one JSON line each (provisioner.run.events), not runner's file per event.
    events = [json.loads(line) for line in (runner_dir / "events.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "playbook_on_start" and events[-1]["event"] == "playbook_on_stats"
    assert [e["counter"] for e in events] == list(range(1, len(events) + 1))
    assert oct((runner_dir / "events.jsonl").stat().st_mode & 0o777) == "0o600"
    assert not (runner_dir / "job_events").exists() or not any((runner_dir / "job_events").iterdir())
    env = json.loads((runner_dir / "command").read_text())["env"]
    assert env.get("ANSIBLE_PIPELINING") == "True" and env.get("ANSIBLE_HOST_KEY_CHECKING") == "True"
    # Facts stay in memory, as with ansible-playbook: not runner's jsonfile cache in the artifacts.
    assert "ANSIBLE_CACHE_PLUGIN" not in env and not (runner_dir / "fact_cache").exists()

    replay = cli("report", "--plain")
    assert replay.returncode == result.returncode
    assert report["run_id"] in replay.stdout and "localhost" in replay.stdout
    as_json = cli("report", report["run_id"], "--json")
    assert json.loads(as_json.stdout)["run_id"] == report["run_id"]


def test_the_callers_fact_cache_setting_is_kept_and_a_foreign_home_breaks_no_async_task(cli, tmp_path):
    # ansible-runner used to force its own jsonfile cache over the caller's; a site that caches
    # facts (e.g. for `gathering = smart` across runs) gets its own cache filled.
    # One run serves a second case too (CI time): $HOME not the account's home (sudo -E, CI
    # containers, AWX execution environments) used to end the async smoke task with "could not find
    # job" (ansible/ansible#81805: the async wrapper and async_status resolved ~ differently).
    cache = tmp_path / "facts"
    home = tmp_path / "not-the-accounts-home"
    home.mkdir()
    # And a third (issue #28 item 9): `check --json` prints report.json, alone, on stdout (the run's
    # lines on stderr), and `status` with no inventory shows this machine afterwards.
    result = cli("check", "--json", env={"ANSIBLE_CACHE_PLUGIN": "jsonfile", "HOME": str(home),
                                         "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache)})
    assert result.returncode in (0, 1), result.stdout + result.stderr
    cached = json.loads(next(cache.iterdir()).read_text())
    assert cached  # the host's facts, written by Ansible's jsonfile plugin where the caller said
    assert "could not find job" not in result.stderr, result.stderr[-3000:]
    assert "verdict" in cli.report()["hosts"]["localhost"]["facts"]["gpu_smoke"], result.stderr[-3000:]
    assert json.loads(result.stdout) == cli.report() and result.returncode == cli.report()["exit_code"]
    assert "localhost" in result.stderr and "\x1b[" not in result.stdout
    status = cli("status", "--json")
    assert status.returncode == 0, status.stderr
    assert [(r["host"], r["last_action"], r["last_run_id"]) for r in json.loads(status.stdout)] == \
        [("localhost", "check", cli.report()["run_id"])]


def test_secret_env_does_not_reach_runner_artifacts(cli):
    secret = "env-secret-7f3a9c"
    cli("check", "--plain", env={"AUTOGLM_TEST_SECRET_TOKEN": secret})
    for path in cli.latest().rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_smoke_without_an_inventory_tests_this_machine(cli):
    # As `check` does: no inventory means this machine over a local connection. This machine has no
    # NVIDIA GPU, so the smoke verdict is a clear fail (exit 1) with the JSON in the run directory.
    result = cli("smoke", "--plain", "--level", "quick")
    report = cli.report()
    assert result.returncode == report["exit_code"], result.stdout + result.stderr
    assert report["action"] == "smoke" and list(report["hosts"]) == ["localhost"]
    smoke = json.loads((cli.latest() / "smoke" / "localhost.json").read_text())
    assert smoke["schema"] == "autoglm-gpu-smoke/2" and smoke["level"] == "quick"
    if not smoke["gpu_present"]:
        assert result.returncode == 1 and "no NVIDIA GPU/driver" in smoke["verdict_reason"]


def _fake_python(tmp_path, name: str, body: str):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_smoke_runs_the_given_interpreter_and_returns_when_it_exits(cli, tmp_path):
    # One task runs the program (autoglm_smoke_run): the given interpreter when it is executable,
    # no warning then; the JSON in the run directory; the task returns when the program exits.
    python = _fake_python(tmp_path, "python", 'exec /usr/bin/python3 "$@"')
    result = cli("smoke", "--plain", "--level", "quick", "-e", f"gpu_smoke_python={python}",
                 "-e", "gpu_smoke_require_gpu=false")
    assert result.returncode == 0, result.stdout + result.stderr
    fact = cli.report()["hosts"]["localhost"]["facts"]["gpu_smoke"]
    assert fact["interpreter"] == str(python) and fact["warnings"] == []
    assert fact["json"] == str(cli.latest() / "smoke" / "localhost.json")
    assert json.loads((cli.latest() / "smoke" / "localhost.json").read_text())["verdict"] == "pass"


def test_smoke_past_its_time_limit_is_stopped_on_the_host(cli, tmp_path):
    # The time limit is enforced on the host (coreutils timeout stops the program's process group):
    # neither the program (the shell running this fake interpreter) nor its child outlives the run.
    python = _fake_python(tmp_path, "python", "sleep 300; exit 0")
    result = cli("smoke", "--plain", "--level", "quick", "-e", f"gpu_smoke_python={python}",
                 "-e", "gpu_smoke_timeout_s=2")
    assert result.returncode == 1, result.stdout + result.stderr
    messages = " ".join(f["message"] for f in cli.report()["hosts"]["localhost"]["failures"])
    assert "did not finish within 2 s" in messages, messages
    left = subprocess.run(["pgrep", "-f", str(python)], capture_output=True, text=True, check=False).stdout
    assert left == "", left


def test_a_crashing_smoke_program_fails_the_host_with_its_last_words(cli, tmp_path):
    python = _fake_python(tmp_path, "python", "echo 'out of cheese' >&2; exit 3")
    result = cli("smoke", "--plain", "--level", "quick", "-e", f"gpu_smoke_python={python}")
    assert result.returncode == 1, result.stdout + result.stderr
    messages = " ".join(f["message"] for f in cli.report()["hosts"]["localhost"]["failures"])
    assert "crashed (rc 3): out of cheese" in messages, messages
    assert not (cli.latest() / "smoke" / "localhost.json").exists()

