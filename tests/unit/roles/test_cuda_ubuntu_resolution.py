"""Ubuntu 22.04 paths of the cuda role, run for real with Ubuntu facts (see
test_nvidia_ubuntu_resolution.py for the mechanism: the role's resolve.yml with injected facts)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

# Shared runner, loaded by path so that it works whether or not tests/ is a package.
_spec = importlib.util.spec_from_file_location(
    "nvidia_ubuntu_resolution", Path(__file__).with_name("test_nvidia_ubuntu_resolution.py"))
_runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_runner)
DEBIAN_FACTS, UBUNTU_FACTS, run_resolution = _runner.DEBIAN_FACTS, _runner.UBUNTU_FACTS, _runner.run_resolution

OUTPUTS = ["cuda__uses_repo", "cuda__repo_url", "cuda__packages", "cuda__apt_names", "cuda__home",
           "cuda__nvcc_bin", "cuda__path_dirs", "cuda__lib_dirs", "cuda__hold_regex", "cuda__in_container"]


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    cases = {
        "ubuntu-default": (UBUNTU_FACTS, {}),
        "ubuntu-arm": ({**UBUNTU_FACTS, "architecture": "aarch64"}, {}),
        "ubuntu-mirror": (UBUNTU_FACTS, {"cuda_repo_url": "http://mirror.dc.example/cuda/ubuntu2204/x86_64"}),
        "debian-default": (DEBIAN_FACTS, {}),
        "debian-12-0": (DEBIAN_FACTS, {"cuda_version": "12.0"}),
    }
    return run_resolution(tmp_path_factory.mktemp("cuda"), "cuda", ["resolve.yml"], OUTPUTS, cases)


def test_ubuntu_installs_cuda_toolkit_11_8_from_nvidias_repository(resolved):
    r = resolved["ubuntu-default"]
    assert r["cuda__uses_repo"]
    assert r["cuda__repo_url"] == "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2204/x86_64"
    assert r["cuda__packages"] == r["cuda__apt_names"] == ["cuda-toolkit-11-8"]


def test_ubuntu_layout_needs_path_and_lib64(resolved):
    r = resolved["ubuntu-default"]
    assert r["cuda__home"] == "/usr/local/cuda-11.8"
    assert r["cuda__nvcc_bin"] == "/usr/local/cuda-11.8/bin/nvcc"
    assert r["cuda__path_dirs"] == ["/usr/local/cuda-11.8/bin"]
    assert r["cuda__lib_dirs"] == ["/usr/local/cuda-11.8/lib64"]


def test_ubuntu_hold_regex_matches_the_toolkit_release_packages_only(resolved):
    # Matched against "source|package" lines of dpkg-query (tasks/install.yml).
    regex = re.compile(resolved["ubuntu-default"]["cuda__hold_regex"])
    assert regex.match("cuda-cudart-11-8|cuda-cudart-11-8")
    assert regex.match("libcublas-11-8|libcublas-11-8")
    assert not regex.match("cuda-keyring|cuda-keyring")
    assert not regex.match("nvidia-graphics-drivers-535-server|nvidia-utils-535-server")


def test_arm_servers_use_the_sbsa_repository(resolved):
    assert resolved["ubuntu-arm"]["cuda__repo_url"].endswith("/ubuntu2204/sbsa")


def test_air_gapped_mirror_overrides_the_repository(resolved):
    assert resolved["ubuntu-mirror"]["cuda__repo_url"] == "http://mirror.dc.example/cuda/ubuntu2204/x86_64"


def test_debian_uses_non_free_toolkit_in_the_multiarch_layout(resolved):
    r = resolved["debian-default"]
    assert not r["cuda__uses_repo"] and r["cuda__repo_url"] == ""
    assert r["cuda__apt_names"] == ["nvidia-cuda-toolkit=11.8.*"]
    assert r["cuda__path_dirs"] == [] and r["cuda__lib_dirs"] == []
    assert re.match(r["cuda__hold_regex"], "nvidia-cuda-toolkit|libcudart11.0")


def test_debian_rejects_a_cuda_version_it_does_not_package(resolved):
    msg = resolved["debian-12-0"]["failed"]
    assert "debian-12-0" in msg and "cuda_version=12.0" in msg and "allowed: 11.8" in msg
