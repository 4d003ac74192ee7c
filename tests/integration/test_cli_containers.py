"""The real CLI provisioning a podman container end to end, next to an unreachable host."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from provisioner.run import scratch
from provisioner.state import statedir

from .conftest import CLI, ROOT, needs_podman, podman_host, write_inventory

pytestmark = [needs_podman]


def test_site_on_container_with_unreachable_neighbour(cli, container, tmp_path):
    inv = write_inventory(tmp_path / "hosts.yml", {
        container: podman_host(container),
        # Nothing listens on port 9 here: connection refused, the classic unreachable host.
        "dead.example": {"ansible_host": "127.0.0.1", "ansible_port": 9},
    })
    result = cli("site", str(inv), "--plain", "-e", "site_marker=1")
    report = cli.report()
    hosts = report["hosts"]
    assert hosts["dead.example"]["status"] == "unreachable", result.stdout
    assert hosts["dead.example"]["failures"][0]["kind"] == "unreachable"
    assert "refused" in hosts["dead.example"]["failures"][0]["message"].lower()
    container_host = hosts[container]
    assert container_host["facts"]["host"]["virtualization"].endswith(("podman", "container", "docker"))
    if container_host["status"] == "ok":
        assert result.returncode == 4 and report["exit_code"] == 4
    else:  # a role failed on the container: exit 1 wins over unreachable, and says why
        assert result.returncode == 1 and container_host["failures"], result.stdout
    assert "UNREACHABLE dead.example" in result.stdout


def test_sigint_cancels_cleanly_and_writes_partial_report(cli, container, tmp_path):
    inv = write_inventory(tmp_path / "hosts.yml", {container: podman_host(container)})
    scratch_before = set(scratch.root().glob(f"{scratch.PREFIX}*"))
    proc = subprocess.Popen([*CLI, "site", str(inv), "--plain"], cwd=ROOT, env=cli.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = ""
    deadline = time.monotonic() + 120
    while "TASK [" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + out
    report = cli.report()
    assert report["interrupted"] is True and report["status"] == "interrupted"
    assert "interrupted" in out.lower()
    run_dir = str(cli.latest())
    time.sleep(0.5)
    leftovers = subprocess.run(["pgrep", "-af", run_dir], capture_output=True, text=True).stdout
    assert not [line for line in leftovers.splitlines() if str(os.getpid()) not in line], leftovers
    # ansible-playbook's command line names the run's scratch dir (its extra-vars files): no process
    # of the run may outlive it, and the dir itself is gone
    # (Concurrent runs on this machine hold scratch dirs of their own: only an unheld new dir, or a
    # process naming a scratch dir that is gone, is this run's leftover.)
    new = set(scratch.root().glob(f"{scratch.PREFIX}*")) - scratch_before
    assert {d for d in new if not statedir.lock_held(d / scratch.LOCK)} == set(), new
    leftovers = subprocess.run(["pgrep", "-af", str(scratch.root() / scratch.PREFIX)], capture_output=True,
                               text=True).stdout
    named = re.compile(re.escape(str(scratch.root() / scratch.PREFIX)) + r"[^/\s]+")
    orphans = [line for line in leftovers.splitlines() if str(os.getpid()) not in line
               and any(not Path(m).exists() for m in named.findall(line))]
    assert not orphans, leftovers
    assert report["hosts"][container]["status"] == "interrupted"
    # `always`: the quickest retry (site.yml has no always-tagged task); a tag site.yml lacks is an input error.
    retry = cli("site", str(inv), "--plain", "--retry-failed", "--tags", "always")
    assert f"retrying 1 host(s) from run {report['run_id']}: {container}" in retry.stdout, retry.stdout
