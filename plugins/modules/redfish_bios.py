#!/usr/bin/python
# Apache-2.0. Out-of-band BIOS prerequisite check through the BMC's Redfish service (runs on the
# controller: delegate_to localhost; needs the sushy client).
"""Read (and optionally stage) the BIOS attributes behind VT-d/AMD-Vi, SR-IOV and Above 4G Decoding."""

DOCUMENTATION = r"""
module: redfish_bios
short_description: Judge BIOS prerequisites from a BMC's Redfish Bios resource, optionally stage fixes
description:
  - Reads the system's Bios attributes and maps vendor names (Dell, HPE, Lenovo, Intel, ...) to the
    requirements C(iommu), C(sriov) and C(above_4g); unknown names fall back to the
    AttributeRegistry's display names. Verdicts are PASS, FAIL or UNKNOWN with the attribute as evidence.
  - With I(stage=true) the missing values are PATCHed to the pending settings (applied at the next
    reboot). The system is reset only with I(reboot=true).
  - With I(apply=true) the loop is closed. The missing values are PATCHed to the pending-settings
    resource the Bios resource names (C(@Redfish.Settings)), with C(@Redfish.SettingsApplyTime)
    OnReset where the service lists it (else, on Dell iDRAC, a BIOS config job is created), and with
    If-Match where that resource has an ETag. Then the system is reset (I(reset_type)), the attributes
    are re-read until they show the new values or I(apply_timeout) passes, and every attribute that
    did not take fails the task, named with the value expected and the value read, and the vendor's
    remediation. Check mode sends nothing and reports what would change.
  - Where the BMC serves the Bios resource's AttributeRegistry, every value about to be staged
    (I(stage) or I(apply), check mode included) is checked against it first. The attribute must be
    in the registry, not ReadOnly / Immutable (nor made so by a registry dependency on the current
    values), and the value among its allowed values. A refusal fails the task before anything is
    sent, naming the attribute, the value, the allowed values and the registry. Without a registry
    the values are staged unchecked and C(registry_check.checked) says so.
options:
  address:
    description: BMC host name, IP or URL (https is assumed without a scheme).
    type: str
    required: true
  username:
    description: BMC user.
    type: str
    required: true
  password:
    description: BMC password (never logged).
    type: str
    required: true
  verify_tls:
    description: Verify the BMC certificate (C(true), C(false) or a CA bundle path).
    type: str
    default: "true"
  timeout:
    description: Seconds allowed for connecting and for each request.
    type: int
    default: 15
  system_id:
    description: Redfish system Id, when the BMC manages several systems.
    type: str
  requirements:
    description: Requirements to judge.
    type: list
    elements: str
    default: [iommu, sriov, above_4g]
  extra_attributes:
    description: More attribute names per requirement, tried before the built-in ones.
    type: dict
    default: {}
  stage:
    description: PATCH disabled attributes to their enabled value in the pending BIOS settings.
    type: bool
    default: false
  reboot:
    description: After staging, restart the system (GracefulRestart) so the settings apply.
    type: bool
    default: false
  apply:
    description: Stage, reset and verify (see the description); I(stage) and I(reboot) are then not needed.
    type: bool
    default: false
  reset_type:
    description: ComputerSystem.Reset type used by I(apply).
    type: str
    default: GracefulRestart
    choices: [GracefulRestart, ForceRestart, PowerCycle]
  apply_timeout:
    description: Seconds I(apply) waits after the reset for the new values (a server's POST takes minutes).
    type: int
    default: 900
  poll_interval:
    description: Seconds between two reads of the attributes while I(apply) waits.
    type: int
    default: 15
"""

EXAMPLES = r"""
- name: Judge BIOS prerequisites through the BMC (runs on the controller)
  autoglm.provision.redfish_bios:
    address: "{{ bios_check_bmc_address }}"
    username: "{{ bios_check_bmc_username }}"
    password: "{{ bios_check_bmc_password }}"
    verify_tls: "false"
  delegate_to: localhost
  register: redfish

- name: Stage the missing settings and reboot to apply them
  autoglm.provision.redfish_bios:
    address: "{{ bios_check_bmc_address }}"
    username: "{{ bios_check_bmc_username }}"
    password: "{{ bios_check_bmc_password }}"
    stage: true
    reboot: true
  delegate_to: localhost

- name: Apply the missing settings, reset the system and verify they took
  autoglm.provision.redfish_bios:
    address: "{{ bios_check_bmc_address }}"
    username: "{{ bios_check_bmc_username }}"
    password: "{{ bios_check_bmc_password }}"
    apply: true
  delegate_to: localhost
"""

RETURN = r"""
requirements:
  description: Per requirement verdict, cause, evidence, remediation, attributes, pending and wanted values.
  type: dict
  returned: always
bmc_status:
  description: ok, auth_failed, timeout, unreachable, no_bios_resource or error.
  type: str
  returned: always
staged:
  description: Attributes PATCHed to the pending settings (or that would be, in check mode).
  type: dict
  returned: always
applied:
  description: With I(apply), how the settings were sent (settings_uri, apply_time, if_match, config_job) and the reset.
  type: dict
  returned: when apply is true
not_taken:
  description: With I(apply), each attribute whose value after the reset differs (attribute, expected, read).
  type: list
  returned: when apply is true
registry_check:
  description: >-
    The AttributeRegistry check of the values to stage: registry (its Id, or null when the BMC serves
    none), checked (false without a registry), refused ([{attribute, value, problem, allowed, reason}],
    problem being not_in_registry, read_only or value_not_allowed) and msg.
  type: dict
  returned: when the BMC was read
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.autoglm.provision.plugins.module_utils.redfish_bios_apply import (
    not_taken,
    read_until_taken,
    stage_pending,
)
from ansible_collections.autoglm.provision.plugins.module_utils.redfish_bios_attributes import (
    error_result,
    judge,
    registry_matches,
)
from ansible_collections.autoglm.provision.plugins.module_utils.redfish_bios_registry import (
    check,
    registry_attributes,
)
from ansible_collections.autoglm.provision.plugins.module_utils.redfish_bios_vendors import remediation, vendor_of
from ansible_collections.autoglm.provision.plugins.module_utils.redfish_client import (
    HAS_SUSHY,
    connect,
    fetch,
    sushy,
    sushy_exc,
)

ARGUMENT_SPEC = {
    "address": {"type": "str", "required": True},
    "username": {"type": "str", "required": True},
    "password": {"type": "str", "required": True, "no_log": True},
    "verify_tls": {"type": "str", "default": "true"},
    "timeout": {"type": "int", "default": 15},
    "system_id": {"type": "str"},
    "requirements": {"type": "list", "elements": "str", "default": ["iommu", "sriov", "above_4g"]},
    "extra_attributes": {"type": "dict", "default": {}},
    "stage": {"type": "bool", "default": False},
    "reboot": {"type": "bool", "default": False},
    "apply": {"type": "bool", "default": False},
    "reset_type": {
        "type": "str",
        "default": "GracefulRestart",
        "choices": ["GracefulRestart", "ForceRestart", "PowerCycle"],
    },
    "apply_timeout": {"type": "int", "default": 900},
    "poll_interval": {"type": "int", "default": 15},
}


def exit_bmc_error(module, bmc_status, cause, message, fix, system=None):
    """The BMC could not be read: exit unchanged (a finding, not a task failure), every requirement
    carrying the same cause, message and fix."""
    extra = {"system": system} if system is not None else {}
    module.exit_json(changed=False, bmc_status=bmc_status, staged={}, **extra,
                     requirements=error_result(module.params["requirements"], cause, message, fix))


def fetch_or_exit(module):
    """fetch(), each BMC error turned into its finding (exit_bmc_error)."""
    p = module.params
    bmc = p["address"]
    try:
        return fetch(p)
    except sushy_exc.AccessError as exc:
        status = getattr(exc, "status_code", "")
        exit_bmc_error(module, "auth_failed", "bmc_auth_failed", f"BMC {bmc} refused the credentials (HTTP {status})",
                       "Check bios_check_bmc_username / the BMC password in the vault.")
    except sushy_exc.ConnectionError as exc:
        kind = "timeout" if "timed out" in str(exc).lower() or "timeout" in str(exc).lower() else "unreachable"
        exit_bmc_error(module, kind, "bmc_" + kind,
                       "BMC {} {} (limit {}s per request)".format(
                           bmc, "timed out" if kind == "timeout" else "is unreachable", p["timeout"]),
                       "Check bios_check_bmc_address and that the controller reaches the management network.")
    except (sushy_exc.SushyError, ValueError) as exc:
        exit_bmc_error(module, "error", "bmc_error", "BMC {}: {}".format(bmc, getattr(exc, "message", None) or exc),
                       "Check the BMC's Redfish service (and bios_check_bmc_system_id).")


def stage(module, bios, system, results, to_stage):
    """PATCH the wanted attributes to the pending settings (and reboot when asked); each requirement
    then says what was staged and waits for the reboot."""
    p = module.params
    try:
        bios.set_attributes(to_stage)
        if p["reboot"]:
            root_system = connect(p).get_system(system["path"])
            root_system.reset_system(sushy.ResetType.GRACEFUL_RESTART)
        for r in results.values():
            for name, value in r["wanted"].items():
                r["evidence"].append(f"staged {name}={value!r} as a pending BIOS setting")
                r["cause"] = "pending_reboot"
    except sushy_exc.SushyError as exc:
        module.fail_json(
            msg="BMC {} did not accept the pending BIOS settings {}: {}".format(
                p["address"], to_stage, getattr(exc, "message", exc)
            ),
            requirements=results,
        )


def read_current(conn, bios_path):
    """The Bios resource's current attributes, or None while the BMC does not answer (it may be busy
    with the reset)."""
    try:
        return dict(conn.get(bios_path).json().get("Attributes") or {})
    except (sushy_exc.SushyError, ValueError):
        return None


def mark_not_taken(results, missed, fix):
    """Each requirement whose wanted attribute did not take: FAIL not_taken, with the values."""
    for r in results.values():
        mine = [m for m in missed if m["attribute"] in r["wanted"]]
        if mine:
            r["evidence"] += [f"applied {m['attribute']}={m['expected']!r} and reset; read {m['read']!r}" for m in mine]
            r.update(verdict="FAIL", cause="not_taken", remediation=fix)


def apply_and_verify(module, bios, system, results, to_stage):
    """Stage, reset, wait, re-read. Returns how it was applied, the attributes read afterwards and
    the attributes that did not take."""
    p = module.params
    root = connect(p)
    conn = root._conn
    try:
        vendor = vendor_of(system.get("manufacturer"), to_stage)
        applied = stage_pending(conn, bios.json, bios.path, to_stage, vendor)
        root.get_system(system["path"]).reset_system(sushy.ResetType(p["reset_type"]))
    except sushy_exc.SushyError as exc:
        module.fail_json(msg="BMC {} did not take the BIOS settings {} or the reset: {}".format(
            p["address"], to_stage, getattr(exc, "message", None) or exc), requirements=results)
    applied["reset"] = p["reset_type"]
    seen = read_until_taken(lambda: read_current(conn, bios.path), to_stage, p["apply_timeout"], p["poll_interval"])
    return applied, seen, not_taken(to_stage, seen)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_SUSHY:
        module.fail_json(
            msg="redfish_bios needs the Python package 'sushy' on the controller (pip install 'autoglm-provision[bmc]')"
        )
    p = module.params
    system, bios, attributes, pending, registry = fetch_or_exit(module)
    if bios is None:
        exit_bmc_error(module, "no_bios_resource", "bmc_no_bios_resource",
                       "system {} on BMC {} has no Redfish Bios resource".format(system["id"], p["address"]),
                       "Update the BMC firmware (or license) to one exposing Bios, or check in-band.", system=system)
    extra = p["extra_attributes"] or {}
    entries = registry_attributes(registry)
    matched = registry_matches(entries, attributes)
    results = {r: judge(r, attributes, pending, extra.get(r, []), matched) for r in p["requirements"]}
    to_stage = {}
    for r in results.values():
        if r["cause"] == "disabled_in_bios":
            to_stage.update(r["wanted"])
    registry_check = check(registry, to_stage, attributes)
    if (p["apply"] or p["stage"]) and registry_check["refused"]:
        exit_refused(module, system, results, registry_check)
    if p["apply"]:
        exit_applied(module, bios, system, results, to_stage, (attributes, matched, entries, registry_check))
    changed = bool(p["stage"] and to_stage)
    if changed and not module.check_mode:
        stage(module, bios, system, results, to_stage)
    module.exit_json(
        changed=changed,
        bmc_status="ok",
        system=system,
        requirements=results,
        staged=to_stage if p["stage"] else {},
        rebooted=bool(changed and p["reboot"] and not module.check_mode),
        attribute_count=len(attributes),
        registry_entries=len(entries),
        registry_check=registry_check,
    )


def exit_refused(module, system, results, registry_check):
    """The BMC's AttributeRegistry refuses a value about to be staged: fail before anything is sent,
    naming each attribute, value, the allowed values and the registry; each requirement concerned
    says so."""
    refused = {r["attribute"] for r in registry_check["refused"]}
    for r in results.values():
        if refused & set(r["wanted"]):
            r.update(cause="refused_by_registry", remediation=registry_check["msg"])
    module.fail_json(msg=registry_check["msg"], changed=False, bmc_status="ok", system=system,
                     requirements=results, staged={}, registry_check=registry_check)


def exit_applied(module, bios, system, results, to_stage, read):
    """apply=true: nothing to do, what would be done (check mode), or the loop run and the
    requirements judged again from the attributes read after the reset; a failure naming every
    attribute that did not take."""
    p = module.params
    attributes, matched, entries, registry_check = read
    applied, missed = {}, []
    if to_stage and not module.check_mode:
        applied, attributes, missed = apply_and_verify(module, bios, system, results, to_stage)
        extra = p["extra_attributes"] or {}
        results = {r: judge(r, attributes, {}, extra.get(r, []), matched) for r in p["requirements"]}
    out = dict(bmc_status="ok", system=system, requirements=results, staged=to_stage, applied=applied,
               not_taken=missed, rebooted=bool(applied), attribute_count=len(attributes),
               registry_entries=len(entries), registry_check=registry_check)
    if missed:
        fix = remediation(system.get("manufacturer"), missed)
        mark_not_taken(results, missed, fix)
        module.fail_json(msg="BIOS attributes did not take after {} on {}: {}".format(
            p["reset_type"], p["address"], ", ".join(
                "{} expected {!r}, read {!r}".format(m["attribute"], m["expected"], m["read"]) for m in missed)),
            remediation=fix, changed=True, **out)
    module.exit_json(changed=bool(to_stage), **out)


if __name__ == "__main__":
    main()
