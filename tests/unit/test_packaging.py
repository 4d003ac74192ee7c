"""The collection inside the package: one version, custom code only under plugins/, every module
documented, filters as shims. (scripts/test-install builds and installs the wheel and sdist.)"""

import ast
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from provisioner import paths

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = paths.COLLECTION / "plugins"


def test_version_is_written_once_and_galaxy_yml_repeats_it():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert yaml.safe_load((paths.COLLECTION / "galaxy.yml").read_text())["version"] == version
    assert metadata.version("autoglm-provision") == version


def test_collection_is_found_through_the_package_not_the_working_directory():
    assert ROOT / "provisioner" / "collection" == paths.COLLECTIONS_PATH  # editable install: the checkout
    assert {p.stem for p in paths.PLAYBOOKS.glob("*.yml")} >= {"site", "check", "smoke"}
    for old in ("roles", "library", "playbooks", "module_utils", "filter_plugins"):
        assert not (ROOT / old).exists(), f"{old}/ at the repo root: content belongs in the collection"


def test_custom_code_lives_only_under_plugins():
    stray = [p.relative_to(paths.COLLECTION) for p in paths.COLLECTION.rglob("*")
             if p.is_dir() and p.name in ("library", "filter_plugins", "module_utils", "action_plugins")
             and PLUGINS not in p.parents]
    assert stray == []


@pytest.mark.parametrize("module", sorted(p.stem for p in (PLUGINS / "modules").glob("*.py")))
def test_every_module_is_documented_with_examples(module):
    tree = ast.parse((PLUGINS / "modules" / f"{module}.py").read_text())
    docs = {node.targets[0].id: node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES")}
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES"}
    assert yaml.safe_load(docs["DOCUMENTATION"])["module"] == module
    examples = yaml.safe_load(docs["EXAMPLES"])
    assert examples and all(f"autoglm.provision.{module}" in task for task in examples)


@pytest.mark.parametrize("shim", sorted(p.stem for p in (PLUGINS / "filter").glob("*.py")))
def test_filters_are_shims_over_plugin_utils(shim):
    tree = ast.parse((PLUGINS / "filter" / f"{shim}.py").read_text())
    imports = [n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module != "__future__"]
    assert imports == [f"ansible_collections.autoglm.provision.plugins.plugin_utils.{shim}"]
    assert [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))] == ["FilterModule"]


def test_package_data_carries_the_whole_collection():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "collection/**/*" in config["package-data"]["provisioner"]
    # The event callback ansible-playbook loads (provisioner.run.events): a file, not a module.
    assert "event_callback/*.py" in config["package-data"]["provisioner"]
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_execution_environment_python_is_the_base_images_venv():
    """ansible-builder's ensurepip step fails on Debian's system Python: the EE's Python is the venv
    ee/base.Containerfile makes (scripts/test-ee builds and runs the image; opt-in)."""
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    base = (ROOT / "ee" / "base.Containerfile").read_text()
    python = ee["dependencies"]["python_interpreter"]["python_path"]
    venv = python.rsplit("/bin/", 1)[0]
    assert ee["version"] == 3 and f"python3 -m venv {venv}" in base and f"PATH={venv}/bin:" in base
    assert ee["images"]["base_image"]["name"] == "localhost/autoglm-ee-base:latest"
    assert ee["options"]["package_manager_path"] == "/usr/bin/apt-get"


def test_every_python_m_module_the_docs_name_exists():
    """``python -m provisioner.replay`` stayed in docs/awx.md while it could not run a real run
    (issue #28 item 8); a module named in README.md or docs/ must at least exist."""
    import re

    named = {m for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
             for m in re.findall(r"python3? -m ((?:provisioner|autoglm_smoke)[\w.]*)", doc.read_text())}
    assert "provisioner.stack.locks" in named  # the scan finds what the docs name
    # The files of this checkout (an editable install elsewhere may still resolve a removed module).
    missing = [m for m in sorted(named) if not ((ROOT / m.replace(".", "/")).with_suffix(".py").is_file()
                                               or (ROOT / m.replace(".", "/") / "__main__.py").is_file())]
    assert not missing, missing


def test_galaxy_yml_names_the_repository_documentation_and_issues_as_pyproject_does():
    """Issue #28 item 10: galaxy.yml's links (placeholders on example.invalid until the project has a
    public address) equal the Python package's [project.urls]."""
    galaxy = yaml.safe_load((paths.COLLECTION / "galaxy.yml").read_text())
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    for key, label in (("repository", "Repository"), ("documentation", "Documentation"), ("issues", "Issues"),
                       ("homepage", "Homepage")):
        assert galaxy.get(key, "").startswith("https://"), f"galaxy.yml {key}: {galaxy.get(key)!r}"
        assert galaxy[key] == urls[label], key
