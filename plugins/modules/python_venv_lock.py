#!/usr/bin/python
"""Make a venv's installed distributions equal a lock file, touching pip only when they differ."""

from __future__ import annotations

DOCUMENTATION = r"""
module: python_venv_lock
short_description: Install exactly the distributions of a pip lock file into a venv
description:
  - Compares the venv's installed distributions (importlib.metadata, read by the venv's own
    interpreter) with the lock's entries whose environment markers apply. Only when they differ
    does it run C(pip install --no-deps -r LOCK) and uninstall what the lock does not list, then
    C(pip check). A converged venv costs no download and reports C(changed=false).
options:
  venv: {description: Path of the venv (created beforehand)., type: path, required: true}
  lock: {description: Path of the lock file on the target., type: path, required: true}
  require_hashes: {description: Pass C(--require-hashes)., type: bool, default: false}
  index_url: {description: Package index; empty keeps pip's default., type: str, default: ""}
  extra_index_urls: {description: Extra indexes (the cu118 wheel index)., type: list, elements: str, default: []}
  find_links: {description: Local wheelhouse directories., type: list, elements: path, default: []}
  no_index: {description: Use only I(find_links) (air-gapped sites)., type: bool, default: false}
  cert: {description: CA bundle pip trusts (site CA behind an inspecting proxy)., type: path}
  proxy: {description: HTTP(S) proxy URL for pip; may hold credentials., type: str}
  prune:
    description: Uninstall distributions the lock does not list (pip, setuptools, wheel are kept).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Make the venv hold exactly the lock's distributions
  autoglm.provision.python_venv_lock:
    venv: /opt/autoglm/venv
    lock: /opt/autoglm/venv/autoglm-lock.txt
    require_hashes: true
    index_url: https://pypi.example.internal/simple

- name: Install from a wheelhouse only (air-gapped site)
  autoglm.provision.python_venv_lock:
    venv: /opt/autoglm/venv
    lock: /opt/autoglm/venv/autoglm-lock.txt
    no_index: true
    find_links: [/opt/autoglm/wheelhouse]
"""

RETURN = r"""
changes:
  description: What differed from the lock (and was changed, unless in check mode).
  returned: when the venv exists
  type: dict
  contains:
    added:
      description: Name -> version installed.
      type: dict
    upgraded:
      description: Name -> C(old -> new).
      type: dict
    removed:
      description: Name -> version uninstalled (with I(prune)).
      type: dict
python:
  description: The venv interpreter's version.
  returned: when the venv exists
  type: str
  sample: 3.10.12
packages:
  description: Installed distributions afterwards, canonical name -> version.
  returned: when the venv exists
  type: dict
"""

import json  # noqa: E402 (Ansible modules start with DOCUMENTATION)
import os  # noqa: E402 (Ansible modules start with DOCUMENTATION)
import re  # noqa: E402 (Ansible modules start with DOCUMENTATION)

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (Ansible modules start with DOCUMENTATION)

# Runs inside the venv's interpreter: evaluates the lock's markers for that interpreter and
# lists what is installed. pip's vendored `packaging` is present in every venv pip lives in.
INSPECT = r"""
import json, sys
import importlib.metadata as md
from pip._vendor.packaging.markers import Marker
from pip._vendor.packaging.utils import canonicalize_name
from pip._vendor.packaging.version import Version
entries = json.load(sys.stdin)
wanted = {}
for e in entries:
    if e["marker"] and not Marker(e["marker"]).evaluate():
        continue
    wanted[canonicalize_name(e["name"])] = e["version"]
installed = {}
for dist in md.distributions():
    name = dist.metadata["Name"]
    if name:
        installed[canonicalize_name(name)] = dist.version
mismatched = sorted(n for n, v in wanted.items() if n not in installed or Version(installed[n]) != Version(v))
json.dump({"wanted": wanted, "installed": installed, "mismatched": mismatched,
           "python": ".".join(map(str, sys.version_info[:3]))}, sys.stdout)
"""

KEPT = {"pip", "setuptools", "wheel"}
REQ_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)\s*(?:;\s*(.+))?$")


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text):
    """Entries of a pip requirements lock: ``name==version [; marker] [--hash=...]`` per entry.

    Continuation lines (trailing backslash) are joined; comments and blank lines are ignored.
    Anything that is not an exact ``==`` pin raises ValueError: a lock pins everything.
    """
    entries, logical = [], []
    buffer = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    if buffer.strip():
        logical.append(buffer)
    for number, line in enumerate(logical, 1):
        line = line.strip()
        if not line:
            continue
        hashes = re.findall(r"--hash[=\s]+(\S+)", line)
        requirement = re.sub(r"--hash[=\s]+\S+", "", line).strip()
        match = REQ_RE.match(requirement)
        if not match:
            raise ValueError(f"lock entry {number} is not an exact pin (name==version): {line!r}")
        name, version, marker = match.groups()
        entries.append({"name": name, "version": version, "marker": (marker or "").strip(),
                        "hashes": hashes})
    return entries


def diff(state, prune):
    """What must change: {name: (old or None, new)} to install and {name: old} to remove."""
    wanted, installed = state["wanted"], state["installed"]
    install = {n: (installed.get(n), wanted[n]) for n in state["mismatched"]}
    remove = {}
    if prune:
        remove = {n: v for n, v in installed.items() if n not in wanted and n not in KEPT}
    return install, remove


def pip_options(params):
    opts = ["--disable-pip-version-check", "--no-input"]
    if params["no_index"]:
        opts.append("--no-index")
    elif params["index_url"]:
        opts += ["--index-url", params["index_url"]]
    if not params["no_index"]:
        for url in params["extra_index_urls"]:
            opts += ["--extra-index-url", url]
    for path in params["find_links"]:
        opts += ["--find-links", path]
    if params.get("cert"):
        opts += ["--cert", params["cert"]]
    if params.get("proxy"):
        opts += ["--proxy", params["proxy"]]
    return opts


def changes_summary(install, remove):
    summary = {"added": {}, "upgraded": {}, "removed": dict(sorted(remove.items()))}
    for name, (old, new) in sorted(install.items()):
        if old is None:
            summary["added"][name] = new
        else:
            summary["upgraded"][name] = f"{old} -> {new}"
    return summary


ARGUMENT_SPEC = dict(
    venv=dict(type="path", required=True),
    lock=dict(type="path", required=True),
    require_hashes=dict(type="bool", default=False),
    index_url=dict(type="str", default=""),
    extra_index_urls=dict(type="list", elements="str", default=[]),
    find_links=dict(type="list", elements="path", default=[]),
    no_index=dict(type="bool", default=False),
    cert=dict(type="path"),
    proxy=dict(type="str", no_log=True),
    prune=dict(type="bool", default=True),
)


def read_lock_entries(module):
    try:
        with open(module.params["lock"]) as handle:
            return parse_lock(handle.read())
    except (OSError, ValueError) as error:
        module.fail_json(msg="cannot read lock {}: {}".format(module.params["lock"], error))


def inspect_venv(module, python, entries):
    """What the venv has, against the lock's entries (the INSPECT program run by the venv's Python)."""
    rc, out, err = module.run_command([python, "-I", "-c", INSPECT], data=json.dumps(entries), binary_data=True)
    if rc != 0:
        module.fail_json(msg="cannot inspect venv {}".format(module.params["venv"]), stderr=err)
    return json.loads(out)


def apply_changes(module, python, install, remove, summary):
    """pip install the lock, uninstall what it does not list, then pip check; fail on any error."""
    params = module.params
    # The venv's interpreter runs pip, so pip also reads the venv's own pip.conf (site CA).
    pip = [python, "-m", "pip"]
    if install:
        cmd = pip + ["install", "--no-deps", "-r", params["lock"]] + pip_options(params)
        if params["require_hashes"]:
            cmd.append("--require-hashes")
        rc, out, err = module.run_command(cmd)
        if rc != 0:
            module.fail_json(msg=f"pip install -r {params['lock']} failed (rc {rc})",
                             stdout=out, stderr=err, changes=summary)
    if remove:
        rc, out, err = module.run_command(pip + ["uninstall", "-y"] + sorted(remove))
        if rc != 0:
            module.fail_json(msg=f"pip uninstall failed (rc {rc})", stdout=out, stderr=err)
    rc, out, err = module.run_command(pip + ["check"])
    if rc != 0:
        module.fail_json(msg="pip check found broken requirements after installing the lock",
                         stdout=out, stderr=err, changes=summary)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    python = os.path.join(params["venv"], "bin", "python")
    if not os.access(python, os.X_OK):
        if module.check_mode:
            module.exit_json(changed=True, msg="venv {} does not exist yet".format(params["venv"]))
        module.fail_json(msg=f"venv interpreter {python} is missing")
    entries = read_lock_entries(module)
    before = inspect_venv(module, python, entries)
    install, remove = diff(before, params["prune"])
    summary = changes_summary(install, remove)
    result = dict(changed=bool(install or remove), changes=summary, python=before["python"])
    if not result["changed"] or module.check_mode:
        module.exit_json(packages=before["installed"], **result)
    apply_changes(module, python, install, remove, summary)
    after = inspect_venv(module, python, entries)
    still_install, still_remove = diff(after, params["prune"])
    if still_install or still_remove:
        module.fail_json(msg="venv still differs from the lock after pip ran",
                         differs=changes_summary(still_install, still_remove))
    module.exit_json(packages=after["installed"], **result)


if __name__ == "__main__":
    main()
