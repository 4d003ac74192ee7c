# Apache-2.0. Part of the pcie_p2p module (Ansible ships it with the module): Python 3.8+
# standard library only, it runs on targets.
"""PCIe Access Control Services (ACS) and ATS, read two ways so that one judgement serves both:

- from a function's config space (the sysfs ``config`` file: the extended capabilities start at
  0x100; a process that is not root reads only the first 64 bytes, so ACS is then "unreadable");
- from ``lspci -vvv`` text (recorded snapshots from bug reports): ``ACSCap:`` / ``ACSCtl:`` lines,
  each function's header line and, for bridges, the ``Bus: primary=, secondary=, subordinate=``
  line, from which the tree above every function is rebuilt.

Bit layout (PCIe Base Specification, ACS Extended Capability, ID 0x000D): the capability register
at cap+4 and the control register at cap+6 use the same low seven bits."""

import re
import struct

ECAP_ACS = 0x000D
ECAP_ATS = 0x000F
EXTENDED_START = 0x100
CONFIG_SPACE = 4096
ACS_BITS = (
    ("SrcValid", 0x01),
    ("TransBlk", 0x02),
    ("ReqRedir", 0x04),
    ("CmpltRedir", 0x08),
    ("UpstreamFwd", 0x10),
    ("EgressCtrl", 0x20),
    ("DirectTrans", 0x40),
)
ACS_NAMES = tuple(name for name, _bit in ACS_BITS)
ATS_ENABLE = 0x8000  # ATS Control register (cap+6), bit 15
UNREADABLE = "unreadable"


def decode_acs(value):
    """The ACS bit names set in a 16-bit capability or control value, in register order."""
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"ACS register value must be a non-negative int, got {value!r}")
    return [name for name, bit in ACS_BITS if value & bit]


def extended_capabilities(config):
    """{capability id: offset} of the PCIe extended capability list in ``config`` (bytes).

    Stops at the end of the list, at an offset outside 0x100..0xffc or not dword-aligned, at a
    repeated offset (a corrupt or looping list) and at the end of the data read."""
    caps, offset, seen = {}, EXTENDED_START, set()
    while EXTENDED_START <= offset <= CONFIG_SPACE - 4 and offset % 4 == 0 and offset not in seen:
        if offset + 4 > len(config):
            break
        seen.add(offset)
        (header,) = struct.unpack_from("<I", config, offset)
        if header in (0, 0xFFFFFFFF):
            break
        caps.setdefault(header & 0xFFFF, offset)
        offset = header >> 20
    return caps


def acs_from_config(config):
    """The ACS capability of one function from its config space bytes.

    Returns UNREADABLE when the extended space was not readable (fewer than 0x104 bytes: not
    root), None when the function has no ACS capability, else {"cap": [names], "ctl": [names]}."""
    if config is None or len(config) < EXTENDED_START + 4:
        return UNREADABLE
    offset = extended_capabilities(config).get(ECAP_ACS)
    if offset is None or offset + 8 > len(config):
        return None
    cap, ctl = struct.unpack_from("<HH", config, offset + 4)
    return {"cap": decode_acs(cap), "ctl": decode_acs(ctl)}


def ats_from_config(config):
    """{"present": bool, "enabled": bool} for ATS (extended capability 0x000F), or UNREADABLE."""
    if config is None or len(config) < EXTENDED_START + 4:
        return UNREADABLE
    offset = extended_capabilities(config).get(ECAP_ATS)
    if offset is None or offset + 8 > len(config):
        return {"present": False, "enabled": False}
    (ctl,) = struct.unpack_from("<H", config, offset + 6)
    return {"present": True, "enabled": bool(ctl & ATS_ENABLE)}


# --- lspci -vvv text --------------------------------------------------------------------------
# "lspci -PP" names a function by its path ("00:1c.4/07:00.0/08:00.0"): the last step is the function.
_HEADER = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{4,8}):)?(?:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]/)*"
    r"(?P<bus>[0-9a-fA-F]{2}):(?P<dev>[0-9a-fA-F]{2})\.(?P<fn>[0-7])\s+"
    r"(?P<desc>.*)$"
)
_CLASS_ID = re.compile(r"\[(?P<cls>[0-9a-fA-F]{4})\]:")
_IDS = re.compile(r"\[(?P<vendor>[0-9a-fA-F]{4}):(?P<device>[0-9a-fA-F]{4})\]")
_BUS = re.compile(r"Bus:\s*primary=(?P<p>[0-9a-fA-F]{2}),\s*secondary=(?P<s>[0-9a-fA-F]{2}),\s*"
                  r"subordinate=(?P<sub>[0-9a-fA-F]{2})")
_ACS_LINE = re.compile(r"^\s*(?:>\s*)?(?P<kind>ACSCap|ACSCtl):\s*(?P<bits>.*)$")
_ATS_CTL = re.compile(r"^\s*(?:>\s*)?ATSCtl:\s*Enable(?P<on>[+-])")
# NCCL troubleshooting guide's script: "setpci -v -s BDF ECAP_ACS+0x6.w" prints
# "0000:00:07.1 (ecap 000d @2a0) @2a6 0000" (the control register's value).
_SETPCI = re.compile(r"^\s*(?P<bdf>\S+) \(ecap 000d @(?P<cap>[0-9a-fA-F]+)\) "
                     r"@(?P<reg>[0-9a-fA-F]+) (?P<val>[0-9a-fA-F]{4})\s*$")
_DRIVER = re.compile(r"^\s*(?:>\s*)?Kernel driver in use:\s*(?P<drv>\S+)")
# "Capabilities: [68] Express (v2) Downstream Port (Slot+), MSI 00": the PCIe port type. A snapshot
# whose topmost recorded bridge is a switch port was cut above it (the root port is not in it).
_PORT_TYPE = re.compile(r"Express \(v\d+\) (?P<type>Root Port|Upstream Port|Downstream Port)\b")
SWITCH_PORTS = ("Upstream Port", "Downstream Port")
_CLASS_WORDS = (("3D controller", "0302"), ("VGA compatible controller", "0300"),
                ("Infiniband controller", "0207"), ("Ethernet controller", "0200"),
                ("Network controller", "0280"), ("PCI bridge", "0604"), ("Host bridge", "0600"))


def parse_acs_bits(text):
    """{name: bool} from 'SrcValid+ TransBlk- ...' (tabs, wrapping and stray text tolerated).
    Raises ValueError when one of the seven names is missing (a truncated or foreign line)."""
    found = dict(re.findall(r"(SrcValid|TransBlk|ReqRedir|CmpltRedir|UpstreamFwd|EgressCtrl|DirectTrans)([+-])",
                            text or ""))
    missing = [name for name in ACS_NAMES if name not in found]
    if missing:
        raise ValueError("ACS line lacks {}: {!r}".format(", ".join(missing), text))
    return [name for name in ACS_NAMES if found[name] == "+"]


def _class_of(desc):
    match = _CLASS_ID.search(desc)
    if match:
        return match.group("cls").lower()
    return next((code for words, code in _CLASS_WORDS if desc.startswith(words)), "")


def _new_function(match):
    desc = match.group("desc")
    ids = _IDS.search(desc)
    bdf = "{}:{}:{}.{}".format((match.group("domain") or "0000").lower().rjust(4, "0"),
                               match.group("bus").lower(), match.group("dev").lower(), match.group("fn"))
    return {"bdf": bdf, "desc": desc, "class": _class_of(desc), "vendor": ids.group("vendor").lower() if ids else "",
            "device": ids.group("device").lower() if ids else "", "bus_range": None, "acs": None,
            "ats": None, "driver": None, "caps_denied": False, "port_type": None}


def _apply_line(func, line):
    """Record what one indented line of a function's block says."""
    bus = _BUS.search(line)
    if bus:
        func["bus_range"] = (int(bus.group("p"), 16), int(bus.group("s"), 16), int(bus.group("sub"), 16))
        return
    acs = _ACS_LINE.match(line)
    if acs:
        func["acs"] = func["acs"] or {"cap": None, "ctl": None}
        func["acs"]["cap" if acs.group("kind") == "ACSCap" else "ctl"] = parse_acs_bits(acs.group("bits"))
        return
    ats = _ATS_CTL.match(line)
    if ats:
        func["ats"] = {"present": True, "enabled": ats.group("on") == "+"}
        return
    port = _PORT_TYPE.search(line)
    if port:
        func["port_type"] = port.group("type")
        return
    if "Capabilities: <access denied>" in line:
        func["caps_denied"] = True
        return
    drv = _DRIVER.match(line)
    if drv:
        func["driver"] = drv.group("drv")


def _join_wrapped(text):
    """Undo a forum's or a mailer's line wrapping inside ACS lines ('UpstreamFwd+ \\nEgressCtrl- ...'),
    also where the continuation carries the mail quote prefix ('> > UpstreamFwd+ ...')."""
    return re.sub(r"(ACSC(?:ap|tl):[^\n]*?)\s*\n[>\s]*(?=(?:EgressCtrl|DirectTrans|UpstreamFwd)[+-])", r"\1 ", text)


def parse_lspci(text):
    """``lspci -vvv`` text as {"functions": [...], "orphan_acs": [...]}.

    functions: one dict per function header (bdf, desc, class, vendor, device, bus_range for
    bridges, acs {"cap", "ctl"} or None, ats, driver, port_type: "Root Port" / "Upstream Port" /
    "Downstream Port" from the Express capability line, or None). orphan_acs: ACSCtl bit lists met before any
    header (output of ``lspci -vvv | grep ACSCtl``: the bridge is not known), repeated ACSCtl lines
    within one function's block (the same grep output pasted below a listing) and control values
    printed by ``setpci -v ECAP_ACS+0x6.w`` (bridge named, its place unknown). Lines may carry
    a mail-style '> ' quote prefix. Raises ValueError on empty input."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty lspci text")
    functions, orphans, current = [], [], None
    for raw in _join_wrapped(text.replace("\r\n", "\n")).splitlines():
        line = re.sub(r"^>\s?", "", raw)
        setpci = _SETPCI.match(line)
        if setpci and int(setpci.group("reg"), 16) == int(setpci.group("cap"), 16) + 6:
            orphans.append(decode_acs(int(setpci.group("val"), 16)))
            continue
        header = _HEADER.match(line)
        if header and not line[:1].isspace():
            current = _new_function(header)
            functions.append(current)
            continue
        acs = _ACS_LINE.match(line)
        if current is None or (acs and current["acs"] and current["acs"]["ctl"] is not None):
            # Before any header, or a second ACSCtl in one block (grep output pasted below a
            # listing): the bridge is not known, so the line cannot be attributed.
            if acs and acs.group("kind") == "ACSCtl":
                orphans.append(parse_acs_bits(acs.group("bits")))
            continue
        _apply_line(current, line)
    return {"functions": functions, "orphan_acs": orphans}
