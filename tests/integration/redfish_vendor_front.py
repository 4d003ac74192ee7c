"""A BMC vendor's pending-settings model in front of sushy-emulator, for redfish_bios's apply tests.

Why a front: sushy-emulator 2.2 has one settings URI (BIOS/Settings) and applies a PATCH at once;
a real BMC keeps the values at its own pending URI until the system resets, and each vendor asks for
them its own way. What is real: the emulator (libvirt test:///default) keeps the attributes, checks
the credentials and performs ComputerSystem.Reset; the vendor's Bios annotations and attribute
names come from the real payloads in tests/fixtures/redfish_bios/ (see its README). What is faked
here, and only here:

- GET <system>/BIOS: the emulator's answer with the fixture's @Redfish.Settings (its
  SupportedApplyTimes; the SettingsObject moved onto this system, e.g. <system>/Bios/SD);
- GET / PATCH of that settings URI: the pending values, held by this front. Every GET answers an
  ETag; the Supermicro model refuses a PATCH without the matching If-Match (HTTP 412), and the Dell
  model keeps a PATCH without @Redfish.SettingsApplyTime pending and applies it only once a config
  job names it (POST /redfish/v1/Managers/iDRAC.Embedded.1/Jobs {"TargetSettingsURI": ...}, as on
  an iDRAC; the job is recorded here, nothing runs it but the reset);
- POST <system>/Actions/ComputerSystem.Reset: forwarded; then the pending values are PATCHed to the
  emulator (which stores them) less the attributes in `drop`: a BIOS that refuses a value at POST;
- with `registry` (the vendor's real Registries entry and AttributeRegistry document,
  tests/fixtures/redfish/registries/): GET /redfish/v1/Registries lists that one entry, and the entry
  and its English Location URI answer the real files. Without it, /redfish/v1/Registries is the
  emulator's, whose only BIOS document (BiosAttributeRegistryP89.v1_0_0, describing the emulator's
  default attributes) is not the registry the vendor's Bios names: a BMC that serves no registry
  for its Bios. Either way GET <system>/BIOS names the fixture's AttributeRegistry.
Everything else is forwarded unchanged. Requests to the front are kept in `log` for the tests.
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

DELL_JOBS = "/redfish/v1/Managers/iDRAC.Embedded.1/Jobs"


class VendorFront:
    def __init__(self, upstream: str, system: str, fixture: dict, vendor: str, drop=(), registry=None):
        self.upstream, self.system, self.vendor, self.drop = upstream, system, vendor, set(drop)
        self.attribute_registry = fixture["bios"].get("AttributeRegistry")
        self.registry_files = registry_routes(registry) if registry else {}
        self.settings = dict(fixture["bios"]["@Redfish.Settings"])
        self.settings_uri = f"{system}/{fixture['settings_path']}"
        self.settings["SettingsObject"] = {"@odata.id": self.settings_uri}
        self.pending: dict = {}
        self.apply_time = None
        self.version = 1
        self.log: list[tuple[str, str, dict]] = []

    # -- the vendor model --------------------------------------------------------------
    def etag(self) -> str:
        return f'"{self.vendor}-{self.version}"'

    def patch_pending(self, headers, body):
        if self.vendor == "supermicro" and headers.get("If-Match") != self.etag():
            return 412, {"error": {"message": "If-Match missing or stale"}}
        self.pending.update(body.get("Attributes") or {})
        self.apply_time = (body.get("@Redfish.SettingsApplyTime") or {}).get("ApplyTime") or self.apply_time
        self.version += 1
        return 200, {"@Message.ExtendedInfo": [{"MessageId": "Base.1.8.Success"}]}

    def create_job(self, body):
        if self.vendor != "dell" or body.get("TargetSettingsURI") != self.settings_uri:
            return 400, {"error": {"message": "TargetSettingsURI is not this system's BIOS settings"}}, {}
        self.apply_time = "OnReset"
        return 200, {}, {"Location": f"{DELL_JOBS}/JID_000000000001"}

    def on_reset(self, auth):
        """The BIOS applies the pending values at POST (Dell: only with a scheduled job)."""
        if self.vendor == "dell" and self.apply_time != "OnReset":
            return
        taken = {k: v for k, v in self.pending.items() if k not in self.drop}
        if taken:
            requests.patch(
                f"{self.upstream}{self.system}/BIOS/Settings",
                json={"Attributes": taken},
                headers={"Authorization": auth},
                timeout=10,
            ).raise_for_status()
        self.pending, self.apply_time = {}, None
        self.version += 1


def registry_routes(registry) -> dict:
    """{path: body} for the vendor's Registries collection, entry and English document."""
    entry, document = registry
    english = next(loc["Uri"] for loc in entry["Location"] if loc.get("Language", "en").startswith("en"))
    collection = {
        "@odata.id": "/redfish/v1/Registries",
        "@odata.type": "#MessageRegistryFileCollection.MessageRegistryFileCollection",
        "Name": "Registry File Collection",
        "Members": [{"@odata.id": entry["@odata.id"]}],
        "Members@odata.count": 1,
    }
    return {"/redfish/v1/Registries": collection, entry["@odata.id"]: entry, english: document}


class FrontHandler(BaseHTTPRequestHandler):
    """HTTP side of VendorFront; vendor_front() makes a subclass bound to one front."""

    front: VendorFront

    def log_message(self, *args):  # the tests read front.log, not stderr
        pass

    def body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def answer(self, status, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def forward(self, method, body=None):
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        reply = requests.request(
            method,
            self.front.upstream + self.path,
            headers=headers,
            timeout=10,
            data=json.dumps(body) if body is not None else None,
        )
        content = reply.json() if reply.content else None
        return reply.status_code, content

    def authorised(self) -> bool:
        check = requests.get(
            f"{self.front.upstream}{self.front.system}",
            timeout=10,
            headers={"Authorization": self.headers.get("Authorization", "")},
        )
        return check.status_code == 200

    def do_GET(self):
        self.front.log.append(("GET", self.path, {}))
        if self.path == self.front.settings_uri:
            if not self.authorised():
                return self.answer(401, {"error": {"message": "unauthorised"}})
            body = {"@odata.id": self.front.settings_uri, "Id": "Settings", "Attributes": self.front.pending}
            return self.answer(200, body, {"ETag": self.front.etag()})
        if self.path in self.front.registry_files:
            if not self.authorised():
                return self.answer(401, {"error": {"message": "unauthorised"}})
            return self.answer(200, self.front.registry_files[self.path])
        status, body = self.forward("GET")
        if self.path == f"{self.front.system}/BIOS" and status == 200:
            body["@Redfish.Settings"] = self.front.settings
            if self.front.attribute_registry:
                body["AttributeRegistry"] = self.front.attribute_registry
        self.answer(status, body)

    def do_PATCH(self):
        body = self.body()
        self.front.log.append(("PATCH", self.path, {"body": body, "If-Match": self.headers.get("If-Match")}))
        if self.path != self.front.settings_uri:
            return self.answer(*self.forward("PATCH", body))
        if not self.authorised():
            return self.answer(401, {"error": {"message": "unauthorised"}})
        self.answer(*self.front.patch_pending(self.headers, body))

    def do_POST(self):
        body = self.body()
        self.front.log.append(("POST", self.path, {"body": body}))
        if self.path == DELL_JOBS:
            if not self.authorised():
                return self.answer(401, {"error": {"message": "unauthorised"}})
            return self.answer(*self.front.create_job(body))
        status, reply = self.forward("POST", body)
        if self.path.endswith("/Actions/ComputerSystem.Reset") and status < 300:
            self.front.on_reset(self.headers.get("Authorization", ""))
        self.answer(status, reply)


@contextlib.contextmanager
def vendor_front(emulator, fixture: dict, vendor: str, drop=(), registry=None):
    """Serve the vendor model on 127.0.0.1; yields (front url, VendorFront). registry: (Registries
    entry, AttributeRegistry document) to serve, or None."""
    base, system = emulator
    front = VendorFront(base, system, fixture, vendor, drop, registry)
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (FrontHandler,), {"front": front}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", front
    finally:
        server.shutdown()
        server.server_close()
