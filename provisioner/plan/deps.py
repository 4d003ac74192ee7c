"""The collections the content needs, checked before any host is touched.

The list is the collection's own ``galaxy.yml`` ``dependencies`` (one source); the pinned
``requirements.yml`` beside it installs them with ansible-galaxy. The Python package installs them
through the ``ansible`` package (a dependency), which carries community.general. The search follows
Ansible's: ``ANSIBLE_COLLECTIONS_PATH`` as the CLI sets it, then ``sys.path`` (site-packages), unless
``ANSIBLE_COLLECTIONS_SCAN_SYS_PATH`` turns that off.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .. import paths
from ..errors import UsageError

REQUIREMENTS_FILE = paths.COLLECTION / "requirements.yml"
FALSY = {"0", "false", "no", "off", "n", "f"}


@dataclass(frozen=True)
class Missing:
    name: str
    wanted: str
    found: str | None = None  # the version found, when one is there but too old/new

    def render(self) -> str:
        where = f"found {self.found}, needs {self.wanted}" if self.found else f"not installed, needs {self.wanted}"
        return f"{self.name} ({where})"


def required(galaxy_yml: Path | None = None) -> dict[str, str]:
    data = paths.load_project_file(galaxy_yml or paths.COLLECTION / "galaxy.yml")
    return {str(k): str(v) for k, v in (data.get("dependencies") or {}).items()}


def search_paths(environ: dict[str, str] | None = None) -> list[Path]:
    environ = os.environ if environ is None else environ
    found = [Path(p) for p in paths.collections_path(environ).split(os.pathsep) if p]
    if environ.get("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", "true").strip().lower() not in FALSY:
        found += [Path(p) for p in sys.path if p]
    return found


def installed_version(name: str, roots: list[Path]) -> str | None:
    """The version of the first copy of ``name`` Ansible would load, "*" when it has none; None if absent."""
    namespace, collection = name.split(".", 1)
    for root in roots:
        base = root / "ansible_collections" / namespace / collection
        if not base.is_dir():
            continue
        manifest = base / "MANIFEST.json"
        if manifest.is_file():
            try:
                return str(json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]["version"])
            except (ValueError, KeyError, TypeError):
                return "*"
        galaxy = base / "galaxy.yml"
        if galaxy.is_file():
            return str((paths.load_project_file(galaxy) or {}).get("version") or "*")
        return "*"
    return None


def _satisfies(version: str, wanted: str) -> bool:
    if version == "*" or wanted.strip() in ("", "*"):
        return True
    try:
        return Version(version) in SpecifierSet(wanted.replace(" ", ""))
    except (InvalidVersion, InvalidSpecifier):
        return True  # not ours to judge: Ansible decides


def missing_collections(environ: dict[str, str] | None = None) -> list[Missing]:
    roots = search_paths(environ)
    problems = []
    for name, wanted in required().items():
        version = installed_version(name, roots)
        if version is None:
            problems.append(Missing(name, wanted))
        elif not _satisfies(version, wanted):
            problems.append(Missing(name, wanted, version))
    return problems


def install_hint() -> str:
    return (f"install them into the environment autoglm-provision runs from:\n"
            f"  {sys.executable} -m pip install 'ansible>=12,<13'   (the ansible package carries them)\n"
            f"or with ansible-galaxy (needs Galaxy or a mirror):\n"
            f"  ansible-galaxy collection install -r {REQUIREMENTS_FILE}")


def check_collections(environ: dict[str, str] | None = None) -> None:
    """Raise UsageError (exit 2) naming every missing collection and how to install it."""
    problems = missing_collections(environ)
    if problems:
        names = "\n".join(f"  {p.render()}" for p in problems)
        raise UsageError(f"Ansible collection(s) this project needs are missing; nothing was run:\n{names}\n"
                         + install_hint())
