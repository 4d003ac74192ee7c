"""Where the project's Ansible content lives and where runs are recorded.

The content is the collection ``autoglm.provision``, shipped inside this package as package data
(``provisioner/collection/ansible_collections/autoglm/provision``) and found through
``importlib.resources``, never relative to a checkout or the working directory.
"""

from __future__ import annotations

import importlib
import os
from importlib import resources
from pathlib import Path
from types import ModuleType

COLLECTION_NAMESPACE = "autoglm"
COLLECTION_NAME = "provision"
COLLECTION_FQCN = f"{COLLECTION_NAMESPACE}.{COLLECTION_NAME}"

# The directory that holds ansible_collections/: the one path setting (ANSIBLE_COLLECTIONS_PATH).
# A wheel installs as plain files, so the package resource is a real directory.
COLLECTIONS_PATH = Path(str(resources.files("provisioner") / "collection"))
COLLECTION = COLLECTIONS_PATH / "ansible_collections" / COLLECTION_NAMESPACE / COLLECTION_NAME
PLAYBOOKS = COLLECTION / "playbooks"
ROLES = COLLECTION / "roles"
# The sample inventory `autoglm-provision init DIR` copies: package data (in the checkout a link to
# inventory/sample, which setuptools copies into the wheel and the sdist as plain files).
SAMPLE_INVENTORY = Path(str(resources.files("provisioner") / "sample_inventory"))


def load_project_file(path: Path) -> object:
    """The package's own YAML (role specs and defaults, playbooks and task files), read on every
    CLI start: libyaml's safe loader where PyYAML has it (several times faster than the pure-Python
    one), the pure-Python safe loader otherwise. No location tracking: these files are ours."""
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
        init_plugin_loader([str(COLLECTIONS_PATH)])



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
    parts = [str(COLLECTIONS_PATH)] + [p for p in rest.split(os.pathsep) if p and p != str(COLLECTIONS_PATH)]
    return os.pathsep.join(parts)


def state_dir() -> Path:
    """``$AUTOGLM_PROVISION_STATE`` or the XDG state dir (``~/.local/state/autoglm-provision``)."""
    if explicit := os.environ.get("AUTOGLM_PROVISION_STATE"):
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "autoglm-provision"


def runs_dir() -> Path:
    return state_dir() / "runs"
