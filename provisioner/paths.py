"""Where the project's Ansible content lives and where runs are recorded.

The content is the collection ``autoglm.provision``. Its one source is the repository root (galaxy.yml,
meta/, plugins/, roles/, playbooks/, as kubespray lays out its own); the wheel's build (setup.py) copies it
into this package as ``provisioner/collection/ansible_collections/autoglm/provision``, where an installed
CLI finds it through ``importlib.resources``. Run from a checkout (an editable install, the tests), the
collection is the checkout's root, reached by Ansible through a link that ``ensure_collections_path``
keeps under ``.cache/collections`` (Ansible finds collections only below an ``ansible_collections/``
folder). Never relative to the working directory.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from importlib import resources
from pathlib import Path
from types import ModuleType

COLLECTION_NAMESPACE = "autoglm"
COLLECTION_NAME = "provision"
COLLECTION_FQCN = f"{COLLECTION_NAMESPACE}.{COLLECTION_NAME}"

_PACKAGE = Path(str(resources.files("provisioner")))
_PACKAGED = _PACKAGE / "collection"
_IN_WHEEL = (_PACKAGED / "ansible_collections" / COLLECTION_NAMESPACE / COLLECTION_NAME / "galaxy.yml").is_file()

# The directory that holds ansible_collections/: the one path setting (ANSIBLE_COLLECTIONS_PATH).
# A wheel installs as plain files, so the package resource is a real directory.
COLLECTIONS_PATH = _PACKAGED if _IN_WHEEL else _PACKAGE.parent / ".cache" / "collections"
COLLECTION = COLLECTIONS_PATH / "ansible_collections" / COLLECTION_NAMESPACE / COLLECTION_NAME if _IN_WHEEL \
    else _PACKAGE.parent
PLAYBOOKS = COLLECTION / "playbooks"
ROLES = COLLECTION / "roles"
# The sample inventory `autoglm-provision init DIR` copies: package data (in the checkout a link to
# inventory/sample, which setuptools copies into the wheel and the sdist as plain files).
SAMPLE_INVENTORY = Path(str(resources.files("provisioner") / "sample_inventory"))


def ensure_collections_path() -> Path:
    """COLLECTIONS_PATH, ready for Ansible: in a checkout, the link
    ``.cache/collections/ansible_collections/autoglm/provision`` -> the checkout's root, made on first
    use (relative, so a moved checkout keeps working; .cache/ is git-ignored and galaxy.yml's
    build_ignore leaves it out of the collection tarball). In a wheel, nothing to do."""
    if _IN_WHEEL:
        return COLLECTIONS_PATH
    link = COLLECTIONS_PATH / "ansible_collections" / COLLECTION_NAMESPACE / COLLECTION_NAME
    if not link.is_dir():
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():  # dangling: made by a checkout that was moved or laid out otherwise
            link.unlink()
        with contextlib.suppress(FileExistsError):  # a concurrent first use made it
            link.symlink_to(os.path.relpath(COLLECTION, link.parent), target_is_directory=True)
    return COLLECTIONS_PATH


def load_project_file(path: Path) -> object:
    """The package's own YAML (role specs and defaults, playbooks and task files), read on every
    CLI start: libyaml's safe loader where PyYAML has it (C, faster than the pure-Python one), the
    pure-Python safe loader otherwise. No location tracking: these files are ours."""
    import yaml  # noqa: PLC0415 - only the commands that read the content pay for it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader


def collection_imports() -> None:
    """Make the collection's Python importable in this process as Ansible loads it
    (``ansible_collections.autoglm.provision.plugins...``): Ansible's collection loader, installed
    once, as its own CLIs do, with this package's collection first. The CLI's own checks import the
    role's logic that way (the modprobe grammar, the preflight thresholds, the lock parser)."""
    from ansible.plugins.loader import init_plugin_loader  # noqa: PLC0415
    from ansible.utils.collection_loader import AnsibleCollectionConfig  # noqa: PLC0415

    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader([str(ensure_collections_path())])


def collection_module(name: str) -> ModuleType:
    """The collection's Python module ``plugins.<name>`` (e.g. ``plugin_utils.host_files``), imported
    as Ansible loads it. Called where the module is used, never at import time: importing a CLI
    module installs no loader; the first use does (once)."""
    collection_imports()
    return importlib.import_module(f"ansible_collections.{COLLECTION_NAMESPACE}.{COLLECTION_NAME}.plugins.{name}")


def collections_path(environ: dict[str, str] | None = None) -> str:
    """ANSIBLE_COLLECTIONS_PATH for a run: the package's own collection first, then what the caller
    set (or Ansible's default search path), so installed dependencies (community.general) stay found."""
    environ = os.environ if environ is None else environ
    rest = environ.get("ANSIBLE_COLLECTIONS_PATH") or environ.get("ANSIBLE_COLLECTIONS_PATHS")
    if rest is None:
        rest = os.pathsep.join([str(Path.home() / ".ansible" / "collections"), "/usr/share/ansible/collections"])
    own = str(ensure_collections_path())
    parts = [own] + [p for p in rest.split(os.pathsep) if p and p != own]
    return os.pathsep.join(parts)


def state_dir() -> Path:
    """``$AUTOGLM_PROVISION_STATE`` or the XDG state dir (``~/.local/state/autoglm-provision``)."""
    if explicit := os.environ.get("AUTOGLM_PROVISION_STATE"):
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "autoglm-provision"


def runs_dir() -> Path:
    return state_dir() / "runs"
