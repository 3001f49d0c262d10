"""The attempt's result secret read as key material: the one check both result-code formats make of it."""

from __future__ import annotations

import base64
import binascii


def master_key(result_secret: str) -> bytes:
    """The 32 bytes behind a result secret (URL-safe base64, as sync.server.crypto makes it).

    Raises ValueError when it is anything else: the server or the login response handed over something wrong, a
    fault in the software, not in a code someone typed."""
    try:
        master = base64.urlsafe_b64decode(result_secret.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError):
        master = b""
    if len(master) != 32:
        raise ValueError("result_secret must be URL-safe base64 of 32 bytes (as sync.server.crypto makes it)")
    return master
