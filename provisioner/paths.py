"""Where the project's Ansible content lives and where runs are recorded.

The content is the collection ``autoglm.provision``, shipped inside this package as package data
(``provisioner/collection/ansible_collections/autoglm/provision``) and found through
``importlib.resources``, never relative to a checkout or the working directory.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

COLLECTION_NAMESPACE = "autoglm"
COLLECTION_NAME = "provision"
COLLECTION_FQCN = f"{COLLECTION_NAMESPACE}.{COLLECTION_NAME}"

# The directory that holds ansible_collections/: the one path setting (ANSIBLE_COLLECTIONS_PATH).
# A wheel installs as plain files, so the package resource is a real directory.
COLLECTIONS_PATH = Path(str(resources.files("provisioner") / "collection"))
COLLECTION = COLLECTIONS_PATH / "ansible_collections" / COLLECTION_NAMESPACE / COLLECTION_NAME
PLAYBOOKS = COLLECTION / "playbooks"
ROLES = COLLECTION / "roles"


def plugin_utils(name: str):
    """The collection's ``plugins/plugin_utils/<name>.py`` (the logic behind the roles' filters) as a
    module, for the CLI's own checks. Loaded from the package's collection directory: in the CLI's
    process ``ansible_collections`` may be ansible-core's loader or the ``ansible`` bundle's
    namespace, neither of which knows this package's copy."""
    import importlib.util  # noqa: PLC0415
    import sys  # noqa: PLC0415

    module_name = f"_autoglm_plugin_utils_{name}"
    if module_name not in sys.modules:
        path = COLLECTION / "plugins" / "plugin_utils" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


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
