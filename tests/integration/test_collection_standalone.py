"""The collection alone, as an AWX/EE user has it (issue #28 item 6): the tarball built and installed
with the documented commands, then plain ansible-playbook of autoglm.provision.smoke and .check on
local-connection hosts, from a Python where neither provisioner nor autoglm_smoke is importable.

That Python is a fresh venv whose site-packages holds links to this venv's installed distributions
(ansible-core, its dependencies, nvidia-ml-py: the pinned versions, no download) but none of its .pth
files, so the editable install of this project (a .pth finder) is not there; the tests prove that
by importing both names in it. Leaving the pynvml link out gives a controller without nvidia-ml-py.
This machine has no GPU: the smoke verdict is "no GPU" (GPU_NOT_FOUND), a failed host with its message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
# The project's own distribution and its editable finder: what the stand-alone Python must not have.
PROJECT_ENTRIES = ("autoglm_provision", "__editable__")
NVML_ENTRIES = ("pynvml.py", "nvidia_ml_py-")


def _run(args, cwd, env, timeout=600):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def make_standalone_python(where: Path, with_nvml: bool = True) -> Path:
    """A venv with ansible-core (and nvidia-ml-py unless with_nvml is false), without this project."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    left_out = PROJECT_ENTRIES + (() if with_nvml else NVML_ENTRIES)
    for entry in SITE_PACKAGES.iterdir():
        if entry.suffix != ".pth" and not entry.name.startswith(left_out):
            (site / entry.name).symlink_to(entry)
    for tool in ("ansible-playbook", "ansible-galaxy"):
        script = (BIN / tool).read_text().split("\n", 1)[1]
        (where / "bin" / tool).write_text(f"#!{python}\n{script}")
        (where / "bin" / tool).chmod(0o755)
    return python


def importable(python: Path, name: str, cwd: Path) -> bool:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({name!r}) else 1)"
    return subprocess.run([str(python), "-c", code], cwd=cwd, env=_env(cwd), check=False).returncode == 0


def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_COLLECTIONS_PATH=str(tmp / "collections"),
               ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH="ignore")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The tarball, built from the root and installed as docs/collection.md says, into a fresh folder."""
    tmp = tmp_path_factory.mktemp("standalone")
    python = make_standalone_python(tmp / "venv")
    galaxy = str(python.parent / "ansible-galaxy")
    built = _run([galaxy, "collection", "build", str(ROOT), "--output-path", str(tmp / "dist")], tmp, _env(tmp))
    assert built.returncode == 0, built.stdout + built.stderr
    (tarball,) = (tmp / "dist").glob("autoglm-provision-*.tar.gz")
    done = _run([galaxy, "collection", "install", "--no-deps", "-p", str(tmp / "collections"), str(tarball)], tmp,
                _env(tmp))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp / "collections/ansible_collections/autoglm/provision/autoglm_smoke/build.py").is_file()
    return tmp, python


def playbook(tmp: Path, python: Path, name: str, *extra: str):
    """ansible-playbook autoglm.provision.NAME on two local-connection hosts (a and b), the smoke JSON
    fetched to tmp/smoke-NAME."""
    args = [str(python.parent / "ansible-playbook"), "-i", "a,b,", "-c", "local", f"autoglm.provision.{name}",
            "-e", f"ansible_python_interpreter={python}", "-e", f"gpu_smoke_fetch_dir={tmp / ('smoke-' + name)}",
            "-e", "preflight_storage_read_test=false", *extra]
    proc = _run(args, tmp, _env(tmp))
    return proc, proc.stdout + proc.stderr


def test_the_standalone_python_has_neither_package(installed):
    tmp, python = installed
    assert importable(python, "ansible", tmp) and importable(python, "pynvml", tmp)
    assert not importable(python, "provisioner", tmp) and not importable(python, "autoglm_smoke", tmp)


def test_smoke_from_the_tarball_gives_batches_failure_cap_and_the_no_gpu_verdict(installed):
    """Batches of one host and a failure cap of 0 %, as extra vars (the CLI's --batch 1
    --max-fail-percentage 0): host a fails the smoke gate with the program's verdict, so b never runs it."""
    tmp, python = installed
    proc, out = playbook(tmp, python, "smoke", "-e", '{"autoglm_batch": [1], "autoglm_max_fail_percentage": 0}')
    assert "ModuleNotFoundError" not in out and "Traceback" not in out, out[-4000:]
    assert proc.returncode == 2, out[-4000:]
    assert "fatal: [a]" in out and "a: GPU smoke test (quick) FAILED: no NVIDIA GPU" in out, out[-4000:]
    assert "[GPU_NOT_FOUND]" in out, out[-4000:]
    smoke_json = json.loads((tmp / "smoke-smoke" / "a.json").read_text())
    assert smoke_json["verdict"] == "fail" and smoke_json["gpu_present"] is False
    # The host's python3 has no nvidia-ml-py (else its own pynvml wins): the controller's, bundled, ran.
    assert "pynvml" in smoke_json["environment"]["nvml_bindings"], smoke_json["environment"]
    assert not (tmp / "smoke-smoke" / "b.json").exists(), "the failure cap stops the run after a's batch"
    assert "NO MORE HOSTS LEFT" in out, out[-4000:]


def test_check_from_the_tarball_reaches_the_verdicts(installed):
    tmp, python = installed
    proc, out = playbook(tmp, python, "check")
    assert "ModuleNotFoundError" not in out and "Traceback" not in out, out[-4000:]
    assert "PLAY [Qualify Open-AutoGLM GPU hosts (read-only)]" in out, out[-4000:]
    assert "a does not qualify" in out and "b does not qualify" in out, out[-4000:]
    assert proc.returncode == 2, out[-4000:]


def test_site_in_check_mode_from_the_tarball_gives_batches_and_the_failure_cap(installed):
    """autoglm.provision.site --check (read-only: this machine is the host), batches of one and a failure
    cap of 0 %: host a fails its first gate (this 2-core, GPU-less machine is below preflight's minimums),
    so b is never contacted; the failure is the gate's own verdict, named."""
    tmp, python = installed
    proc, out = playbook(tmp, python, "site", "--check", "-e",
                         '{"autoglm_batch": [1], "autoglm_max_fail_percentage": 0}')
    assert "ModuleNotFoundError" not in out and "Traceback" not in out, out[-4000:]
    assert proc.returncode == 2, out[-4000:]
    assert "fatal: [a]" in out and "NVIDIA GPUs on the PCI bus: measured 0, minimum 1" in out, out[-4000:]
    provisioning = out.split("PLAY [Provision Open-AutoGLM GPU hosts]", 1)[1].split("PLAY RECAP", 1)[0]
    assert "NO MORE HOSTS LEFT" in provisioning and "[b]" not in provisioning, out[-4000:]


def test_a_controller_without_nvidia_ml_py_gets_a_clear_task_failure(installed, tmp_path):
    tmp, _ = installed
    python = make_standalone_python(tmp_path / "venv", with_nvml=False)
    assert not importable(python, "pynvml", tmp)
    proc, out = playbook(tmp, python, "smoke", "--limit", "a")
    assert proc.returncode == 2 and "Traceback" not in out, out[-4000:]
    assert "cannot build the GPU smoke program" in out and "nvidia-ml-py, which is not installed" in out, out[-4000:]
    assert "-m pip install 'nvidia-ml-py==13.615.71'" in out, out[-4000:]
