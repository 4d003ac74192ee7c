import os
from pathlib import Path

from provisioner import paths, settings


def test_forks_sized_to_inventory_and_capped_by_cpus():
    assert settings.forks_for(3, cpu_count=2) == 3
    assert settings.forks_for(1000, cpu_count=2) == 40
    assert settings.forks_for(1000, cpu_count=64) == settings.FORKS_CAP
    assert settings.forks_for(0, cpu_count=2) == 1


def test_fleet_defaults_and_caller_overrides_win():
    env = settings.runner_env(10, environ={"ANSIBLE_FORKS": "7"})
    assert "ANSIBLE_FORKS" not in env  # the caller's own value stays in force
    assert env["ANSIBLE_PIPELINING"] == "True" and env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert "ControlPersist=120s" in env["ANSIBLE_SSH_ARGS"]  # an orphaned master cannot linger
    # One path setting: the package's own collection comes first (roles, modules, filters by FQCN).
    first = env["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep)[0]
    assert Path(first, "ansible_collections", "autoglm", "provision", "galaxy.yml").is_file()
    assert not {"ANSIBLE_ROLES_PATH", "ANSIBLE_LIBRARY", "ANSIBLE_MODULE_UTILS"} & env.keys()


def test_caller_collections_path_is_kept_after_the_packages_own():
    env = settings.runner_env(1, environ={"ANSIBLE_COLLECTIONS_PATH": "/site/collections"})
    assert env["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep) == [str(paths.COLLECTIONS_PATH), "/site/collections"]
