# Apache-2.0. Part of the redfish_bios module (Ansible ships it with the module; it runs on the
# controller and needs the sushy client).
"""The Redfish client side of redfish_bios: connect to the BMC with sushy, find the one system, read
its Bios attributes, pending settings and the BMC's own AttributeRegistry."""

from ansible_collections.autoglm.provision.plugins.module_utils.redfish_bios_registry import same_registry

try:
    import sushy
    from sushy import exceptions as sushy_exc

    HAS_SUSHY = True
except ImportError:  # reported by fail_json in the module's main()
    sushy = None
    sushy_exc = None
    HAS_SUSHY = False


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
    """(system summary, bios or None, attributes, pending, AttributeRegistry document or {})."""
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
        return summary, None, {}, {}, {}
    attributes = dict(bios.attributes or {})
    try:
        pending = dict(bios.pending_attributes or {})
    except (sushy_exc.SushyError, AttributeError):
        pending = {}
    registry = attribute_registry(root, bios)
    summary["bios_path"] = bios.path
    return summary, bios, attributes, pending, registry


def attribute_registry(root, bios):
    """The Bios resource's AttributeRegistry document ({} when the BMC does not serve it), read only
    from the BMC itself (never a PublicationUri on the Internet, which sushy's registry loader may
    try): the document whose own Id is the one the Bios resource names. BMCs spell that id
    differently in each place (normalised_id), and a Dell iDRAC's Registries entry carries another
    version than its Bios resource and document (BiosAttributeRegistry.v1_0_0 for v1_0_3), so after
    the entries named by Id or Registry the other BIOS entries are tried too."""
    wanted = bios.json.get("AttributeRegistry")
    if not wanted:
        return {}
    try:
        files = [root._conn.get(m["@odata.id"]).json()
                 for m in root._conn.get("/redfish/v1/Registries").json().get("Members", [])]
        named = [f for f in files if same_registry(wanted, f.get("Id")) or same_registry(wanted, f.get("Registry"))]
        others = [f for f in files if f not in named and "bios" in str(f.get("Id", "")).lower()]
        for entry in named + others:
            document = english_document(root, entry)
            if document and same_registry(wanted, document.get("Id")):
                return document
    except (sushy_exc.SushyError, ValueError, KeyError, TypeError):
        pass
    return {}


def english_document(root, registry_file):
    """The English document a Registries entry locates (Location[].Uri), or None."""
    for location in registry_file.get("Location", []):
        if location.get("Uri") and location.get("Language", "en").lower().startswith("en"):
            return root._conn.get(location["Uri"]).json()
    return None
