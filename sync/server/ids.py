"""The ids the server gives its rows: random ones, and time-ordered ones for results."""

from __future__ import annotations

import os
import time
import uuid

_MS_MASK = (1 << 48) - 1
_VERSION_CLEAR = ~(0xF << 76 | 0x3 << 62)
_VERSION_7_VARIANT = 0x7 << 76 | 0x2 << 62


def new_id() -> str:
    """A row's id (a random version 4 UUID): reveals nothing about the row or when it was made."""
    return str(uuid.uuid4())


def time_ordered_id() -> str:
    """A new result's id: a UUID in the version 7 layout (milliseconds since the epoch, then 74 random bits).

    Ids that grow with time make a batch's rows land at the end of the primary key's index, instead of on a
    random page of it each: fewer pages written and synced per batch. Unique as a version 4 UUID is, for all
    practical purposes (74 random bits per millisecond), and as opaque to everyone who reads it.
    """
    value = (time.time_ns() // 1_000_000 & _MS_MASK) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & _VERSION_CLEAR | _VERSION_7_VARIANT
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
