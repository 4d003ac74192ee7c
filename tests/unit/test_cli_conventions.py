"""The conventions of command-line tools (issue #28 item 9): --version, a closed output pipe
(``report --json | head``) ends quietly, and tables written to a file or pipe keep long host names and
run ids whole (no cut at 80 columns)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from provisioner.cli import main
from provisioner.views.console import make_console, status_table
from tests.fixtures.hostile_corpus import GOOD_REPORT

RUN = GOOD_REPORT["run_id"]
LONG_HOST = "gpu-node-0001." + "rack-a01.hall-b.datacenter-frankfurt-2.compute.internal.example.com." * 2 + "net"


def _state(tmp_path: Path, hosts: list[str]) -> dict[str, str]:
    run = tmp_path / "state" / "runs" / RUN
    run.mkdir(parents=True)
    host = {**GOOD_REPORT["hosts"]["h1"], "status": "ok", "failed": 0}
    report = {**GOOD_REPORT, "status": "successful", "exit_code": 0, "hosts": {h: host for h in hosts}}
    (run / "report.json").write_text(json.dumps(report))
    return {**os.environ, "AUTOGLM_PROVISION_STATE": str(tmp_path / "state"), "COLUMNS": "80"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "provisioner.cli", *args]


def test_version_names_the_tool_and_what_it_runs(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert f"autoglm-provision {metadata.version('autoglm-provision')}" in out
    assert f"ansible-core {metadata.version('ansible-core')}" in out


def test_a_reader_that_closes_the_pipe_early_ends_the_command_quietly(tmp_path):
    env = _state(tmp_path, [f"gpu-{i:05d}.example.com" for i in range(3000)])  # far above a pipe's buffer
    proc = subprocess.Popen(_cli("report", RUN, "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout.read(100)  # what `| head -c 100` reads, then it exits
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err  # the recorded run's exit code, as with a reader that reads it all
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


def test_tables_written_to_a_pipe_keep_long_host_names_whole(tmp_path):
    env = _state(tmp_path, [LONG_HOST, "h2"])
    out = subprocess.run(_cli("report", RUN), env=env, capture_output=True, text=True, timeout=60, check=False).stdout
    assert LONG_HOST in out, out
    console = make_console()  # under pytest stdout is no terminal, as in a pipe
    with console.capture() as captured:
        console.print(status_table([{"host": LONG_HOST, "ready": True, "last_run_id": RUN + "-and-more" * 5,
                                     "last_action": "site", "last_status": "ok", "summary": {}}]))
    assert LONG_HOST in captured.get() and RUN + "-and-more" * 5 in captured.get(), captured.get()
