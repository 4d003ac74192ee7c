"""The GPU smoke-test program as users run it: the zipapp (reproducible, bundles pynvml and the
collection's PCI scan), its CLI on this machine (the real no-GPU path), an unexpected error still
writing the JSON, and the program's Python 3.8 syntax."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autoglm_smoke import build, cli
from tests.fixtures.smoke_fakes import make_sysfs

ROOT = Path(__file__).resolve().parents[3]


# --- the program as users run it: the zipapp -----------------------------------------------------
@pytest.fixture(scope="module")
def zipapp(tmp_path_factory):
    out = tmp_path_factory.mktemp("zipapp") / "autoglm_smoke.pyz"
    build.build(str(out))
    return out


def test_zipapp_is_reproducible_and_bundles_pynvml(zipapp, tmp_path):
    import zipfile  # noqa: PLC0415

    again = build.build(str(tmp_path / "again.pyz"))
    assert Path(again).read_bytes() == zipapp.read_bytes()  # same sources, same bytes: copy reports no change
    names = zipfile.ZipFile(zipapp).namelist()
    assert "autoglm_smoke/_bundled/pynvml.py" in names and "autoglm_smoke/references.json" in names
    assert "autoglm_smoke/build.py" not in names


def test_zipapp_bundles_the_collections_pci_scan(zipapp, tmp_path):
    """The zipapp carries the collection's module_utils/pci.py (the one definition of an NVIDIA GPU)
    and its host module imports that copy: run isolated (-I), so no source tree is on sys.path."""
    import zipfile  # noqa: PLC0415

    from ansible_collections.autoglm.provision.plugins.module_utils import pci  # noqa: PLC0415

    bundled = zipfile.ZipFile(zipapp).read("autoglm_smoke/_bundled/pci.py")
    assert bundled == Path(pci.__file__).read_bytes()
    sysfs = make_sysfs(tmp_path, {"0000:3b:00.0": ("0x10de", "0x030200"), "0000:c1:00.0": ("0x10de", "0x068000")})
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from autoglm_smoke import host; "
            "print(host.pci_module().__file__); print(host.scan_pci_gpus(sys.argv[2]))")
    proc = subprocess.run([sys.executable, "-I", "-c", code, str(zipapp), str(sysfs)], capture_output=True,
                          text=True, timeout=60, check=True, cwd=tmp_path)
    where, found = proc.stdout.splitlines()
    assert where.endswith("autoglm_smoke.pyz/autoglm_smoke/_bundled/pci.py")
    assert found == "['0000:3b:00.0']"


def test_the_installed_package_finds_the_pci_scan_without_a_zipapp(tmp_path):
    """The package inside the collection (a checkout, an installed collection: issue #28 item 6): no
    _bundled copy, so host.py loads the collection's plugins/module_utils/pci.py next to it, by its path,
    with nothing but the package's own folder on sys.path (-I keeps PYTHONPATH and the pytest paths
    out); the wheel's top-level copy gets _bundled/pci.py from setup.py (scripts/test-install runs it)."""
    sysfs = make_sysfs(tmp_path, {"0000:3b:00.0": ("0x10de", "0x030200")})
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from autoglm_smoke import host; "
            "print(host.pci_module().__file__); print(host.scan_pci_gpus(sys.argv[2]))")
    proc = subprocess.run([sys.executable, "-I", "-c", code, str(ROOT), str(sysfs)], capture_output=True,
                          text=True, timeout=60, check=True, cwd=tmp_path)
    where, found = proc.stdout.splitlines()
    assert Path(where).resolve() == ROOT / "plugins" / "module_utils" / "pci.py"
    assert found == "['0000:3b:00.0']"
    helped = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                             "sys.argv[1:] = ['--help']; import runpy; runpy.run_module('autoglm_smoke', "
                             "run_name='__main__')", str(ROOT)], capture_output=True, text=True, timeout=60,
                            check=False, cwd=tmp_path)
    assert helped.returncode == 0 and "--level" in helped.stdout, helped.stderr


def test_a_missing_nvidia_ml_py_is_a_clear_error_naming_the_pin(tmp_path):
    """A controller Python without nvidia-ml-py (-S hides site-packages): exit 2 and one line naming
    the package, the pin and the command that installs it, never a traceback; no zipapp left behind."""
    out = tmp_path / "smoke.pyz"
    proc = subprocess.run([sys.executable, "-S", "-m", "autoglm_smoke.build", str(out)], capture_output=True,
                          text=True, timeout=60, check=False, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "nvidia-ml-py, which is not installed" in proc.stderr and f"'{build.NVML_PIN}'" in proc.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_real_no_gpu_path(zipapp, tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(zipapp), "--json-out", str(out)], capture_output=True, text=True,
                          timeout=60, check=False)
    report = json.loads(out.read_text())
    if report["gpu_present"]:
        pytest.skip("this machine has a working NVIDIA GPU")
    assert proc.returncode == 1 and report["verdict"] == "fail"
    assert "no NVIDIA GPU/driver" in report["verdict_reason"] or "driver stack does not work" in report[
        "verdict_reason"]
    assert "FAIL" in proc.stdout
    assert report["environment"]["nvml_bindings"].startswith("installed pynvml")  # this venv has nvidia-ml-py
    ok = subprocess.run([sys.executable, str(zipapp), "--no-require-gpu", "--json-out", "-"], capture_output=True,
                        text=True, timeout=60, check=False)
    assert ok.returncode == 0 and json.loads(ok.stdout)["verdict"] == "pass"


def test_zipapp_falls_back_to_its_bundled_pynvml(zipapp, tmp_path):
    # A Python without nvidia-ml-py (as a fresh target's system python3): -S hides site-packages.
    proc = subprocess.run([sys.executable, "-S", str(zipapp), "--no-require-gpu", "--json-out", "-"],
                          capture_output=True, text=True, timeout=60, check=False)
    report = json.loads(proc.stdout)
    assert report["environment"]["nvml_bindings"].startswith("bundled pynvml")


def test_cli_rejects_bad_options(zipapp):
    for argv, text in ((["--memtest-fraction", "1.5"], "--memtest-fraction must be in (0, 0.95]"),
                       (["--expected-gpus", "-1"], "--expected-gpus must be >= 0")):
        proc = subprocess.run([sys.executable, str(zipapp), *argv], capture_output=True, text=True, timeout=60,
                              check=False)
        assert proc.returncode == 2 and text in proc.stderr


def test_an_unexpected_error_is_a_failed_check_and_the_json_is_still_written(monkeypatch, tmp_path, capsys):
    def broken(opts):
        raise RuntimeError("CUDA error: invalid device ordinal")

    monkeypatch.setattr(cli, "run_smoke", broken)
    out = tmp_path / "r.json"
    assert cli.main(["--json-out", str(out)]) == 1
    report = json.loads(out.read_text())
    assert report["verdict"] == "fail"
    assert report["failures"] == [
        "program: smoke program error RuntimeError: CUDA error: invalid device ordinal [GPU_SMOKE_ERROR]"]
    assert report["codes"] == ["GPU_SMOKE_ERROR"]


def test_program_is_python38_syntax():
    for path in (ROOT / "autoglm_smoke").glob("*.py"):
        ast.parse(path.read_text(), feature_version=(3, 8))
