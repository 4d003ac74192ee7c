"""-e values: one parser, what ansible-playbook gets (private files, Ansible's conversions), what
report.json records (secret-looking names redacted), and check's read-only guard."""

import json
import stat

import pytest

from provisioner.errors import UsageError
from provisioner.plan import extravars, guards
from provisioner.specs import load_specs

TYPES = {name: spec.type for name, spec in load_specs().items()}


def handed(items, tmp_path):
    problems = []
    parsed = extravars.parse(items, problems)
    assert problems == []
    args = extravars.handed_to_ansible(parsed, TYPES, tmp_path)
    return [json.loads((tmp_path / a[1:]).read_text()) if a.startswith(f"@{tmp_path}") else a for a in args]


@pytest.mark.parametrize(("text", "expected"), [("false", False), ("no", False), ("0", False), ("off", False),
                                                ("True", True), ("yes", True), ("1", True), ("on", True)])
def test_key_value_booleans_follow_ansibles_rules(tmp_path, text, expected):
    assert handed([f"gpu_smoke_require_gpu={text}"], tmp_path) == [{"gpu_smoke_require_gpu": expected}]


def test_key_value_ints_and_floats_converted_strings_kept(tmp_path):
    (data,) = handed(["gpu_smoke_burn_minutes=15 gpu_smoke_burn_tolerance=0.1 gpu_smoke_level=burn other=7"], tmp_path)
    assert data == {"gpu_smoke_burn_minutes": 15, "gpu_smoke_burn_tolerance": 0.1, "gpu_smoke_level": "burn",
                    "other": "7"}  # unknown variables stay strings, as Ansible's key=value gives them


def test_values_travel_in_private_files_and_files_by_path(tmp_path):
    vars_file = tmp_path / "v.yml"
    vars_file.write_text("a: 1\n")
    out = tmp_path / "out"
    out.mkdir()
    parsed = extravars.parse(["token=abc", '{"b": 2}', f"@{vars_file}"], [])
    args = extravars.handed_to_ansible(parsed, TYPES, out)
    assert args[2] == f"@{vars_file}" and all(a.startswith("@") for a in args)
    assert "abc" not in " ".join(args)
    for arg in args[:2]:
        assert stat.S_IMODE((out / arg[1:].rsplit("/", 1)[1]).stat().st_mode) == 0o600


def test_report_records_redacted_values():
    parsed = extravars.parse(["api_token=abc gpu_smoke_level=quick", '{"bmc": {"password": "p", "user": "u"}}'], [])
    assert extravars.public(parsed) == ["api_token=<redacted> gpu_smoke_level=quick",
                                        '{"bmc": {"password": "<redacted>", "user": "u"}}']
    warnings = extravars.command_line_secrets(parsed)
    assert len(warnings) == 2 and "api_token" in warnings[0] and "password" in warnings[1]


@pytest.mark.parametrize("item", ["{1: 2}", "x='abc", "novalue", "[1]", "{", "1a=2", "@", "a=1 junk"])
def test_bad_items_are_problems_not_exceptions(item):
    problems = []
    assert extravars.parse([item], problems) == []
    assert len(problems) == 1 and problems[0].file


@pytest.mark.parametrize("item", ["bios_check_apply_kernel_params=false", "bios_check_bmc_reboot=true",
                                  '{"bios_check_bmc_stage_changes": false}', "bios_check_bmc_apply=true"])
def test_check_refuses_its_read_only_switches_whatever_the_value(item):
    parsed = extravars.parse([item], [])
    with pytest.raises(UsageError, match="read-only"):
        guards.check_extra_vars("check", parsed)
    guards.check_extra_vars("site", parsed)  # site may change hosts: allowed there


def test_cli_owned_variables_refused_for_every_action():
    for action in ("site", "check", "smoke"):
        with pytest.raises(UsageError, match="autoglm_action cannot be set"):
            guards.check_extra_vars(action, extravars.parse(["autoglm_action=site"], []))
