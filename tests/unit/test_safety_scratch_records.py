"""Host key checking downgrades are named; scratch dirs of dead runs are swept; run and state
records are written atomically and read defensively."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from provisioner.inventory.inventory import Inventory, read_inventory
from provisioner.plan import safety
from provisioner.results import state
from provisioner.run import scratch
from provisioner.state import records

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)


def inventory(tmp_path, text):
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    return read_inventory(path)


def test_host_key_checking_off_is_named_wherever_it_is_turned_off(tmp_path):
    inv = inventory(tmp_path, "all:\n  hosts:\n"
                              "    a: {ansible_host: 192.0.2.1, ansible_host_key_checking: false}\n"
                              "    b: {ansible_host: 192.0.2.2,"
                              "        ansible_ssh_common_args: '-o StrictHostKeyChecking=no'}\n"
                              "    c: {ansible_host: 192.0.2.3}\n")
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\nhost_key_checking = False\n")
    warnings = safety.host_key_warnings(inv, ["a", "b", "c"], {}, environ={}, project_dir=tmp_path)
    text = "\n".join(warnings)
    assert "for 1 host(s) (a)" in text and "ansible_host_key_checking: False" in text
    assert "for 1 host(s) (b)" in text and "StrictHostKeyChecking=no" in text
    assert f"{cfg} sets host_key_checking = False" in text
    env = safety.host_key_warnings(inv, ["c"], {}, environ={"ANSIBLE_HOST_KEY_CHECKING": "false"},
                                   project_dir=tmp_path)
    assert env == ["SSH host key checking is OFF: the environment sets ANSIBLE_HOST_KEY_CHECKING=false "
                   "(hosts are not authenticated: a spoofed host would get the run)"]
    assert safety.host_key_warnings(inv, ["c"], {"ansible_host_key_checking": "no"}, environ={},
                                    project_dir=tmp_path / "none")[0].startswith("SSH host key checking is OFF")
    assert safety.host_key_warnings(inv, ["c"], {}, environ={}, project_dir=tmp_path / "none") == []
    assert safety.host_key_warnings(Inventory(tmp_path), [], {}, environ={}, project_dir=tmp_path / "x") == []


def test_sweep_removes_dead_runs_scratch_and_keeps_live_ones(tmp_path):
    dead = tmp_path / f"{scratch.PREFIX}dead"
    (dead / "cp").mkdir(parents=True)
    (dead / scratch.LOCK).write_text("")
    (dead / "extra-vars-0.json").write_text('{"token": "x"}')
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(dead / "cp" / "master"))  # a control socket whose master is gone
    live_script = textwrap.dedent(f"""
        from pathlib import Path
        from provisioner.run.scratch import Scratch
        with Scratch(Path({str(tmp_path)!r})) as s:
            print(s.path, flush=True)
            input()
    """)
    child = subprocess.Popen([sys.executable, "-c", live_script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        live = child.stdout.readline().strip()
        assert not dead.exists(), "the live run's start did not sweep the dead run's scratch dir"
        assert scratch.sweep(tmp_path) == [] and os.path.isdir(live)
        assert oct(os.stat(live).st_mode & 0o777) == "0o700"
    finally:
        child.communicate("\n", timeout=30)
        sock.close()
    assert not os.path.exists(live), "scratch dir left after the run"


def test_a_starting_runs_directory_is_never_swept_and_one_killed_while_starting_is_later(tmp_path):
    """A run makes its directory under a name the sweep skips, locks it, then renames it: a concurrent
    sweep never sees it unlocked (it used to, between mkdtemp and flock). One left under the
    starting name by a run killed in that moment is swept once older than the grace period."""
    fresh = tmp_path / f"{scratch.STARTING}fresh"
    old = tmp_path / f"{scratch.STARTING}old"
    fresh.mkdir()
    old.mkdir()
    past = os.stat(old).st_mtime - scratch.STARTING_GRACE_S - 5
    os.utime(old, (past, past))
    assert scratch.sweep(tmp_path) == [old] and fresh.is_dir() and not old.exists()
    with scratch.Scratch(tmp_path) as s:
        assert s.path.name.startswith(scratch.PREFIX) and not fresh.samefile(s.path)
        assert scratch.sweep(tmp_path) == [] and s.path.is_dir()  # locked under its final name
        assert not any(p.name.startswith(scratch.STARTING) and p != fresh for p in tmp_path.iterdir())


def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path):
    path = tmp_path / "r.json"
    records.atomic_write_json(path, {"a": 1})
    records.atomic_write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2} and [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def report(run_id, hosts):
    return {"run_id": run_id, "action": "check", "inventory": "i", "finished": "f", "interrupted": False,
            "options": {}, "hosts": hosts}


@pytest.mark.parametrize("damage", ["", "{", "[1]", '{"facts": [1]}', b"\xff"])
def test_damaged_state_record_is_replaced_with_a_warning(tmp_path, damage):
    host_file = state.hosts_dir(tmp_path) / "a.json"
    host_file.parent.mkdir(parents=True)
    host_file.write_bytes(damage if isinstance(damage, bytes) else damage.encode())
    warnings = state.record_run(report("r1", {"a": {"status": "ok", "facts": {}}}), tmp_path)
    assert len(warnings) == 1 and "state of host a" in warnings[0] and "started afresh" in warnings[0]
    assert state.load_host("a", tmp_path)["last_run_id"] == "r1"


def test_state_dir_not_creatable_is_a_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    warnings = state.record_run(report("r1", {"a": {"status": "ok"}}), blocker)
    assert warnings and "cannot be created" in warnings[0]


def test_host_key_warning_reaches_summary_and_report(tmp_path, monkeypatch, capsys):
    from provisioner import cli
    from provisioner.run import execute
    from provisioner.run.runner import RunOutcome

    NOTHING_RAN = RunOutcome(status="successful", rc=0, duration_s=0.0)  # noqa: N806
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  hosts:\n    localhost: {ansible_connection: local}\n")
    monkeypatch.setenv("AUTOGLM_PROVISION_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
    monkeypatch.setattr(execute, "run_playbook", lambda **kw: NOTHING_RAN)  # no playbook: the warning is the point
    assert cli.main(["check", str(inv), "--plain"]) == 0
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "state" / "runs" / "latest" / "report.json").read_text())
    warning = "SSH host key checking is OFF: the environment sets ANSIBLE_HOST_KEY_CHECKING=False"
    assert any(w.startswith(warning) for w in data["warnings"])
    assert f"WARNING: {warning}" in out


def test_a_start_names_what_it_swept(tmp_path):
    dead = tmp_path / f"{scratch.PREFIX}dead"
    (dead / "probe").mkdir(parents=True)  # a killed --probe-strict pre-flight's files
    (dead / scratch.LOCK).write_text("")
    with scratch.Scratch(tmp_path) as fresh:
        assert fresh.swept == [dead] and not dead.exists()
        assert fresh.swept_warning().startswith("removed 1 private scratch directory left by killed run(s)")
        assert str(dead) in fresh.swept_warning()
    with scratch.Scratch(tmp_path) as again:
        assert again.swept == []
