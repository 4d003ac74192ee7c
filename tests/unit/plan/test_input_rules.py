"""Connection variables, foreign variables and what the roles would reject, through ``validate`` with the
real roles: every bad value is an error naming file:line, host, variable, the value and what is allowed."""

from pathlib import Path

import pytest

from provisioner import specs
from provisioner.inventory import connvars
from provisioner.plan.validate import validate

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "inventories"


@pytest.fixture(autouse=True)
def real_specs():
    specs.load_specs.cache_clear()
    specs.role_defaults.cache_clear()


def problems_of(tmp_path: Path, text: str, name: str = "hosts.yml"):
    path = tmp_path / name
    path.write_text(text)
    result = validate(path)
    return path, {(p.line, p.variable): p for p in result.problems}, result


BAD_CONNECTIONS = """all:
  vars:
    ansible_port: 70000
    ansible_become: sometimes
  hosts:
    a.example: {ansible_host: "10.0.0.1 10.0.0.2", ansible_port: twenty-two}
    b.example: {ansible_host: [10.0.0.3], ansible_port: -22, ansible_connection: telnet}
    c.example: {ansible_host: "2001:db8::zz", ansible_python_interpreter: python3}
    d.example: {ansible_ssh_common_args: '-o "ProxyCommand=ssh x', ansible_become_method: sudoo}
    e.example: {ansible_host: 10.0.0.300, ansible_user: "two words", ansible_timeout: 0}
    ok.example: {ansible_host: "2001:db8::1", ansible_port: "2222", ansible_become: "yes",
                 ansible_connection: containers.podman.podman, ansible_python_interpreter: /usr/bin/python3}
"""


def test_connection_variables_are_judged_with_location_host_value_and_allowed(tmp_path):
    path, found, result = problems_of(tmp_path, BAD_CONNECTIONS)
    expected = {
        (3, "ansible_port"): ("70000 is out of range", "1 to 65535", ""),
        (4, "ansible_become"): ("'sometimes' is not a boolean", "yes/no", ""),
        (6, "ansible_host"): ("contains whitespace", "without spaces", "a.example"),
        (6, "ansible_port"): ("'twenty-two' is not a port number", "1 to 65535", "a.example"),
        (7, "ansible_host"): ("is a list, not a host name", "as a string", "b.example"),
        (7, "ansible_port"): ("-22 is out of range", "1 to 65535", "b.example"),
        (7, "ansible_connection"): ("'telnet' is not a connection plugin", "ssh, paramiko, local", "b.example"),
        (8, "ansible_host"): ("not a valid IPv6 address", "2001:db8::1", "c.example"),
        (8, "ansible_python_interpreter"): ("'python3' is not an interpreter", "absolute path", "c.example"),
        (9, "ansible_ssh_common_args"): ("No closing quotation", "balanced quotes", "d.example"),
        (9, "ansible_become_method"): ("'sudoo' is not a become plugin", "sudo, su", "d.example"),
        (10, "ansible_host"): ("not a valid IPv4 address", "IPv4", "e.example"),
        (10, "ansible_user"): ("not a user name", "no spaces", "e.example"),
        (10, "ansible_timeout"): ("below 1", ">= 1", "e.example"),
    }
    for key, (reason, allowed, host) in expected.items():
        problem = found.get(key)
        assert problem is not None, (key, sorted(found))
        assert problem.file == str(path) and reason in problem.message and allowed in problem.message, problem
        assert problem.host == host, problem
    assert len(result.errors) == len(expected), [p.render() for p in result.errors]
    assert not [p for p in result.problems if p.host == "ok.example"]


@pytest.mark.parametrize(("name", "value"), [("ansible_port", 22), ("ansible_port", "65535"),
                                             ("ansible_host", "gpu-01.dc1.example"), ("ansible_become", "on"),
                                             ("ansible_connection", "local"), ("ansible_connection", "smart"),
                                             ("ansible_port", "{{ port }}"), ("ansible_ssh_retries", 0)])
def test_what_ansible_accepts_passes(name, value):
    assert connvars.check(name, value) is None


def test_values_the_roles_reject_are_rejected_by_validate_with_the_roles_code(tmp_path):
    path, found, result = problems_of(tmp_path, """all:
  vars:
    autoglm_batch: 0%
    autoglm_max_fail_percentage: 150
    gpu_smoke_memtest_fraction: 1.5
    nvidia_driver_reboot_timeout: -5
    preflight_ram_gb_minimum: 64
    common_apt_retries: -1
    kernel_apt_retries: 3
    modprobe_extra_lines: ["enable_unsafe_pci_dma=1"]
  hosts:
    a.example:
""")
    expected = {
        (3, "autoglm_batch"): ("'0%' is not a batch size", "from 1% to 100%"),
        (4, "autoglm_max_fail_percentage"): ("150", "from 0 to 100"),
        (5, "gpu_smoke_memtest_fraction"): ("1.5 is out of range", "> 0 and <= 0.95"),
        (6, "nvidia_driver_reboot_timeout"): ("-5 is out of range", "> 0"),
        (7, "preflight_ram_gb_minimum"): ("above preflight_ram_gb_recommended=32", "at or below the recommended"),
        (8, "common_apt_retries"): ("-1 is out of range", ">= 0"),
        (9, "kernel_apt_retries"): ("was replaced by 'common_apt_retries'", "rename it"),
        (10, "modprobe_extra_lines"): ("would fail the modprobe role", "options <module> enable_unsafe_pci_dma=1"),
    }
    for key, (reason, allowed) in expected.items():
        problem = found.get(key)
        assert problem is not None, (key, sorted(found))
        assert reason in problem.message and allowed in problem.message, problem
        # Values are judged per host (what the roles get); names per definition (a group's variable).
        assert problem.host == ("" if key[1] == "kernel_apt_retries" else "a.example"), problem
    assert len(result.errors) == len(expected), [p.render() for p in result.errors]


def test_foreign_variables_warn_with_their_equivalent_and_clashes_are_errors(tmp_path):
    result = validate(FIXTURES / "deepops" / "mysite")
    assert not result.errors, [p.render() for p in result.errors]
    foreign = {p.variable: p for p in result.warnings if p.variable}
    assert set(foreign) == {"nvidia_driver_ubuntu_install_from_cuda_repo",
                            "nvidia_driver_ubuntu_use_open_kernel_modules", "nvidia_driver_force_install"}
    assert "NVIDIA's driver role" in foreign["nvidia_driver_force_install"].message
    assert "nvidia_driver_upgrade" in foreign["nvidia_driver_force_install"].message
    assert "nvidia_driver_source: cuda-repo" in foreign["nvidia_driver_ubuntu_install_from_cuda_repo"].message
    assert foreign["nvidia_driver_force_install"].line == 4
    _, found, _ = problems_of(tmp_path, "all:\n  vars:\n    cuda_version: cuda-toolkit-11-5\n"
                                        "  hosts:\n    a.example:\n")
    clash = found[(3, "cuda_version")]
    assert clash.severity == "error" and "DeepOps' nvidia_cuda role" in clash.message and "'11.8'" in clash.message
