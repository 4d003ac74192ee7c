"""bench/results/ is the lab notebook's current page, not its archive.

Every file there must be cited by bench/README.md or a page of docs/ (a name, or a `*` pattern
such as `gpu_smoke_faults_*_h100_2026-12-06.json`), every literal citation must name a file that
is there, and the folder stays under a size cap so raw dumps do not inflate the repository
(superseded results live in git history: bench/README.md, "Results").
"""

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
SIZE_CAP_BYTES = 300 * 1024
CITATION = re.compile(r"results/([A-Za-z0-9_.*-]+\.(?:json|txt))")


def _citing_pages() -> list[Path]:
    return [ROOT / "bench" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _citations() -> set[str]:
    found: set[str] = set()
    for page in _citing_pages():
        found.update(CITATION.findall(page.read_text(encoding="utf-8")))
    return found


def _result_files() -> list[Path]:
    return sorted(p for p in RESULTS.iterdir() if p.is_file())


def test_the_pattern_reads_plain_and_wildcard_citations():
    text = "raw: `bench/results/a_1.json` and `results/b_*_h100.json`; not `results.json`"
    assert CITATION.findall(text) == ["a_1.json", "b_*_h100.json"]


def test_every_result_file_is_cited():
    citations = _citations()
    uncited = [
        p.name
        for p in _result_files()
        if not any(fnmatch.fnmatchcase(p.name, cited) for cited in citations)
    ]
    assert not uncited, (
        f"bench/results/ files cited by no table in bench/README.md or docs/: {uncited}; "
        "cite them or delete them (git history keeps them)"
    )


def test_every_citation_names_a_file_that_is_there():
    present = {p.name for p in _result_files()}
    missing = sorted(
        cited
        for cited in _citations()
        if not any(fnmatch.fnmatchcase(name, cited) for name in present)
    )
    assert not missing, f"cited in bench/README.md or docs/ but not in bench/results/: {missing}"


def test_results_stay_under_the_size_cap():
    total = sum(p.stat().st_size for p in _result_files())
    assert total <= SIZE_CAP_BYTES, (
        f"bench/results/ holds {total} bytes, over the {SIZE_CAP_BYTES} cap: "
        "keep summaries and per-run figures, not raw dumps"
    )
