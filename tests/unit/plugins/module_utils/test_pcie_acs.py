"""pcie_acs: the ACS / ATS readers over config space bytes and lspci -vvv text."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.module_utils import pcie_acs

from tests.fixtures.pcie_tree import Fn, config


def test_decode_every_bit_in_register_order():
    assert pcie_acs.decode_acs(0x7F) == list(pcie_acs.ACS_NAMES)
    assert pcie_acs.decode_acs(0x0C) == ["ReqRedir", "CmpltRedir"]
    with pytest.raises(ValueError, match="non-negative int"):
        pcie_acs.decode_acs(-1)


def test_acs_and_ats_from_config_space():
    """A switch port with ACS at 0x148 behind AER (the list is walked, not searched)."""
    data = config(Fn("0000:02:00.0", None, acs_ctl=0x1D, ats=True))
    assert pcie_acs.extended_capabilities(data) == {0x0001: 0x100, 0x000D: 0x148, 0x000F: 0x1B0}
    acs = pcie_acs.acs_from_config(data)
    assert acs["ctl"] == ["SrcValid", "ReqRedir", "CmpltRedir", "UpstreamFwd"]
    assert "DirectTrans" in acs["cap"]
    assert pcie_acs.ats_from_config(data) == {"present": True, "enabled": True}


def test_no_acs_capability_is_none_and_short_config_is_unreadable():
    assert pcie_acs.acs_from_config(config(Fn("0000:01:00.0", None, acs_ctl=None))) is None
    assert pcie_acs.ats_from_config(config(Fn("0000:01:00.0", None))) == {"present": False, "enabled": False}
    short = config(Fn("0000:01:00.0", None, acs_ctl=0x1D, short_config=True))
    assert pcie_acs.acs_from_config(short) == pcie_acs.UNREADABLE
    assert pcie_acs.acs_from_config(None) == pcie_acs.UNREADABLE
    assert pcie_acs.ats_from_config(short) == pcie_acs.UNREADABLE


def test_looping_or_corrupt_capability_list_terminates():
    data = bytearray(4096)
    struct.pack_into("<I", data, 0x100, 0x0001 | (1 << 16) | (0x100 << 20))  # points at itself
    assert pcie_acs.extended_capabilities(bytes(data)) == {0x0001: 0x100}
    struct.pack_into("<I", data, 0x100, 0x0001 | (1 << 16) | (0x102 << 20))  # misaligned next
    assert pcie_acs.extended_capabilities(bytes(data)) == {0x0001: 0x100}
    assert pcie_acs.extended_capabilities(b"\xff" * 4096) == {}


LSPCI = """\
00:01.0 PCI bridge [0604]: Intel Corporation Device [8086:347a] (rev 04) (prog-if 00 [Normal decode])
\tBus: primary=00, secondary=01, subordinate=03, sec-latency=0
\tCapabilities: [148 v1] Access Control Services
\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-
\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-
\tKernel driver in use: pcieport

01:00.0 PCI bridge [0604]: PLX Technology, Inc. PEX 8747 [10b5:8747] (rev ca)
\tBus: primary=01, secondary=02, subordinate=03, sec-latency=0
\tCapabilities: <access denied>

03:00.0 3D controller [0302]: NVIDIA Corporation GH100 [H100 PCIe] [10de:2331] (rev a1)
\tKernel driver in use: nvidia
"""


def test_parse_lspci_functions_bus_ranges_and_bits():
    parsed = pcie_acs.parse_lspci(LSPCI)
    root, plx, gpu = parsed["functions"]
    assert root["bdf"] == "0000:00:01.0" and root["bus_range"] == (0, 1, 3) and root["class"] == "0604"
    assert root["acs"]["ctl"] == ["SrcValid", "ReqRedir", "CmpltRedir", "UpstreamFwd"]
    assert plx["caps_denied"] and plx["acs"] is None
    assert (gpu["vendor"], gpu["device"], gpu["class"], gpu["driver"]) == ("10de", "2331", "0302", "nvidia")
    assert parsed["orphan_acs"] == []


def test_parse_grep_only_output_quoted_and_wrapped():
    text = ("> \t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ \n"
            "EgressCtrl- DirectTrans-\n  ACSCtl: SrcValid- TransBlk- ReqRedir- CmpltRedir- UpstreamFwd- "
            "EgressCtrl- DirectTrans-\n")
    assert pcie_acs.parse_lspci(text)["orphan_acs"] == [["SrcValid", "ReqRedir", "CmpltRedir", "UpstreamFwd"], []]


@pytest.mark.parametrize("text,match", [("", "empty"), ("   \n", "empty"),
                                        ("ACSCtl: SrcValid+ TransBlk-\n", "lacks ReqRedir")])
def test_bad_lspci_input_is_a_clear_error(text, match):
    with pytest.raises(ValueError, match=match):
        pcie_acs.parse_lspci(text)


CONFIG_DUMPS = Path(__file__).resolve().parents[3] / "fixtures" / "acs" / "config"
HEX = re.compile(r"^(?P<off>[0-9a-f]{2,3}): (?P<bytes>(?:[0-9a-f]{2} ){15}[0-9a-f]{2})\s*$")


def dump_functions(text: str) -> list[tuple[dict, bytes]]:
    """(parsed function, config bytes) per function of an ``lspci -vvvxxxx`` dump."""
    out, blocks, current = [], [], []
    for line in text.splitlines():
        if line and not line[0].isspace() and not HEX.match(line) and current:
            blocks.append(current)
            current = []
        current.append(line)
    blocks.append(current)
    for block in blocks:
        data = bytearray()
        for line in block:
            match = HEX.match(line)
            if match and int(match["off"], 16) == len(data):
                data += bytes.fromhex(match["bytes"])
        parsed = pcie_acs.parse_lspci("\n".join(line for line in block if not HEX.match(line)))
        out.extend((func, bytes(data)) for func in parsed["functions"][:1])
    return out


def test_config_space_reader_agrees_with_lspci_on_real_dumps():
    """pciutils' own test dumps (lspci -vvvxxxx of real devices, tests/fixtures/acs/README.md):
    the ACS bits read from the hex config space equal what lspci decoded from it."""
    checked = 0
    for path in sorted(CONFIG_DUMPS.glob("*.txt")):
        for func, data in dump_functions(path.read_text()):
            if func["acs"] and len(data) > 0x100:
                assert pcie_acs.acs_from_config(data) == func["acs"], (path.name, func["bdf"])
                checked += 1
    assert checked == 9  # cap-dpc holds only 256 bytes of hex: its ACS cannot be read back
