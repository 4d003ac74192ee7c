"""Issue #28 item 11: the private APIs of ansible-core and ansible-runner this project uses, pinned
(pyproject.toml), listed (docs/development.md, "Private APIs and what breaks at ansible-core 2.20 /
ansible-runner 2.5") and guarded: when the event callback's private import is missing (a newer
ansible-core), ansible-playbook stops with one message naming the module and the supported versions,
not a traceback."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from provisioner import paths
from provisioner.run.events import CALLBACK_DIR

ROOT = Path(__file__).resolve().parents[2]
CALLBACK = CALLBACK_DIR / "awx_display.py"
DOC = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
SECTION = "## Private APIs and what breaks at ansible-core 2.20 / ansible-runner 2.5"
PRIVATE_IMPORT = re.compile(r"^\s*(?:from|import)\s+((?:ansible|ansible_runner|pip)\.[\w.]*\b_\w*[\w.]*)", re.M)
PRIVATE_NAME = re.compile(r"_private\(\"([\w.]+)\"\)")


def _private_imports() -> dict[str, set[str]]:
    """Every import of an underscore module of ansible, ansible_runner or pip in the project's Python,
    and the private modules the callback imports by name (its guarded ``_private("...")``)."""
    found: dict[str, set[str]] = {}
    for path in [*ROOT.joinpath("provisioner").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py"),
                 *ROOT.joinpath("autoglm_smoke").rglob("*.py")]:
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        names = set(PRIVATE_IMPORT.findall(text))
        names |= set(PRIVATE_NAME.findall(text))
        if names:
            found[str(path.relative_to(ROOT))] = names
    return found


def test_every_private_import_is_listed_in_the_development_docs():
    section = DOC.split(SECTION, 1)[1].split("\n## ", 1)[0]
    imports = _private_imports()
    assert "provisioner/event_callback/awx_display.py" in imports  # the scan finds what it must
    missing = [f"{where}: {name}" for where, names in imports.items() for name in sorted(names)
               if name not in section or where not in section]
    assert not missing, f"private imports not in docs/development.md's {SECTION!r}: {missing}"


def test_the_pins_that_guard_them_are_the_ones_the_docs_name():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "ansible-core>=2.19,<2.20" in deps and "ansible-runner>=2.4,<2.5" in deps
    section = DOC.split(SECTION, 1)[1]
    assert "ansible-core>=2.19,<2.20" in section and "ansible-runner>=2.4,<2.5" in section


def test_the_callbacks_private_modules_exist_in_the_pinned_ansible_core():
    text = CALLBACK.read_text(encoding="utf-8")
    names = PRIVATE_NAME.findall(text)
    assert "ansible.module_utils._internal._json._profiles._fallback_to_str" in names
    for name in names:
        importlib.import_module(name)


def _playbook_with(callback_text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """ansible-playbook on localhost with this text as its stdout callback awx_display, as ansible-runner
    loads it for the CLI (ANSIBLE_CALLBACK_PLUGINS from AWX_LIB_DIRECTORY)."""
    plugins = tmp_path / "callback"
    plugins.mkdir()
    (plugins / "awx_display.py").write_text(callback_text)
    (tmp_path / "play.yml").write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                                       "    - ansible.builtin.debug: {msg: hello}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CALLBACK_PLUGINS=str(plugins), ANSIBLE_STDOUT_CALLBACK="awx_display", ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=str(paths.COLLECTIONS_PATH), ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False", PYTHONWARNINGS="ignore")
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={sys.executable}", str(tmp_path / "play.yml")],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_the_callback_runs_on_the_pinned_ansible_core(tmp_path):
    proc = _playbook_with(CALLBACK.read_text(encoding="utf-8"), tmp_path)
    assert proc.returncode == 0 and "hello" in proc.stdout, proc.stdout + proc.stderr


def test_a_missing_private_module_stops_ansible_playbook_with_a_clear_message(tmp_path):
    """As a newer ansible-core without the module would: the callback's private module renamed away
    (before the guard, the import was a plain ``from ... import _fallback_to_str``: ansible-playbook
    then died with "Unexpected Exception, this is probably a bug" and a traceback, exit 250)."""
    text = CALLBACK.read_text(encoding="utf-8")
    gone = "_fallback_to_str_gone_in_a_newer_core"
    guarded = '"ansible.module_utils._internal._json._profiles._fallback_to_str"'
    plain = "from ansible.module_utils._internal._json._profiles import _fallback_to_str\n"
    assert text.count(guarded) + text.count(plain) == 1
    text = text.replace(guarded, guarded.replace("_fallback_to_str", gone)).replace(
        plain, plain.replace("import _fallback_to_str", f"import {gone} as _fallback_to_str"))
    proc = _playbook_with(text, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and gone in out, out
    assert "Traceback" not in out and "probably a bug" not in out, out
    assert "ansible-core>=2.19,<2.20" in out and "ansible-runner>=2.4,<2.5" in out, out
