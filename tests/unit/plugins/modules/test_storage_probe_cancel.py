"""The preflight storage read test leaves no file behind: a cancelled probe (SIGTERM/SIGHUP/SIGINT)
removes its test file, and a file left by a probe killed outright is removed by the next probe."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.modules import autoglm_storage_probe as probe_mod

MODULE = Path(probe_mod.__file__)


def test_stale_files_of_dead_probes_are_removed_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{probe_mod.TEST_FILE_PREFIX}{dead.pid}"
    live = tmp_path / f"{probe_mod.TEST_FILE_PREFIX}{os.getpid()}"
    other = tmp_path / "data.bin"
    for path in (stale, live, other):
        path.write_bytes(b"x")
    assert probe_mod.remove_stale_test_files(str(tmp_path)) == [str(stale)]
    assert not stale.exists() and live.exists() and other.exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_cancelled_probe_removes_its_test_file(tmp_path, sig):
    script = (f"import importlib.util, sys\n"
              f"spec = importlib.util.spec_from_file_location('p', {str(MODULE)!r})\n"
              "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
              "m.CHUNK = 64 * 1024\n"  # many small writes: the signal lands mid-write
              f"print(m.probe({str(tmp_path)!r}, True, 4096))\n")
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(f"{probe_mod.TEST_FILE_PREFIX}*")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(tmp_path.glob(f"{probe_mod.TEST_FILE_PREFIX}*")), "the probe never started its test file"
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 128 + sig
    assert list(tmp_path.glob(f"{probe_mod.TEST_FILE_PREFIX}*")) == []
