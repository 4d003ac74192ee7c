"""python -m provisioner.replay: a recorded run replays from a copy; the original stays as recorded."""

import hashlib
import json
from pathlib import Path

from provisioner import paths, replay


def _run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "20261129T000000Z-abc"
    (run / "runner" / "env").mkdir(parents=True)
    (run / "runner" / "artifacts" / "x").mkdir(parents=True)
    (run / "runner" / "artifacts" / "x" / "stdout").write_text("recorded\n")
    (run / "runner" / "env" / "extravars").write_text(json.dumps({"autoglm_action": "check",
                                                                   "autoglm_run_dir": str(run)}))
    (run / "runner" / "env" / "envvars").write_text(json.dumps({"ANSIBLE_FORKS": "1"}))
    (run / "smoke").mkdir()
    (run / "smoke" / "localhost.json").write_text('{"verdict": "fail"}')
    (run / "inventory.yml").write_text("all: {hosts: {localhost: {ansible_connection: local}}}\n")
    (run / "report.json").write_text(json.dumps({"action": "check", "inventory": str(run / "inventory.yml")}))
    return run


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_replay_copies_and_redirects_the_run_dir_and_leaves_the_original_alone(tmp_path, capsys):
    run = _run_dir(tmp_path)
    before = _digest(run)
    dest = tmp_path / "replayed"
    assert replay.main([str(run), str(dest), "--print-only"]) == 0
    command = capsys.readouterr().out.split()
    assert command[1:3] == ["run", str(dest / "runner")]
    assert command[command.index("--project-dir") + 1] == str(paths.COLLECTION)
    assert command[command.index("-p") + 1] == "playbooks/check.yml"
    assert (paths.COLLECTION / "playbooks" / "check.yml").is_file()
    assert command[command.index("--inventory") + 1] == str(run / "inventory.yml")
    extravars = json.loads((dest / "runner" / "env" / "extravars").read_text())
    assert extravars == {"autoglm_action": "check", "autoglm_run_dir": str(dest)}
    assert _digest(run) == before  # not one byte of the evidence changed


def test_replay_refuses_an_existing_destination_and_a_non_run(tmp_path, capsys):
    run = _run_dir(tmp_path)
    (tmp_path / "taken").mkdir()
    assert replay.main([str(run), str(tmp_path / "taken"), "--print-only"]) == 2
    assert "exists; the replay goes to a new directory" in capsys.readouterr().err
    (run / "report.json").write_text(json.dumps({"action": "validate"}))
    assert replay.main([str(run), "--print-only"]) == 2
    assert "names no playbook action" in capsys.readouterr().err
    assert replay.main([str(tmp_path / "nope"), "--print-only"]) == 2
