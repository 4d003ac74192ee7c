"""A time bound below the size bound (issue #29): an inventory or ``-e @file`` under the 8 MiB limit
that takes longer to read than the parse deadline is stopped there, named, and nothing is run.

Reproduced on main (9579a6c): there was no deadline at all. An inventory under the size limit was
parsed however long that took (8 MiB of YAML, 170,928 hosts: 130 s and 770 MB on the CI machine), and
``--parse-timeout`` did not exist (argparse refused it, so no message named the file, its elapsed time
or the limit). Each test here generates a big inventory (or -e file) that takes seconds to read and
gives the CLI a deadline of a fraction of a second, so the test is fast and the stop is visible: the
CLI exits 2 well before the full parse would have ended."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from provisioner.plan import deadline

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

ROOT = Path(__file__).resolve().parents[3]
HOSTS = 30_000  # 1.3 MB of YAML: about 4 s of CPU to read and validate on the CI machine


def _big_inventory(path: Path, hosts: int = HOSTS) -> Path:
    lines = ["all:", "  hosts:"]
    lines += [f"    node{i:06d}: {{ansible_host: 10.{i // 65536}.{i // 256 % 256}.{i % 256}}}" for i in range(hosts)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _cli(tmp_path: Path, *args: str) -> tuple[int, str, float]:
    env = {**os.environ, "AUTOGLM_PROVISION_STATE": str(tmp_path / "state")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "provisioner.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def _stopped_after(out: str) -> float:
    found = re.search(r"stopped after ([0-9.]+) s \(limit ([0-9.]+) s", out)
    assert found, out
    return float(found.group(1))


def test_validate_stops_a_slow_inventory_at_the_deadline_naming_file_time_limit_and_fix(tmp_path):
    inventory = _big_inventory(tmp_path / "hosts.yml")
    rc, out, _ = _cli(tmp_path, "validate", str(inventory), "--parse-timeout", "0.5")
    assert rc == 2, out
    assert f"reading the inventory {inventory}" in out, out
    assert "(limit 0.5 s)" in out and "--parse-timeout SECONDS" in out and "split the inventory" in out, out
    assert "nothing was run" in out and "Traceback" not in out, out
    assert _stopped_after(out) < 4, "the deadline did not stop the parse near its limit"


def test_a_run_stopped_by_the_deadline_writes_no_run_directory(tmp_path):
    inventory = _big_inventory(tmp_path / "hosts.yml")
    rc, out, _ = _cli(tmp_path, "site", str(inventory), "--parse-timeout", "0.5", "--plain")
    assert rc == 2, out
    assert f"reading the inventory {inventory}" in out and "nothing was run" in out, out
    runs = tmp_path / "state" / "runs"
    assert not runs.exists() or not any(runs.iterdir()), list(runs.iterdir())


def test_an_extra_vars_file_is_under_the_same_deadline_and_named(tmp_path):
    small = tmp_path / "hosts.ini"
    small.write_text("node ansible_connection=local\n")
    extra = tmp_path / "vars.yml"
    extra.write_text("big:\n" + "".join(f"  key{i}: [{i}, {i + 1}, {{a: {i}}}]\n" for i in range(150_000)))
    rc, out, _ = _cli(tmp_path, "smoke", str(small), "-e", f"@{extra}", "--parse-timeout", "1.5", "--plain")
    assert rc == 2, out
    assert f"reading -e @{extra}" in out and "(limit 1.5 s)" in out, out


def test_the_default_deadline_lets_a_10000_host_inventory_through(tmp_path):
    inventory = _big_inventory(tmp_path / "hosts.yml", 10_000)
    rc, out, _ = _cli(tmp_path, "validate", str(inventory))
    assert rc == 0, out
    assert deadline.DEFAULT_PARSE_TIMEOUT_S == 60


def test_a_deadline_swallowed_by_a_broad_handler_still_stops_the_read():
    """Ansible wraps each inventory plugin in ``except Exception``, which the deadline (a BaseException)
    passes through; and it repeats until the bounded block ends, so even a handler that swallows it
    once cannot let the read run on."""
    swallowed: list[BaseException] = []

    def plugin_loop() -> None:
        while True:
            try:
                time.sleep(0.05)
            except BaseException as exc:  # a handler that takes even the deadline, once
                if swallowed:
                    raise
                swallowed.append(exc)

    with pytest.raises(deadline.ParseTimeoutError) as stopped, deadline.bounded(0.2), \
            deadline.reading("the inventory x.yml"):
        plugin_loop()
    assert len(swallowed) == 1
    assert "reading the inventory x.yml" in str(stopped.value) and "(limit 0.2 s)" in str(stopped.value)
