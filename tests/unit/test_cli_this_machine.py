"""Issue #28 item 9: the CLI on this machine without an inventory of one's own. ``status`` with no
inventory shows this machine after a local ``check``; ``check --json`` writes the report's JSON on
stdout and nothing else; ``init DIR`` copies the sample inventory the package ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioner import paths
from provisioner.cli import main
from provisioner.plan import deps
from provisioner.run import execute
from provisioner.run.runner import RunOutcome

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGLM_PROVISION_STATE", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "state"


def _fake_local_check(monkeypatch) -> list[dict]:
    """A local check whose playbook is not run: one ok host, as ansible-playbook would report it."""
    calls: list[dict] = []

    def run_playbook(**kw):
        calls.append(kw)
        for event in ({"event": "playbook_on_start", "event_data": {}},
                      {"event": "runner_on_ok", "event_data": {"host": "localhost", "task": "ping",
                                                               "res": {"changed": False}}}):
            kw["events"](event)
        return RunOutcome("successful", 0, 0.1)

    monkeypatch.setattr(execute, "run_playbook", run_playbook)
    monkeypatch.setattr(deps, "check_collections", lambda: None)
    return calls


def test_status_without_an_inventory_shows_this_machine_after_a_local_check(state, monkeypatch, capsys):
    _fake_local_check(monkeypatch)
    assert main(["check", "--plain"]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["host"] for r in rows] == ["localhost"]
    assert rows[0]["last_action"] == "check" and rows[0]["last_status"] == "ok", rows
    assert main(["status", "--plain"]) == 0
    out = capsys.readouterr().out
    assert "localhost" in out and "check" in out, out


def test_status_without_an_inventory_before_any_local_run_says_how_to_get_one(state, capsys):
    assert main(["status", "--plain"]) == 0
    out = capsys.readouterr().out
    assert "localhost" in out and "never run" in out and "autoglm-provision check" in out, out


def test_check_json_writes_the_report_json_on_stdout_and_nothing_else(state, monkeypatch, capsys):
    _fake_local_check(monkeypatch)
    assert main(["check", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # the whole of stdout is one JSON document
    assert report["action"] == "check" and list(report["hosts"]) == ["localhost"]
    assert report["hosts"]["localhost"]["status"] == "ok" and report["exit_code"] == 0
    recorded = json.loads((state / "runs" / report["run_id"] / "report.json").read_text())
    assert recorded == report
    assert "localhost" in captured.err  # the operator's lines go to stderr


def test_check_json_errors_go_to_stderr_only(state, capsys):
    assert main(["check", "missing.yml", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "missing.yml: no such file" in captured.err


def test_init_copies_the_sample_inventory_and_it_validates(state, capsys):
    assert main(["init", "site-inventory"]) == 0, capsys.readouterr()
    copied = sorted(p.relative_to("site-inventory").as_posix() for p in Path("site-inventory").rglob("*")
                    if p.is_file())
    sample = sorted(p.relative_to(ROOT / "inventory" / "sample").as_posix()
                    for p in (ROOT / "inventory" / "sample").rglob("*") if p.is_file())
    assert copied == sample and "hosts.yml" in copied
    for name in copied:
        assert (Path("site-inventory") / name).read_bytes() == (ROOT / "inventory" / "sample" / name).read_bytes()
    assert "site-inventory/hosts.yml" in capsys.readouterr().out
    assert main(["validate", "site-inventory/hosts.yml"]) == 0


def test_init_refuses_to_overwrite_and_names_the_files(state, capsys):
    target = Path("inv")
    (target / "group_vars").mkdir(parents=True)
    (target / "hosts.yml").write_text("mine\n")
    (target / "group_vars" / "all.yml").write_text("mine too\n")
    assert main(["init", "inv"]) == 2
    err = capsys.readouterr()
    text = err.out + err.err
    assert "inv/hosts.yml" in text and "inv/group_vars/all.yml" in text and "nothing was written" in text, text
    assert (target / "hosts.yml").read_text() == "mine\n"
    assert not (target / "group_vars" / "gpu_hosts.yml").exists()  # all or nothing


def test_the_sample_inventory_is_package_data():
    """``init`` reads it through the package (provisioner/sample_inventory, a link to inventory/sample
    in the checkout), so a wheel carries it; scripts/test-install runs ``init`` from the installed wheel."""
    import tomllib

    assert (paths.SAMPLE_INVENTORY / "hosts.yml").is_file()
    assert paths.SAMPLE_INVENTORY.resolve() == (ROOT / "inventory" / "sample").resolve()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "sample_inventory/**/*" in config["package-data"]["provisioner"]
    assert "autoglm-provision\" init" in (ROOT / "scripts" / "test-install").read_text()


def test_init_into_a_file_and_status_limit_without_an_inventory_are_usage_errors(state, capsys):
    Path("afile").write_text("x")
    assert main(["init", "afile"]) == 2
    assert "afile: exists and is not a directory; nothing was written" in capsys.readouterr().out
    assert main(["status", "--limit", "gpu*"]) == 2
    assert "--limit needs an inventory" in capsys.readouterr().out
