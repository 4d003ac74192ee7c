"""The recorded ACS snapshots of tests/fixtures/acs (sources and expected verdicts in its README),
judged with the same code as a live host: 0 false passes."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.module_utils.p2p_verdict import judge
from ansible_collections.autoglm.provision.plugins.module_utils.pcie_paths import from_lspci

CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "acs"
ROW = re.compile(r"^\| (?P<file>[\w.-]+\.txt(?:\.gz)?) \| (?P<expected>[A-Z_]+) \| (?P<source>https://\S+)")


def expectations() -> dict[str, tuple[str, str]]:
    rows = (ROW.match(line) for line in (CORPUS / "README.md").read_text(encoding="utf-8").splitlines())
    return {m["file"]: (m["expected"], m["source"]) for m in rows if m}


def read(name: str) -> str:
    path = CORPUS / name
    return gzip.decompress(path.read_bytes()).decode() if name.endswith(".gz") else path.read_text(encoding="utf-8")


def test_every_snapshot_has_a_source_and_an_expected_verdict():
    files = sorted(p.name for p in (*CORPUS.glob("*.txt"), *CORPUS.glob("*.txt.gz")))
    assert files and files == sorted(expectations())
    stated = re.search(r"\*\*Count: (\d+) snapshots", (CORPUS / "README.md").read_text(encoding="utf-8"))
    assert stated and int(stated.group(1)) == len(files), "the README's count is out of date"
    assert len(files) >= 30, "issue #30 asks for a corpus of at least 30 real snapshots"


@pytest.mark.parametrize("name", sorted(expectations()))
def test_snapshot_verdict(name):
    expected, source = expectations()[name]
    result = judge(from_lspci(read(name)), require_p2p=True)
    assert result["verdict"] == expected, (source, result["cause"], result["evidence"][-3:])
    if expected == "FAIL":
        assert result["remediation"] and result["cause"] == "acs_redirect"


def test_no_false_pass():
    passed = [name for name, (expected, _) in expectations().items() if expected != "PASS"
              and judge(from_lspci(read(name)), require_p2p=True)["verdict"] == "PASS"]
    assert passed == []
