"""Every async task of the collection keeps its job files at one absolute path (issue #28 item 5):
with Ansible's default ~/.ansible_async, the async wrapper expands ~ from $HOME and async_status from
the account's home, so a $HOME that is not the account's (sudo -E, CI containers, AWX execution
environments) ends the task with "could not find job" (ansible/ansible#81805). The run itself is
tested by tests/integration/test_cli_local.py (check with a foreign $HOME)."""

from __future__ import annotations

import yaml

from provisioner import paths

COLLECTION = paths.ROLES.parent
ASYNC_DIR = "{{ autoglm_async_dir | default('~/.ansible_async') }}"


def _tasks(items):
    for task in items or []:
        if isinstance(task, dict):
            yield task
            for key in ("block", "rescue", "always"):
                yield from _tasks(task.get(key))


def async_tasks() -> list[tuple[str, dict]]:
    found = []
    # The collection's task files (the root is also the project: its .venv, molecule/ and tests are not).
    for path in sorted([*paths.ROLES.rglob("*.yml"), *paths.PLAYBOOKS.rglob("*.yml")]):
        if not {"tasks", "handlers", "playbooks"} & set(path.relative_to(COLLECTION).parts):
            continue
        data = yaml.safe_load(path.read_text())
        for item in data if isinstance(data, list) else []:
            if not isinstance(item, dict):
                continue
            for tasks in ([item], *(item.get(k) for k in ("tasks", "pre_tasks", "post_tasks", "handlers"))):
                where = path.relative_to(COLLECTION)
                found += [(f"{where}: {t.get('name')}", t) for t in _tasks(tasks) if "async" in t]
    return found


def test_every_async_task_sets_the_absolute_async_dir_the_common_role_publishes():
    found = async_tasks()
    assert len(found) >= 1, found  # the apt refresh at least (the GPU smoke run has no async: one action task)
    wrong = [where for where, task in found if (task.get("vars") or {}).get("ansible_async_dir") != ASYNC_DIR]
    assert not wrong, f"async tasks without vars.ansible_async_dir: {ASYNC_DIR}: {wrong}"
    common = yaml.safe_load((paths.ROLES / "common" / "tasks" / "main.yml").read_text())
    published = [t["ansible.builtin.set_fact"]["autoglm_async_dir"] for t in common
                 if "autoglm_async_dir" in (t.get("ansible.builtin.set_fact") or {})]
    assert published == ["{{ ansible_facts.user_dir }}/.ansible_async"]  # the passwd entry's home, never $HOME
