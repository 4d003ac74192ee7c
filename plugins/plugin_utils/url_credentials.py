"""Credentials inside URLs (``https://user:password@bmc``), stripped from what is recorded: the one
function the CLI's records (report, host state, JUnit, HTML, the run's output) and its event callback
(the event log) apply before they write. Standard library only."""

from __future__ import annotations

import re

# scheme://userinfo@ : the userinfo runs to the last '@' before the path, query, fragment, a quote
# or a space (a password may hold a raw '@' or a quote '); a backslash escape (JSON text) is part of it.
URL_CREDENTIALS = re.compile(r"""(\b[A-Za-z][A-Za-z0-9+.-]*://)(?:[^\s/?#"\\]|\\.)+@""")
STRIPPED = r"\1***@"


def strip_url_credentials(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``."""
    return URL_CREDENTIALS.sub(STRIPPED, text) if "://" in text else text
