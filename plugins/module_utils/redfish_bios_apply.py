# Apache-2.0. Part of the redfish_bios module (Ansible ships it with the module; it runs on the
# controller). Talks to the BMC only through the sushy connector it is given.
"""Apply -> reset -> verify: PATCH the wanted BIOS attributes to the pending-settings resource the
BMC names, the way it asks for them; reset the system; re-read until the values are there or the
time is up; name every attribute that did not take."""

import time

# The apply time asked for where the service lists it (@Redfish.Settings SupportedApplyTimes):
# Dell iDRAC then schedules the BIOS config job itself; Lenovo XCC lists it too.
APPLY_TIME = "OnReset"
# An iDRAC that does not list OnReset (firmware before SettingsApplyTime support) applies pending
# BIOS settings only through a config job created here (Dell's documented URI and body).
DELL_JOBS = "/redfish/v1/Managers/iDRAC.Embedded.1/Jobs"


def settings_target(bios_json, bios_path):
    """(pending-settings URI, supported apply times) from the Bios resource's @Redfish.Settings;
    a service without that annotation takes the PATCH on the Bios resource itself."""
    settings = bios_json.get("@Redfish.Settings") or {}
    uri = (settings.get("SettingsObject") or {}).get("@odata.id") or bios_path
    return uri, list(settings.get("SupportedApplyTimes") or [])


def patch_body(changes, apply_times):
    body = {"Attributes": dict(changes)}
    if APPLY_TIME in apply_times:
        body["@Redfish.SettingsApplyTime"] = {"ApplyTime": APPLY_TIME}
    return body


def settings_etag(conn, uri):
    """The pending resource's ETag (header, else @odata.etag), sent back as If-Match: Supermicro
    refuses a PATCH of Bios/SD without it."""
    response = conn.get(uri)
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.headers.get("ETag") or body.get("@odata.etag")


def stage_pending(conn, bios_json, bios_path, changes, vendor):
    """PATCH the changes as pending settings (and, on a Dell without an apply time, create the
    config job); returns how (URI, apply time, If-Match sent, config job)."""
    uri, apply_times = settings_target(bios_json, bios_path)
    body = patch_body(changes, apply_times)
    etag = settings_etag(conn, uri)
    conn.patch(uri, data=body, etag=etag)
    apply_time = body.get("@Redfish.SettingsApplyTime", {}).get("ApplyTime")
    job = None
    if vendor == "dell" and apply_time is None:
        job = conn.post(DELL_JOBS, data={"TargetSettingsURI": uri}).headers.get("Location") or DELL_JOBS
    return {"settings_uri": uri, "apply_time": apply_time, "if_match": bool(etag), "config_job": job}


def same_value(read, expected):
    return read is not None and str(read).strip().lower() == str(expected).strip().lower()


def not_taken(wanted, seen):
    """[{attribute, expected, read}] for every wanted attribute whose current value differs."""
    return [
        {"attribute": name, "expected": value, "read": seen.get(name, "<absent>")}
        for name, value in wanted.items()
        if not same_value(seen.get(name), value)
    ]


def read_until_taken(read_attributes, wanted, timeout, interval, clock=time.monotonic, sleep=time.sleep):
    """Re-read the current attributes (read_attributes() -> dict, or None while the BMC does not
    answer) until every wanted value is there or timeout seconds pass; the last answer, or {}."""
    deadline = clock() + timeout
    seen = {}
    while True:
        seen = read_attributes() or seen
        if not not_taken(wanted, seen) or clock() >= deadline:
            return seen
        sleep(interval)
