#!/usr/bin/python
# Apache-2.0. Out-of-band BIOS prerequisite check through the BMC's Redfish service (runs on the
# controller: delegate_to localhost; needs the sushy client).
"""Read (and optionally stage) the BIOS attributes behind VT-d/AMD-Vi, SR-IOV and Above 4G Decoding."""

import re

from ansible.module_utils.basic import AnsibleModule

try:
    import sushy
    from sushy import exceptions as sushy_exc

    HAS_SUSHY = True
except ImportError:  # reported by fail_json in main()
    HAS_SUSHY = False

DOCUMENTATION = r"""
module: redfish_bios
short_description: Judge BIOS prerequisites from a BMC's Redfish Bios resource, optionally stage fixes
description:
  - Reads the system's Bios attributes and maps vendor names (Dell, HPE, Lenovo, Intel, ...) to the
    requirements C(iommu), C(sriov) and C(above_4g); unknown names fall back to the
    AttributeRegistry's display names. Verdicts are PASS, FAIL or UNKNOWN with the attribute as evidence.
  - With I(stage=true) the missing values are PATCHed to the pending settings (applied at the next
    reboot). The system is reset only with I(reboot=true).
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
"""

# Attribute names by requirement: (name, who uses it). Every listed attribute present on the system
# must be enabled (HPE gates IntelProcVtd behind ProcVirtualization; Dell's ProcVirtualization
# alone switches VT-x and VT-d).
KNOWN_ATTRIBUTES = {
    "iommu": [
        ("IntelProcVtd", "HPE (Intel)"),
        ("ProcAmdIOMMU", "HPE (AMD)"),
        ("Processors_IntelVTforDirectedIOVTd", "Lenovo"),
        ("VTdSupport", "Intel"),
        ("IntelVTForDirectedIO", "Supermicro"),
        ("ProcVirtualization", "Dell/HPE"),
    ],
    "sriov": [
        ("SriovGlobalEnable", "Dell"),
        ("Sriov", "HPE"),
        ("SRIOVEnable", "Intel"),
        ("DevicesandIOPorts_SRIOV", "Lenovo"),
        ("SRIOVSupport", "Supermicro"),
    ],
    "above_4g": [
        ("MmioAbove4Gb", "Dell"),
        ("DevicesandIOPorts_Above4GBDecoding", "Lenovo"),
        ("MMIOAbove4GB", "Intel"),
        ("Above4GDecoding", "Supermicro"),
    ],
}
DISPLAY_NAME = {
    "iommu": re.compile(r"VT-?d\b|Directed I/?O|\bIOMMU\b|AMD-?Vi\b", re.I),
    "sriov": re.compile(r"SR-?IOV", re.I),
    "above_4g": re.compile(r"Above\s*4\s*G|above 4 ?GB|4G\s*Decod|64-?bit MMIO", re.I),
}
ENABLED = {"enabled", "enable", "on", "true", "yes"}
ON_FOR_OFF = {"disabled": "Enabled", "disable": "Enable", "off": "On", "false": "True", "no": "Yes"}


def is_enabled(value):
    return value is True or str(value).strip().lower() in ENABLED


def enabled_value(current, allowed):
    """The value that switches an attribute on: from the registry's allowed values, else by symmetry."""
    if isinstance(current, bool):
        return True
    for value in allowed or []:
        name = value.get("ValueName") if isinstance(value, dict) else value
        if name is not None and is_enabled(name):
            return name
    return ON_FOR_OFF.get(str(current).strip().lower(), "Enabled")


def registry_matches(registry_entries, attributes):
    """{requirement: [(name, display name, allowed values)]} from the AttributeRegistry's display names."""
    found = {}
    for entry in registry_entries or []:
        name, display = entry.get("AttributeName"), entry.get("DisplayName") or ""
        if name not in attributes:
            continue
        for req, pattern in DISPLAY_NAME.items():
            if pattern.search(display):
                found.setdefault(req, []).append((name, display, entry.get("Value")))
    return found


def judge(req, attributes, pending, extra_names, registry):
    """Verdict for one requirement from the attribute map (pure: what the unit tests call)."""
    names = [(n, "inventory") for n in extra_names] + KNOWN_ATTRIBUTES.get(req, [])
    present = [(n, who, None) for n, who in names if n in attributes]
    source = "attribute name"
    if not present:
        present = [(n, f"registry: {d}", allowed) for n, d, allowed in registry.get(req, [])]
        source = "AttributeRegistry display name"
    out = {"attributes": {n: attributes[n] for n, _w, _a in present}, "pending": {}, "evidence": [], "wanted": {}}
    if not present:
        out.update(
            verdict="UNKNOWN",
            cause="attribute_not_found",
            evidence=[
                f"no known BIOS attribute for {req} among {len(attributes)} attributes (and none in the registry)"
            ],
            remediation=f"Add this vendor's attribute name to bios_check_bmc_extra_attributes.{req}.",
        )
        return out
    for name, who, allowed in present:
        value = attributes[name]
        note = ""
        if name in pending and pending[name] != value:
            out["pending"][name] = pending[name]
            note = f", pending {pending[name]!r} until the next reboot"
        out["evidence"].append(f"Bios attribute {name} = {value!r} ({who}, by {source}{note})")
        if not is_enabled(value):
            out["wanted"][name] = enabled_value(value, allowed)
    if out["wanted"]:
        staged = all(is_enabled(out["pending"].get(n)) for n in out["wanted"])
        out.update(
            verdict="FAIL",
            cause="pending_reboot" if staged else "disabled_in_bios",
            remediation="Set {} in the BIOS (bios_check_bmc_stage_changes: true stages it as a pending "
            "setting through Redfish; it applies at the next reboot){}.".format(
                ", ".join("{}={}".format(*kv) for kv in out["wanted"].items()),
                ": already staged, reboot the host" if staged else "",
            ),
        )
    else:
        out.update(verdict="PASS", cause=None, remediation="")
    return out


def connect(params):
    address = params["address"]
    url = address if "://" in address else "https://" + address
    verify = params["verify_tls"]
    verify = {"true": True, "false": False}.get(verify.lower(), verify)
    auth = sushy.auth.BasicAuth(params["username"], params["password"])
    return sushy.Sushy(
        url,
        auth=auth,
        verify=verify,
        read_timeout=params["timeout"],
        connect_timeout=params["timeout"],
        server_side_retries=1,
        server_side_retries_delay=0,
    )


def fetch(params):
    """(system summary, bios or None, attributes, pending, registry entries)."""
    root = connect(params)
    if params["system_id"]:
        system = root.get_system("/redfish/v1/Systems/{}".format(params["system_id"]))
    else:
        members = root.get_system_collection().members_identities
        if len(members) != 1:
            raise ValueError(
                f"the BMC manages {len(members)} systems ({', '.join(sorted(members))}): set bios_check_bmc_system_id"
            )
        system = root.get_system(list(members)[0])
    summary = {
        "id": system.identity,
        "manufacturer": system.manufacturer,
        "model": system.model,
        "bios_version": system.bios_version,
        "path": system.path,
    }
    try:
        bios = system.bios
    except (sushy_exc.MissingAttributeError, sushy_exc.ResourceNotFoundError, sushy_exc.HTTPError):
        return summary, None, {}, {}, []
    attributes = dict(bios.attributes or {})
    try:
        pending = dict(bios.pending_attributes or {})
    except (sushy_exc.SushyError, AttributeError):
        pending = {}
    registry = attribute_registry(root, bios)
    summary["bios_path"] = bios.path
    return summary, bios, attributes, pending, registry


def attribute_registry(root, bios):
    """The Bios AttributeRegistry's entries, read only from the BMC itself (never a PublicationUri
    on the Internet, which sushy's registry loader may try); [] when the BMC does not serve it."""
    wanted = bios.json.get("AttributeRegistry")
    if not wanted:
        return []
    try:
        files = root._conn.get("/redfish/v1/Registries").json().get("Members", [])
        for member in files:
            entry = root._conn.get(member["@odata.id"]).json()
            if wanted not in (entry.get("Id"), entry.get("Registry")):
                continue
            for location in entry.get("Location", []):
                if location.get("Uri") and location.get("Language", "en").lower().startswith("en"):
                    body = root._conn.get(location["Uri"]).json()
                    return body.get("RegistryEntries", {}).get("Attributes", [])
    except (sushy_exc.SushyError, ValueError, KeyError, TypeError):
        pass
    return []


def error_result(reqs, cause, message, remediation):
    return {
        r: {
            "verdict": "UNKNOWN",
            "cause": cause,
            "evidence": [message],
            "remediation": remediation,
            "attributes": {},
            "pending": {},
            "wanted": {},
        }
        for r in reqs
    }


def main():
    module = AnsibleModule(
        argument_spec={
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
        },
        supports_check_mode=True,
    )
    if not HAS_SUSHY:
        module.fail_json(
            msg="redfish_bios needs the Python package 'sushy' on the controller (pip install 'autoglm-provision[bmc]')"
        )
    p = module.params
    reqs = p["requirements"]
    bmc = p["address"]
    try:
        system, bios, attributes, pending, registry = fetch(p)
    except sushy_exc.AccessError as exc:
        status = getattr(exc, "status_code", "")
        module.exit_json(
            changed=False,
            bmc_status="auth_failed",
            staged={},
            requirements=error_result(
                reqs,
                "bmc_auth_failed",
                f"BMC {bmc} refused the credentials (HTTP {status})",
                "Check bios_check_bmc_username / the BMC password in the vault.",
            ),
        )
    except sushy_exc.ConnectionError as exc:
        kind = "timeout" if "timed out" in str(exc).lower() or "timeout" in str(exc).lower() else "unreachable"
        module.exit_json(
            changed=False,
            bmc_status=kind,
            staged={},
            requirements=error_result(
                reqs,
                "bmc_" + kind,
                "BMC {} {} (limit {}s per request)".format(
                    bmc, "timed out" if kind == "timeout" else "is unreachable", p["timeout"]
                ),
                "Check bios_check_bmc_address and that the controller reaches the management network.",
            ),
        )
    except (sushy_exc.SushyError, ValueError) as exc:
        module.exit_json(
            changed=False,
            bmc_status="error",
            staged={},
            requirements=error_result(
                reqs,
                "bmc_error",
                "BMC {}: {}".format(bmc, getattr(exc, "message", None) or exc),
                "Check the BMC's Redfish service (and bios_check_bmc_system_id).",
            ),
        )
    if bios is None:
        module.exit_json(
            changed=False,
            bmc_status="no_bios_resource",
            system=system,
            staged={},
            requirements=error_result(
                reqs,
                "bmc_no_bios_resource",
                "system {} on BMC {} has no Redfish Bios resource".format(system["id"], bmc),
                "Update the BMC firmware (or license) to one exposing Bios, or check in-band.",
            ),
        )
    extra = p["extra_attributes"] or {}
    matched = registry_matches(registry, attributes)
    results = {r: judge(r, attributes, pending, extra.get(r, []), matched) for r in reqs}
    to_stage = {}
    for r in results.values():
        if r["cause"] == "disabled_in_bios":
            to_stage.update(r["wanted"])
    changed = False
    if p["stage"] and to_stage:
        changed = True
        if not module.check_mode:
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
                        bmc, to_stage, getattr(exc, "message", exc)
                    ),
                    requirements=results,
                )
    module.exit_json(
        changed=changed,
        bmc_status="ok",
        system=system,
        requirements=results,
        staged=to_stage if p["stage"] else {},
        rebooted=bool(changed and p["reboot"] and not module.check_mode),
        attribute_count=len(attributes),
        registry_entries=len(registry),
    )


if __name__ == "__main__":
    main()
