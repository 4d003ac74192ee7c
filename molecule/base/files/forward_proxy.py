"""Minimal HTTP forward proxy for the apt proxy test (apt-cacher-ng stand-in; no caching).

Serves absolute-URI GET/HEAD requests as apt sends them to Acquire::http::Proxy, fetching
upstream and logging each URL to the log file, so the test can show apt really used the proxy.
usage: python3 forward_proxy.py PORT LOGFILE
"""

import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, LOG = int(sys.argv[1]), sys.argv[2]
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade"}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _forward(self, body: bool) -> None:
        with open(LOG, "a") as log:
            log.write(f"{self.command} {self.path}\n")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP | {"host"}}
        req = urllib.request.Request(self.path, headers=headers, method=self.command)
        try:
            resp = urllib.request.urlopen(req, timeout=60)
            status, rheaders, data = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            status, rheaders, data = err.code, err.headers, err.read()
        self.send_response(status)
        for key, value in rheaders.items():
            if key.lower() not in HOP | {"content-length"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body and status not in (204, 304):
            self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._forward(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._forward(body=False)


ThreadingHTTPServer(("127.0.0.1", PORT), Proxy).serve_forever()
