"""Changelog fragments (issue #28 item 10), the antsibull-changelog convention: each user-visible
change adds ``changelogs/fragments/<name>.yml`` to the collection, a mapping of the sections of
``changelogs/config.yaml`` to lists of entries. antsibull-changelog is not a dependency: this test
checks the shape ``antsibull-changelog lint`` checks, so a bad fragment fails here, not at release."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from provisioner import paths

CHANGELOGS = paths.COLLECTION / "changelogs"
CONFIG = yaml.safe_load((CHANGELOGS / "config.yaml").read_text(encoding="utf-8"))
FRAGMENTS = sorted((CHANGELOGS / CONFIG["notesdir"]).iterdir())


def problems(text: str, config: dict = CONFIG) -> list[str]:
    """What antsibull-changelog would refuse in a fragment's text (empty: a good fragment)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [f"not YAML: {exc}"]
    if not isinstance(data, dict) or not data:
        return ["not a mapping of sections to entries"]
    known = {key for key, _ in config["sections"]} | {config["trivial_section_name"]}
    found = []
    for section, entries in data.items():
        if section == config["prelude_section_name"]:
            if not isinstance(entries, str) or not entries.strip():
                found.append(f"{section}: must be a non-empty string")
        elif section not in known:
            found.append(f"unknown section {section!r} (known: {', '.join(sorted(known))})")
        elif not isinstance(entries, list) or not entries:
            found.append(f"{section}: must be a non-empty list of entries")
        else:
            found += [f"{section}: entry {i + 1} must be a non-empty string" for i, entry in enumerate(entries)
                      if not isinstance(entry, str) or not entry.strip()]
    return found


def test_config_names_the_standard_sections():
    keys = [key for key, _ in CONFIG["sections"]]
    assert {"major_changes", "minor_changes", "breaking_changes", "bugfixes", "security_fixes"} <= set(keys)
    assert all(isinstance(title, str) and title for _, title in CONFIG["sections"])
    assert CONFIG["changelog_filename_template"] == "../CHANGELOG.md" and (paths.COLLECTION / "CHANGELOG.md").is_file()


def test_there_are_fragments():
    assert FRAGMENTS, "no fragment in changelogs/fragments/"


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=lambda p: p.name)
def test_each_fragment_has_the_shape_antsibull_changelog_reads(fragment: Path):
    assert fragment.suffix in (".yml", ".yaml"), f"{fragment.name}: a fragment is a .yml file"
    assert problems(fragment.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("bugfixes: just a string\n", "must be a non-empty list"),
    ("minor_change:\n  - typo in the section\n", "unknown section 'minor_change'"),
    ("bugfixes:\n  - ''\n", "entry 1 must be a non-empty string"),
    ("- a list\n", "not a mapping"),
    ("bugfixes: [\n", "not YAML"),
    ("release_summary: []\n", "must be a non-empty string"),
])
def test_bad_fragments_are_refused(text, expected):
    assert any(expected in p for p in problems(text)), problems(text)
