"""Interruption at every phase, through the real CLI on this machine (local connection): a signal
during the storage read test, during the reachability pre-flight, and kill -9 mid-run. Each ends
with exit 130 and a partial report (or, after kill -9, with every reader still working), and
leaves nothing behind: no test file, no scratch dir, no process of the run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from provisioner.run import scratch
from provisioner.state import statedir

from .conftest import CLI, ROOT, write_inventory

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

TEST_FILE = ".autoglm-preflight-readtest-*"


def _start(cli, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *args], cwd=ROOT, env=cli.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for(predicate, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{entry.name}: {cmdline}")
    return found


def _scratch_dirs() -> set[Path]:
    return set(scratch.root().glob(f"{scratch.PREFIX}*"))


def _abandoned(dirs: set[Path]) -> set[Path]:
    """Scratch dirs no live run holds: what a run left behind. Runs of other test sessions on the same
    machine hold theirs (or have removed them) and are no finding of this test."""
    return {d for d in dirs if d.exists() and not statedir.lock_held(d / scratch.LOCK)}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_during_storage_read_test_leaves_no_file_and_writes_partial_report(cli, tmp_path, sig):
    data = tmp_path / "data"
    data.mkdir()
    before = _scratch_dirs()
    proc = _start(cli, "check", "--plain", "-e", f"preflight_data_path={data}", "-e", "gpu_smoke_require_gpu=false")
    assert _wait_for(lambda: list(data.glob(TEST_FILE)) or proc.poll() is not None), "no read test started"
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    report = cli.report()
    assert report["interrupted"] is True and report["exit_code"] == 130
    assert report["hosts"]["localhost"]["status"] == "interrupted"
    assert f"interrupted by {sig.name}" in " ".join(report["warnings"])
    assert list(data.glob(TEST_FILE)) == [], "the storage read test's file was left behind"
    assert _abandoned(_scratch_dirs() - before) == set(), \
        "the run's scratch dir (extra-vars files, SSH sockets) was left behind"
    assert _processes_mentioning(report["run_id"]) == []


def _host_temp_dirs(cli, tmp_path) -> tuple[Path, Path]:
    """The host's temporary directories of this test only (TMPDIR, where the smoke program's scratch
    directory is made; Ansible's remote_tmp, which holds the zipapp), so that what stays is this run's."""
    host_tmp, remote_tmp = tmp_path / "host-tmp", tmp_path / "remote-tmp"
    host_tmp.mkdir()
    remote_tmp.mkdir()
    cli.env.update(TMPDIR=str(host_tmp), ANSIBLE_REMOTE_TMP=str(remote_tmp))
    return host_tmp, remote_tmp


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_signal_during_the_smoke_program_stops_it_and_leaves_nothing_on_the_host(cli, tmp_path, sig):
    # The program runs in the run's task (no async wrapper, which left it running to its time
    # limit): an interrupted run leaves no process of it, and neither its scratch directory (with
    # the JSON report and its temporary file) nor Ansible's remote temporary directory (the zipapp).
    # The fake interpreter says it started (the host shell's own command line names it too, before its
    # traps are set, so a process naming it is no sign that the program runs), then sleeps.
    host_tmp, remote_tmp = _host_temp_dirs(cli, tmp_path)
    python, started = tmp_path / "python", tmp_path / "program-started"
    python.write_text(f'#!/bin/sh\ntouch {started}\nsleep 300\nexec /usr/bin/python3 "$@"\n')
    python.chmod(0o755)
    proc = _start(cli, "smoke", "--plain", "--level", "quick", "-e", f"gpu_smoke_python={python}")

    def program() -> list[str]:  # the CLI's own command line names the interpreter too
        return [p for p in _processes_mentioning(str(python)) if "autoglm_smoke.pyz" in p]

    assert _wait_for(lambda: started.exists() or proc.poll() is not None), "the program never ran"
    assert proc.poll() is None, proc.communicate()[0]
    assert list(host_tmp.glob("autoglm-gpu-smoke.*")) and list(remote_tmp.glob("*/autoglm_smoke.pyz")), \
        "the test's TMPDIR and ANSIBLE_REMOTE_TMP did not reach the host's commands"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert _wait_for(lambda: program() == [], 30), program()
    left = sorted(str(p.relative_to(tmp_path)) for p in [*host_tmp.rglob("*"), *remote_tmp.rglob("*")])
    assert left == [], f"the interrupted smoke run left these on the host: {left}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_during_validation_exits_130_and_runs_nothing(cli, tmp_path, sig):
    inv = tmp_path / "big.yml"  # 100,000 hosts: validation takes seconds
    inv.write_text("all:\n  hosts:\n    n[00000:99999]:\n      ansible_connection: local\n")
    proc = _start(cli, "check", str(inv), "--plain")
    time.sleep(1.5)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert f"interrupted by {sig.name}: nothing was run" in out
    assert not (cli.state / "runs").exists() or not any((cli.state / "runs").iterdir())


class _SilentSshd:
    """Accepts TCP and never answers: the reachability probe waits on it (its timeout is 10 s)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


def _signal_smoke_on_a_hung_host(cli, tmp_path, sig, *flags: str):
    """`smoke` against a host whose sshd accepts and never answers; ``sig`` once it connected.
    Returns the inventory, the CLI's exit status and its output."""
    sshd = _SilentSshd()
    try:
        inv = write_inventory(tmp_path / "hosts.yml", {"hung": {"ansible_host": "127.0.0.1",
                                                                  "ansible_port": sshd.port}})
        proc = _start(cli, "smoke", str(inv), "--plain", *flags)
        assert sshd.accepted.wait(60), "the probe never connected"
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        sshd.close()
    return inv, proc.returncode, out


def _assert_retry_picks_the_hung_host(cli, inv, report):
    retry = cli("smoke", str(inv), "--plain", "--retry-failed", "--no-probe", "--tags", "never")
    assert f"retrying 1 host(s) from run {report['run_id']}: hung" in retry.stdout, retry.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_signal_during_reachability_preflight_exits_130_with_partial_report(cli, tmp_path, sig):
    inv, returncode, out = _signal_smoke_on_a_hung_host(cli, tmp_path, sig, "--probe-strict")  # separate pre-flight
    assert returncode == 130, out
    assert "interrupted during the reachability pre-flight" in out
    report = cli.report()
    assert report["interrupted"] is True and report["hosts"]["hung"]["status"] == "not_run"
    _assert_retry_picks_the_hung_host(cli, inv, report)


def test_signal_during_the_runs_reachability_play_exits_130_and_the_host_is_retried(cli, tmp_path):
    """Without --probe-strict the pre-flight is the playbook's first play: an interrupt there is an
    interrupt of the run (partial report, the host cut short), and --retry-failed picks it up."""
    inv, returncode, out = _signal_smoke_on_a_hung_host(cli, tmp_path, signal.SIGINT)
    assert returncode == 130, out
    report = cli.report()
    assert report["interrupted"] is True and report["hosts"]["hung"]["status"] in ("interrupted", "not_run"), report
    _assert_retry_picks_the_hung_host(cli, inv, report)


def test_kill_9_mid_run_leaves_readers_working_and_next_start_sweeps(cli, tmp_path):
    first = cli("check", "--plain", "--tags", "always")
    assert first.returncode in (0, 1), first.stdout
    finished = cli.report()["run_id"]
    before = _scratch_dirs()
    proc = _start(cli, "check", "--plain", "-e", "gpu_smoke_require_gpu=false")
    seen = ""
    while "TASK [" not in seen and proc.poll() is None:
        seen += proc.stdout.readline()
    killed_scratch = _scratch_dirs() - before
    assert killed_scratch, "the run made no scratch dir"
    proc.kill()
    proc.wait()
    killed_scratch = _abandoned(killed_scratch)  # this run's, not those of runs beside it
    assert killed_scratch, "the killed run's scratch dir is gone or still held"
    runs = sorted(p for p in (cli.state / "runs").iterdir() if p.name[:1].isdigit())
    killed = runs[-1].name
    assert killed != finished and not (runs[-1] / "report.json").exists()
    # latest still names the last run that wrote a report; every reader works or says why not
    assert cli.latest().name == finished
    for args in (["report", "--plain"], ["report", "--json"], ["report", "--html", str(tmp_path / "r.html")]):
        result = cli(*args)
        assert result.returncode == first.returncode, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    for args in (["report", killed], ["report", killed, "--json"], ["report", killed, "--html"]):
        result = cli(*args)
        assert result.returncode == 2, result.stdout + result.stderr
        # with --json, stdout carries JSON only: the error goes to stderr
        said = result.stderr if "--json" in args else result.stdout
        assert f"run {killed} has no report.json" in said and "killed" in said
        assert "--json" not in args or result.stdout == ""
    json.loads(cli("report", "--json").stdout)
    # the next run sweeps the killed run's scratch dir (its extra-vars files, its SSH sockets)
    again = cli("check", "--plain", "--tags", "always")
    assert again.returncode in (0, 1), again.stdout
    assert not (killed_scratch & _scratch_dirs()), "the killed run's scratch dir was not swept"
    assert _wait_for(lambda: _processes_mentioning(killed) == [], 30), _processes_mentioning(killed)


_MANY_TASKS = "- hosts: all\n  gather_facts: false\n  tasks:\n" + "".join(
    f"    - name: stamp {i}\n      ansible.builtin.shell: date +%s.%N >> {{{{ stamp }}}}\n" for i in range(80))

_DRIVE = """
import sys
from pathlib import Path

from provisioner.state import statedir
from provisioner.plan.options import RunOptions
from provisioner.run.runner import run_playbook
root = Path(sys.argv[1])
out = run_playbook(playbook=root / "playbooks" / "many.yml", inventory=root / "hosts", host_count=1,
                   options=RunOptions(extra_vars_args=[f"stamp={root / 'stamps'}"]), run_id="run-1",
                   run_dir=root, control_dir=root / "control", events=lambda event: None)
print(out.status, out.interrupted)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_signal_stops_the_playbook_within_a_second(tmp_path, sig):
    """A playbook of many short tasks: after the signal no task starts more than 1 s later (each task
    stamps the time it started on the host)."""
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "control").mkdir()
    (tmp_path / "playbooks" / "many.yml").write_text(_MANY_TASKS)
    (tmp_path / "hosts").write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    stamps = tmp_path / "stamps"
    proc = subprocess.Popen([sys.executable, "-c", _DRIVE, str(tmp_path)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert _wait_for(lambda: (stamps.exists() and len(stamps.read_text().split()) >= 3) or proc.poll() is not None,
                     60), "no task ran"
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(sig)
    signalled = time.time()
    out, _ = proc.communicate(timeout=60)
    assert f"canceled interrupted by {sig.name}" in out, out
    started = [float(stamp) for stamp in stamps.read_text().split()]
    assert len(started) < 80, "the playbook ran to its end"
    late = [round(t - signalled, 2) for t in started if t > signalled + 1.0]
    assert late == [], f"tasks started this many seconds after {sig.name}: {late}"
