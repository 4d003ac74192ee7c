"""The changelog (issue #28 item 10), the antsibull-changelog convention: each user-visible change
adds ``changelogs/fragments/<name>.yml``, a mapping of the sections of ``changelogs/config.yaml`` to
lists of entries; a release folds them into ``changelogs/changelog.yaml`` and generates the one
``CHANGELOG.md`` (docs/development.md, Release), tagged ``v<version>``. antsibull-changelog is not a
dependency (ansible-test sanity's ``changelog`` test runs ``antsibull-changelog lint`` in its own
venv): this test checks the shape lint checks, so a bad fragment fails here, not at release, and that
``CHANGELOG.md`` says what ``changelog.yaml`` holds."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from provisioner import paths

CHANGELOGS = paths.COLLECTION / "changelogs"
CONFIG = yaml.safe_load((CHANGELOGS / "config.yaml").read_text(encoding="utf-8"))
FRAGMENTS = sorted(p for p in (CHANGELOGS / CONFIG["notesdir"]).iterdir() if p.name != ".keep")
RELEASES = yaml.safe_load((CHANGELOGS / CONFIG["changes_file"]).read_text(encoding="utf-8"))["releases"]
VERSION = tomllib.loads((paths.COLLECTION / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"] \
    if (paths.COLLECTION / "pyproject.toml").is_file() else yaml.safe_load(
        (paths.COLLECTION / "galaxy.yml").read_text(encoding="utf-8"))["version"]


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


def test_the_version_is_released_or_newer_than_every_release():
    assert RELEASES, "changelogs/changelog.yaml: no release"
    latest = max(RELEASES, key=Version)
    assert Version(VERSION) >= Version(latest), f"version {VERSION} is older than the released {latest}"
    assert all(release.get("release_date") for release in RELEASES.values())


def _plain(text: str) -> str:
    """Text without markup, to compare rst entries with the Markdown antsibull writes from them."""
    text = re.sub(r"</?code>|``|<a [^>]*>|</a>", "", text)
    return " ".join(re.sub(r"\\(.)", r"\1", text).split())


def test_changelog_md_is_generated_from_changelog_yaml():
    markdown = (paths.COLLECTION / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## v(.+)$", markdown, flags=re.M)
    assert sorted(_plain(h) for h in headings) == sorted(RELEASES), (
        "CHANGELOG.md's releases differ from changelogs/changelog.yaml: run antsibull-changelog generate")
    plain = _plain(markdown)
    for version, release in RELEASES.items():
        for section, entries in release.get("changes", {}).items():
            for entry in [entries] if isinstance(entries, str) else entries:
                assert _plain(entry) in plain, f"{version} {section}: not in CHANGELOG.md: {entry[:80]}"


def release_tag_problems(repo: Path) -> list[str]:
    """Each tag v<version> must tag a commit whose pyproject.toml has that version."""
    git = ["git", "-C", str(repo)]
    if subprocess.run([*git, "rev-parse", "--git-dir"], capture_output=True, check=False).returncode:
        return []  # not a git checkout (an unpacked sdist): no tags to check
    found = []
    for tag in subprocess.run([*git, "tag", "--list", "v*"], capture_output=True, text=True, check=True).stdout.split():
        shown = subprocess.run([*git, "show", f"{tag}:pyproject.toml"], capture_output=True, text=True, check=False)
        version = tomllib.loads(shown.stdout)["project"]["version"] if shown.returncode == 0 else None
        if tag != f"v{version}":
            found.append(f"tag {tag}: the commit's pyproject.toml has version {version}")
    return found


def test_release_tags_name_the_version_they_tag():
    assert release_tag_problems(paths.COLLECTION) == []


def test_a_release_tag_on_another_version_is_found(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "0.2.0"\n')
    subprocess.run([*git, "add", "pyproject.toml"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    subprocess.run([*git, "tag", "v0.2.0"], check=True)
    assert release_tag_problems(tmp_path) == []
    subprocess.run([*git, "tag", "v0.3.0"], check=True)
    assert release_tag_problems(tmp_path) == ["tag v0.3.0: the commit's pyproject.toml has version 0.2.0"]


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
