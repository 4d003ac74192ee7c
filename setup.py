"""The wheel's build steps beyond setuptools' defaults: the collection autoglm.provision, whose one
source is the repository root (galaxy.yml, meta/, plugins/, roles/, playbooks/ ...), is copied into the
package as provisioner/collection/ansible_collections/autoglm/provision, where the installed CLI finds it
(provisioner/paths.py); and the collection's PCI scan (plugins/module_utils/pci.py) into the top-level
autoglm_smoke package as autoglm_smoke/_bundled/pci.py, where `python -m autoglm_smoke` finds it (the
installed package has no collection beside it, and imports nothing from provisioner). Everything else is
declared in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# What `ansible-galaxy collection build .` puts in the collection that the CLI needs at run time
# (autoglm_smoke: the GPU smoke program, which the action autoglm_smoke_run builds from the collection).
COLLECTION_CONTENT = ("galaxy.yml", "requirements.yml", "meta", "playbooks", "plugins", "roles", "autoglm_smoke")
PACKAGED_AT = Path("provisioner", "collection", "ansible_collections", "autoglm", "provision")
LEFT_OUT = ("__pycache__", ".pyc", ".tar.gz")
PCI_SCAN = Path("plugins", "module_utils", "pci.py")
BUNDLED = Path("autoglm_smoke", "_bundled")


class BuildPyWithCollection(build_py):
    """setuptools' build_py, then the collection into the build tree. An editable install skips the
    copy: the checkout's root is the collection there."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).parent
        for name in COLLECTION_CONTENT:
            self.copy_tree_files(root / name, root, Path(self.build_lib) / PACKAGED_AT)
        self.bundle_pci_scan(root)

    def copy_tree_files(self, source: Path, root: Path, target_root: Path) -> None:
        files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        for path in files:
            if any(part == LEFT_OUT[0] or part.endswith(LEFT_OUT[1:]) for part in path.parts):
                continue
            target = target_root / path.relative_to(root)
            self.mkpath(str(target.parent))
            self.copy_file(str(path), str(target))

    def bundle_pci_scan(self, root: Path) -> None:
        bundled = Path(self.build_lib) / BUNDLED
        self.mkpath(str(bundled))
        self.copy_file(str(root / PCI_SCAN), str(bundled / "pci.py"))
        (bundled / "__init__.py").write_text("")


setup(cmdclass={"build_py": BuildPyWithCollection})
