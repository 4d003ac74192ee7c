"""bios_check's files/autoglm-acs-clear.sh (the opt-in boot unit's script) over a sysfs tree built
by tests/fixtures/pcie_tree, with a setpci stand-in that records its calls: it clears the judged
bits with a masked write on each bridge above a GPU or RDMA NIC, once, and nothing else."""

from __future__ import annotations

import os
import subprocess

from provisioner import paths
from tests.fixtures.pcie_tree import RR_CR_SV_UF, Fn, switch_host

SCRIPT = paths.ROLES / "bios_check" / "files" / "autoglm-acs-clear.sh"
FAKE_SETPCI = """#!/bin/sh
echo "$*" >> "$SETPCI_LOG"
case "$*" in *=*) ;; *) echo 001d ;; esac
"""


def test_clears_redirect_on_every_bridge_above_gpus_and_nics_once(tmp_path):
    extra = [Fn("0000:00:1c.0", None, "0x8086", "0x7a38", acs_ctl=RR_CR_SV_UF),  # a root port with no GPU below
             Fn("0000:0a:00.0", "0000:00:1c.0", "0x8086", "0x125c", "0x020000")]  # an Intel NIC (not RDMA)
    root = switch_host(tmp_path / "tree", acs_ctl=RR_CR_SV_UF, extra=extra)
    fake = tmp_path / "setpci"
    fake.write_text(FAKE_SETPCI)
    fake.chmod(0o755)
    log = tmp_path / "calls"
    env = dict(os.environ, AUTOGLM_SYSFS=str(root / "sys"), SETPCI=str(fake), SETPCI_LOG=str(log))
    out = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=True)
    writes = [line for line in log.read_text().splitlines() if "=" in line]
    bridges = ["0000:02:00.0", "0000:01:00.0", "0000:00:01.0", "0000:02:01.0", "0000:02:02.0"]
    assert writes == [f"-s {bdf} ECAP_ACS+0x6.w=0000:000d" for bdf in bridges]
    assert "0000:00:1c.0" not in log.read_text()
    assert out.stdout.count("autoglm-acs-clear: ") == len(bridges)
