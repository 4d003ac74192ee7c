"""File names made from host names: the one encoding, used by the gpu_smoke role (the filter
``autoglm.provision.host_file_name``) and by the CLI (host state, smoke results).

A host name becomes a file name that stays inside its directory and never collides with another
host's: every UTF-8 byte outside ``A-Z a-z 0-9 _ - .`` is percent-encoded (``%2F`` for ``/``, ``%25``
for ``%``), and so is a leading ``.`` (no ``.``, ``..`` or hidden file). Names whose encoding is
longer than :data:`MAX_ENCODED` keep a prefix of it and add ``~`` and the SHA-256 of the name (``~``
is never part of an encoding): still distinct, no longer reversible, so such files carry the host
name inside them. Standard library only.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, unquote

MAX_ENCODED = 200  # bytes; with the digest and ".json" well under the 255 a file name may have
_PREFIX = 130
_SAFE = "_-."


def host_file_name(name: str) -> str:
    """``name`` as a file name without extension (see the module's docstring)."""
    name = str(name)
    encoded = quote(name, safe=_SAFE, errors="surrogatepass").replace("~", "%7E")  # quote keeps "~"
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if len(encoded) <= MAX_ENCODED:
        return encoded
    prefix = re.sub(r"%[0-9A-F]?$", "", encoded[:_PREFIX])  # never cut an escape in two
    return f"{prefix}~{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()}"


def host_from_file_name(stem: str) -> str | None:
    """The host name a file name stands for, or None where it cannot be told (a digest name, or a
    name this encoding never makes)."""
    try:
        name = unquote(stem, errors="strict")
    except UnicodeDecodeError:
        return None
    return name if "~" not in stem and host_file_name(name) == stem else None
