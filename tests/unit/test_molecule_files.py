"""Every Molecule scenario file parses as YAML. ansible-lint covers the collection, not molecule/;
an assertion written as a plain scalar with ': ' in it (``is match('auto: ')``) once broke the
nvidia scenario's verify step, which no unit test had read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "molecule").glob("*/*.yml"))


def test_the_scenarios_are_found():
    assert any(p.parent.name == "nvidia" and p.name == "verify.yml" for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_scenario_file_parses(path):
    yaml.safe_load(path.read_text())
