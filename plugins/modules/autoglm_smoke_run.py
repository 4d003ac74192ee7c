#!/usr/bin/python
"""Documentation of the action autoglm.provision.autoglm_smoke_run (plugins/action/autoglm_smoke_run.py).

The work is done by the action plugin on the controller and by shell commands on the host; this
module is never sent to a host."""

from __future__ import annotations

DOCUMENTATION = r"""
module: autoglm_smoke_run
short_description: Build the GPU smoke program, run it on the host, read its JSON report
description:
  - Builds the smoke program's zipapp on the controller from the files the collection carries (its
    C(autoglm_smoke/) folder with the collection's PCI scan, plus C(pynvml) from the controller's
    nvidia-ml-py; byte-for-byte reproducible), sends it to Ansible's
    remote temporary directory, and runs it with O(interpreter) in a scratch directory made as the
    become user. The program runs under coreutils C(timeout), which stops its process group on the
    host after O(timeout) seconds (KILL 30 s later if it is still there).
  - Reads the JSON report back, writes it to O(fetch_dir) on the controller as
    C(<inventory_hostname>.json) when given, and removes the scratch directory and the program from
    the host. No Python module runs on the host for any of it; each step is one shell command.
  - Before it makes its scratch directory, removes those that killed runs left in the host's C(TMPDIR)
    (a run interrupted between its steps, or a host shell killed with SIGKILL), only this (become)
    user's C(autoglm-gpu-smoke.*) directories, unchanged for 10 minutes and whose owner shell (the pid
    in their C(owner.pid)) is gone; the result's C(swept) lists them. The zipapp's directory in
    Ansible's remote temporary directory is not swept.
  - Never reports a change; runs in check mode too (the test is read-only).
  - Fails, naming what is missing and how to install it, when the controller's Python lacks
    nvidia-ml-py (C(meta/ee-requirements.txt) pins it for execution environments).
  - Fails on a crash (exit status other than 0 or 1), a timeout, or a missing or unreadable report.
    Exit status 1 (a failed verdict) is not a failure of this task - the caller judges the verdict.
options:
  interpreter:
    description: The Python that runs the program on the host.
    type: str
    required: true
  fallback_interpreter:
    description:
      - The Python that runs the program when the become user cannot execute O(interpreter) (missing,
        or not executable); the result's C(interpreter) says which ran. Empty = always O(interpreter).
    type: str
    default: ""
  args:
    description: The program's arguments (without C(--json-out), which this action sets).
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds the program may run on the host.
    type: int
    required: true
  fetch_dir:
    description: Controller directory for C(<inventory_hostname>.json) (created if missing); empty = not written.
    type: str
    default: ""
notes:
  - Environment variables for the program come from the task's C(environment) keyword.
"""

EXAMPLES = r"""
- name: Run the quick GPU smoke test and keep its JSON on the controller
  autoglm.provision.autoglm_smoke_run:
    interpreter: /opt/autoglm/venv/bin/python
    fallback_interpreter: /usr/bin/python3
    args: [--level, quick]
    timeout: 300
    fetch_dir: /var/tmp/smoke
  environment:
    PYTHONUNBUFFERED: "1"
  register: smoke
"""

RETURN = r"""
rc:
  description: The program's exit status (0 pass, 1 a failed verdict).
  type: int
  returned: always
stdout_lines:
  description: The program's readable summary.
  type: list
  returned: always
json:
  description: The program's JSON report, as text.
  type: str
  returned: success
json_file:
  description: Where the report was written on the controller (empty when O(fetch_dir) is empty).
  type: str
  returned: success
interpreter:
  description: The Python that ran the program.
  type: str
  returned: always
swept:
  description:
    - The scratch directories of killed smoke runs removed from the host's C(TMPDIR) before this run made its
      own; only this (become) user's C(autoglm-gpu-smoke.*) directories, unchanged for 10 minutes, whose
      owner shell is gone.
  type: list
  elements: str
  returned: always
cmd:
  description: The command that ran on the host.
  type: list
  returned: always
"""


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    module.fail_json(msg="autoglm_smoke_run is an action: it runs on the controller, never as a module on a host")


if __name__ == "__main__":
    main()
