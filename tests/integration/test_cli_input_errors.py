"""Bad input through the real CLI: exit 2, every problem named, no run started."""

import subprocess
import sys
from pathlib import Path

from .conftest import write_inventory


def test_validate_lists_every_problem_with_locations(cli, tmp_path: Path):
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  hosts:\n    gpu01: {ansible_host: 10.0.0.1}\n    gpu01: {}\n"
                   "    bad_host:\n  vars:\n    modprobe_blacklst: [nouveau]\n")
    result = cli("validate", str(inv))
    assert result.returncode == 2, result.stdout + result.stderr
    out = result.stdout
    assert f"{inv}:4:5" in out and "duplicate host 'gpu01'" in out
    assert "host 'bad_host' has no ansible_host" in out
    assert f"{inv}:7" in out and "did you mean" in out
    assert "invalid" in out


def test_yaml_syntax_error_names_line_and_column(cli, tmp_path: Path):
    inv = tmp_path / "broken.yml"
    inv.write_text("all:\n  hosts:\n    a: {ansible_host: [1, 2\n")
    result = cli("validate", str(inv))
    assert result.returncode == 2
    assert f"{inv}:4:" in result.stdout and "YAML syntax error" in result.stdout


def test_site_with_invalid_inventory_runs_nothing(cli, tmp_path: Path):
    inv = write_inventory(tmp_path / "hosts.yml", {"localhost": {"ansible_connection": "local"}},
                          {"modprobe_blacklist": "nouveau"})  # a string where a list is required
    result = cli(str(inv))
    assert result.returncode == 2
    assert "modprobe_blacklist" in result.stdout and "nothing was run" in result.stdout
    assert not (cli.state / "runs").exists()


def test_usage_errors_exit_2(cli, tmp_path: Path):
    assert cli("site", str(tmp_path / "missing.yml")).returncode == 2
    assert cli("--no-such-flag").returncode == 2
    inv = write_inventory(tmp_path / "hosts.yml", {"localhost": {"ansible_connection": "local"}})
    limited = cli("check", str(inv), "--limit", "nosuchhost")
    assert limited.returncode == 2 and "no host or group named 'nosuchhost'" in limited.stdout
    assert cli("report", "nosuchrun").returncode == 2
    assert cli("check", str(inv), "--forks", "0").returncode == 2


def test_missing_collection_is_named_before_anything_runs(cli, tmp_path: Path):
    # Ansible's own switch hides site-packages, where the ansible package put community.general.
    result = cli("check", "--plain", env={"ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "community.general (not installed" in result.stdout and "nothing was run" in result.stdout
    assert "pip install 'ansible>=12,<13'" in result.stdout and "requirements.yml" in result.stdout
    assert not (cli.state / "runs").exists()


def test_vaulted_extra_vars_without_password_show_ansibles_error(cli, tmp_path: Path):
    """A failure before the first task prints Ansible's own text, and `-e @file` is read relative to
    where the CLI was started (ansible-playbook itself runs in the collection's directory)."""
    vault_pw = tmp_path / "pw"
    vault_pw.write_text("secret\n")
    (tmp_path / "v.yml").write_text("gpu_smoke_level: quick\n")
    ansible_vault = Path(sys.executable).parent / "ansible-vault"
    subprocess.run([str(ansible_vault), "encrypt", "--vault-password-file", str(vault_pw), "v.yml"],
                   cwd=tmp_path, check=True, capture_output=True)
    result = cli("check", "--plain", "-e", "@v.yml", cwd=tmp_path, timeout=300)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Attempting to decrypt but no vault secrets found" in result.stdout
    assert f"Origin: {tmp_path / 'v.yml'}" in result.stdout
    assert "stopped before the first task" in result.stdout and "no task ran" not in result.stdout


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inventories"


def test_ini_directories_and_several_sources_validate(cli, tmp_path: Path):
    kubespray = cli("validate", str(FIXTURES / "kubespray" / "mycluster"))
    assert kubespray.returncode == 0, kubespray.stdout + kubespray.stderr
    assert "6 hosts" in kubespray.stdout
    extra = tmp_path / "extra.ini"
    extra.write_text("[more]\nnode9 ansible_host=192.0.2.99\n")
    both = cli("validate", str(FIXTURES / "kubespray" / "mycluster"), "-i", str(extra))
    assert both.returncode == 0 and "7 hosts" in both.stdout, both.stdout


def test_selections_that_select_nothing_exit_2_before_anything_runs(cli, tmp_path: Path):
    inv = write_inventory(tmp_path / "hosts.yml", {"localhost": {"ansible_connection": "local"}})
    for pattern, expected in (("zz*", "'zz*' matches no host"), ("~^gpu", "'~^gpu' matches no host"),
                              ("all:!all", "selects no host"), ("localhots", "nearest: localhost"),
                              (f"@{tmp_path / 'missing'}", "--limit '@")):
        result = cli("check", str(inv), "--limit", pattern)
        assert result.returncode == 2 and expected in result.stdout, (pattern, result.stdout)
    tagged = cli("check", str(inv), "--tags", "preflght")
    assert tagged.returncode == 2 and "'preflght'" in tagged.stdout and "nearest: preflight" in tagged.stdout
    skipped = cli("check", str(inv), "--skip-tags", "nosuchtag")
    assert skipped.returncode == 2 and "--skip-tags 'nosuchtag'" in skipped.stdout
    assert not (cli.state / "runs").exists()
