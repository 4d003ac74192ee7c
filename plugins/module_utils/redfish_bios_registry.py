# Apache-2.0. Part of the redfish_bios module (Ansible ships it with the module; it runs on the
# controller). Pure: no Redfish client.
"""Check the BIOS values redfish_bios is about to stage against the BMC's own AttributeRegistry
(the vendor's description of every attribute: its allowed values, ReadOnly / Immutable, and the
dependencies that make it read-only while other attributes hold certain values), so that a value
the BIOS would refuse is named before anything is staged instead of after a reboot."""

import re

# A registry entry that may not be written (Redfish AttributeRegistry: ReadOnly; Immutable
# attributes "shall not be modified"). GrayOut is not here: a grayed-out attribute "can be modified".
READ_ONLY_PROPERTIES = ("ReadOnly", "Immutable")
NOT_SERVED = (
    "the BMC serves no BIOS AttributeRegistry for this Bios resource: attribute names, "
    "read-only state and values were not checked before staging"
)


def normalised_id(registry_id):
    """Registry ids as BMCs spell them in different places compare equal: Supermicro's Bios names
    BiosAttributeRegistry.v1_0_0, its Registries entry BiosAttributeRegistry.1.0.0 and the document
    BiosAttributeRegistry.1_0_0."""
    text = str(registry_id or "").strip().lower()
    return re.sub(r"\.v(?=\d)", ".", text).replace("_", ".")


def same_registry(first, second):
    return bool(first) and bool(second) and normalised_id(first) == normalised_id(second)


def registry_id(registry):
    return (registry or {}).get("Id")


def registry_attributes(registry):
    """The registry document's attribute entries ([] for none)."""
    return list(((registry or {}).get("RegistryEntries") or {}).get("Attributes") or [])


def registry_dependencies(registry):
    return list(((registry or {}).get("RegistryEntries") or {}).get("Dependencies") or [])


def allowed_values(entry, current):
    """The values an Enumeration attribute takes: its ValueNames; or its ValueDisplayNames where the
    BMC itself reports the attribute by display name (a Supermicro X13 registry lists ValueName
    "0"/"1" and the Bios resource reads "Enabled"; the BMC takes what it reports)."""
    values = [v for v in entry.get("Value") or [] if isinstance(v, dict)]
    names = [v.get("ValueName") for v in values if v.get("ValueName") is not None]
    shown = [v.get("ValueDisplayName") for v in values if v.get("ValueDisplayName") is not None]
    if current in shown and current not in names:
        return shown
    return names


def condition_holds(term, attributes):
    """One MapFrom term against the current attributes: True, False, or None where it cannot be
    told here (a property other than CurrentValue, an unknown condition, an absent attribute)."""
    if term.get("MapFromProperty") != "CurrentValue" or term.get("MapFromAttribute") not in attributes:
        return None
    current, value = attributes[term["MapFromAttribute"]], term.get("MapFromValue")
    condition = term.get("MapFromCondition")
    if condition in ("EQU", "NEQ"):
        return (current == value) == (condition == "EQU")
    compare = {"GTR": float.__gt__, "GEQ": float.__ge__, "LSS": float.__lt__, "LEQ": float.__le__}.get(condition)
    try:
        return compare(float(current), float(value)) if compare else None
    except (TypeError, ValueError):
        return None


def dependency_holds(dependency, attributes):
    """A Map dependency's MapFrom terms, combined left to right by each term's MapTerms (AND / OR);
    False when any term cannot be told (never refuse on a guess)."""
    result = None
    for term in dependency.get("MapFrom") or []:
        held = condition_holds(term, attributes)
        if held is None:
            return False
        if result is None:
            result = held
        elif str(term.get("MapTerms") or "AND").upper() == "OR":
            result = result or held
        else:
            result = result and held
    return bool(result)


def read_only_reason(entry, dependencies, attributes):
    """Why this attribute cannot be written now (None when it can): the entry's own ReadOnly /
    Immutable, or a dependency that makes it so while other attributes hold their current values
    (HPE: a WorkloadProfile other than Custom pins Sriov and ProcAmdIoVt)."""
    for prop in READ_ONLY_PROPERTIES:
        if entry.get(prop) is True:
            return prop
    for dep in dependencies:
        rule = dep.get("Dependency") or {}
        if (
            dep.get("Type", "Map") == "Map"
            and rule.get("MapToAttribute") == entry.get("AttributeName")
            and rule.get("MapToProperty") in READ_ONLY_PROPERTIES
            and rule.get("MapToValue") is True
            and dependency_holds(rule, attributes)
        ):
            held = ", ".join(
                "{}={!r}".format(t.get("MapFromAttribute"), t.get("MapFromValue")) for t in rule.get("MapFrom") or []
            )
            return "{} while {}".format(rule["MapToProperty"], held)
    return None


def value_problem(entry, value, current):
    """(problem, allowed values) when the registry does not take value for this entry, else None."""
    kind = entry.get("Type")
    if kind == "Enumeration":
        allowed = allowed_values(entry, current)
        return None if value in allowed else ("value_not_allowed", allowed)
    if kind == "Boolean" and not isinstance(value, bool):
        return ("value_not_allowed", [True, False])
    return None


def refusals(registry, changes, attributes):
    """[{attribute, value, problem, allowed, reason}] for every change the registry refuses:
    not_in_registry, read_only or value_not_allowed."""
    entries = {e.get("AttributeName"): e for e in registry_attributes(registry)}
    dependencies = registry_dependencies(registry)
    found = []
    for name, value in changes.items():
        entry = entries.get(name)
        if entry is None:
            found.append({"attribute": name, "value": value, "problem": "not_in_registry", "allowed": [], "reason": ""})
            continue
        reason = read_only_reason(entry, dependencies, attributes)
        if reason:
            found.append({"attribute": name, "value": value, "problem": "read_only", "allowed": [], "reason": reason})
            continue
        problem = value_problem(entry, value, attributes.get(name))
        if problem:
            found.append(
                {"attribute": name, "value": value, "problem": problem[0], "allowed": problem[1], "reason": ""}
            )
    return found


def describe(refusal):
    name, value = refusal["attribute"], refusal["value"]
    if refusal["problem"] == "not_in_registry":
        return f"{name}={value!r}: no such attribute in the registry"
    if refusal["problem"] == "read_only":
        return f"{name}={value!r}: the attribute is read-only ({refusal['reason']})"
    allowed = ", ".join(repr(v) for v in refusal["allowed"])
    return f"{name}={value!r}: not an allowed value (allowed: {allowed})"


def check(registry, changes, attributes):
    """What the module reports as registry_check: the registry id, whether the changes were checked,
    and each refusal with its message."""
    if not registry_attributes(registry):
        return {"registry": None, "checked": False, "refused": [], "msg": NOT_SERVED}
    found = refusals(registry, changes, attributes)
    msg = ""
    if found:
        msg = "BIOS AttributeRegistry {} refuses {}".format(
            registry_id(registry), "; ".join(describe(r) for r in found)
        )
    return {"registry": registry_id(registry), "checked": True, "refused": found, "msg": msg}
