"""Validation against a small roles tree the test writes (its own argument_specs), so the
assertions do not move when the real roles gain variables; one test runs the real roles too."""

import time
from pathlib import Path

import pytest

from provisioner import specs
from provisioner.plan.validate import validate

SPEC = """argument_specs:
  main:
    options:
      demo_branch: {type: str, choices: ["535", "550"], default: "535", description: Driver branch}
      demo_count: {type: int, default: 1, description: How many}
      demo_enabled: {type: bool, default: true, description: On or off}
      demo_features: {type: list, elements: str, choices: [a, b], default: [a], description: Features}
"""


@pytest.fixture
def roles(tmp_path: Path) -> Path:
    root = tmp_path / "roles"
    (root / "demo" / "meta").mkdir(parents=True)
    (root / "demo" / "defaults").mkdir()
    (root / "demo" / "meta" / "argument_specs.yml").write_text(SPEC)
    (root / "demo" / "defaults" / "main.yml").write_text("demo_branch: '535'\ndemo_count: 1\n")
    specs.load_specs.cache_clear()
    specs.role_defaults.cache_clear()
    return root


def inventory(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    return path


def test_types_choices_and_lenient_conversions(tmp_path, roles):
    path = inventory(tmp_path, """all:
  hosts:
    a.example: {demo_count: "8", demo_enabled: "yes", demo_branch: 550}
    b.example: {demo_count: many, demo_enabled: maybe, demo_branch: "470", demo_features: [a, z]}
""")
    result = validate(path, roles_dir=roles)
    rendered = [p.render() for p in result.errors]
    assert len(rendered) == 4, rendered
    assert any(f"{path}:4" in r and "demo_count" in r and "'many' is not an integer" in r for r in rendered)
    assert any("'maybe' is not true or false" in r for r in rendered)
    assert any("'470' is not one of '535', '550'" in r and "host b.example" in r for r in rendered)
    assert any("item 'z' is not one of 'a', 'b'" in r for r in rendered)


def test_typo_of_known_variable_gets_did_you_mean(tmp_path, roles):
    path = inventory(tmp_path, "all:\n  vars:\n    demo_brnch: '550'\n    site_note: hi\n  hosts:\n    a.example:\n")
    result = validate(path, roles_dir=roles)
    assert [p.variable for p in result.errors] == ["demo_brnch"]
    assert "did you mean 'demo_branch'?" in result.errors[0].message
    assert result.errors[0].line == 3


def test_extra_vars_are_validated_too(tmp_path, roles):
    path = inventory(tmp_path, "all:\n  hosts:\n    a.example:\n")
    extra = tmp_path / "extra.yml"
    extra.write_text("demo_count: 2\ndemo_enabled: [1]\n")
    result = validate(path, ["demo_features=x", f"@{extra}", "{demo_branch: '550'}", "novalue"], roles_dir=roles)
    text = "\n".join(p.render() for p in result.errors)
    assert "(command line -e)" in text and "'x' is not a list of str" in text
    assert f"{extra}:2" in text and "demo_enabled" in text
    assert "'novalue' is not key=value" in text


def test_templated_and_vaulted_values_are_left_to_ansible(tmp_path, roles):
    path = inventory(tmp_path, """all:
  vars:
    demo_count: "{{ lookup('env', 'COUNT') }}"
    demo_branch: !vault |
      $ANSIBLE_VAULT;1.1;AES256
      6237
  hosts:
    a.example:
""")
    assert not validate(path, roles_dir=roles).errors


def test_real_roles_specs_load_and_a_clean_sample_validates():
    specs.load_specs.cache_clear()
    specs.role_defaults.cache_clear()
    known = specs.load_specs()
    assert "autoglm_action" in known
    root = Path(__file__).resolve().parents[3]
    result = validate(root / "inventory" / "sample" / "hosts.yml")
    assert not result.errors, [p.render() for p in result.errors]


def test_ten_thousand_hosts_validate_quickly_enough_for_a_sanity_bound(tmp_path, roles):
    """Not a benchmark (see bench/validate_scale.py): a loose bound that catches quadratic slips."""
    lines = ["all:", "  vars: {demo_count: 2}", "  children:"]
    for rack in range(100):
        lines += [f"    rack{rack}:", "      hosts:"]
        lines += [f"        r{rack}n{n}.dc: {{ansible_host: 10.{rack}.{n // 250}.{n % 250 + 1}}}" for n in range(100)]
    path = inventory(tmp_path, "\n".join(lines) + "\n")
    started = time.perf_counter()
    result = validate(path, roles_dir=roles)
    assert len(result.inventory.hosts) == 10_000 and not result.errors
    assert time.perf_counter() - started < 10


def test_a_wrong_value_inside_an_inventory_mapping_is_named_with_file_and_line(tmp_path):
    """Issue #28 item 1: mappings in a YAML inventory's vars are read; a wrong one keeps its file:line."""
    path = inventory(tmp_path, """all:
  vars:
    modprobe_options: {nvidia: {NVreg_EnableGpuFirmware: 0}}
  hosts:
    a.example:
      modprobe_options: {nvidia: [not, a, mapping]}
    b.example:
""")
    specs.load_specs.cache_clear()
    specs.role_defaults.cache_clear()
    result = validate(path)
    rendered = [p.render() for p in result.errors]
    assert not any("LocatedDict" in r or "cannot parse" in r for r in rendered), rendered
    assert any(f"{path}:6" in r and "modprobe_options" in r and "a.example" in r for r in rendered), rendered
    assert not any("b.example" in r for r in rendered), rendered
