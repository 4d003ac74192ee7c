"""The python_venv_lock module's decisions, run against a real venv on this machine.

A real venv is made with this interpreter (no network: its packages are pip itself and a tiny
wheel built here), so `inspect` and marker evaluation run exactly as on a target."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.modules import python_venv_lock as lockmod


def make_wheel(directory: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel, enough for pip to install and importlib.metadata to list."""
    path = directory / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}/__init__.py", f"__version__ = '{version}'\n")
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(f"{info}/WHEEL",
                       "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root / "v")], check=True)
    house = root / "house"
    house.mkdir()
    for version in ("1.0", "2.0"):
        make_wheel(house, "alpha", version)
    make_wheel(house, "beta", "1.0")
    pip = [str(root / "v" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links",
           str(house), "--no-deps"]
    subprocess.run(pip + ["alpha==1.0", "beta==1.0"], check=True)
    return root / "v"


def inspect(venv: Path, lock_text: str) -> dict:
    entries = lockmod.parse_lock(lock_text)
    out = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", lockmod.INSPECT], input=json.dumps(entries),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_converged_venv_needs_nothing(venv):
    state = inspect(venv, "alpha==1.0\nbeta==1.0\n")
    install, remove = lockmod.diff(state, prune=True)
    assert install == {} and remove == {}
    assert state["installed"]["alpha"] == "1.0"


def test_profile_change_upgrades_adds_and_prunes(venv):
    state = inspect(venv, "alpha==2.0\ngamma==0.1\n")
    install, remove = lockmod.diff(state, prune=True)
    assert install == {"alpha": ("1.0", "2.0"), "gamma": (None, "0.1")}
    assert remove == {"beta": "1.0"}  # pip itself (and setuptools/wheel) are never pruned
    summary = lockmod.changes_summary(install, remove)
    assert summary == {"added": {"gamma": "0.1"}, "upgraded": {"alpha": "1.0 -> 2.0"}, "removed": {"beta": "1.0"}}
    assert lockmod.diff(state, prune=False)[1] == {}


def test_markers_are_evaluated_by_the_venv_interpreter(venv):
    this = f"{sys.version_info[0]}.{sys.version_info[1]}"
    text = f'alpha==9.9 ; python_version == "2.7"\nalpha==1.0 ; python_version == "{this}"\nbeta==1.0\n'
    state = inspect(venv, text)
    assert state["wanted"]["alpha"] == "1.0" and state["mismatched"] == []


def test_local_version_labels_count():
    state = {"wanted": {"torch": "2.7.1+cu118"}, "installed": {"torch": "2.7.1"}, "mismatched": []}
    # mismatched is computed in the venv with packaging.Version: a CPU build is not the cu118 one
    from packaging.version import Version

    assert Version("2.7.1") != Version("2.7.1+cu118")
    state["mismatched"] = ["torch"]
    assert lockmod.diff(state, prune=True)[0] == {"torch": ("2.7.1", "2.7.1+cu118")}


def test_pip_options_for_air_gapped_and_proxied_sites():
    params = {"no_index": True, "index_url": "https://mirror/simple", "extra_index_urls": ["https://x"],
              "find_links": ["/opt/autoglm/wheelhouse"], "cert": "/etc/ssl/certs/ca-certificates.crt",
              "proxy": "http://u:p@proxy:3128"}
    opts = lockmod.pip_options(params)
    assert "--no-index" in opts and "--index-url" not in opts and "--extra-index-url" not in opts
    assert opts[opts.index("--find-links") + 1] == "/opt/autoglm/wheelhouse"
    assert opts[opts.index("--cert") + 1] == "/etc/ssl/certs/ca-certificates.crt"
    online = lockmod.pip_options({**params, "no_index": False})
    assert online[online.index("--index-url") + 1] == "https://mirror/simple"
    assert online[online.index("--extra-index-url") + 1] == "https://x"
