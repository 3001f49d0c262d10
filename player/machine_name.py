"""The name the invigilator's console shows for this machine: configured, or else its host name."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from player.config import MACHINE_NAME_MAX_LENGTH, PlayerConfig

log = logging.getLogger(__name__)


def name_from_host(host_name: str) -> str | None:
    """The host name as staff know it: its first label ("room12-pc03" of "room12-pc03.school.local"), cut to
    the wire's limit; None for one that is empty or holds control characters (the console then shows the id)."""
    text = host_name.strip()
    first = text.split(".", 1)[0] if not text.replace(".", "").isdigit() else text  # an IP address stays whole
    first = first[:MACHINE_NAME_MAX_LENGTH]
    return first if first and first.isprintable() else None


def resolve_machine_name(config: PlayerConfig, *, host_name: Callable[[], str] = socket.gethostname) -> str | None:
    """`machine_name` from the config, else this machine's host name; None when neither gives a usable name."""
    if config.machine_name is not None:
        return config.machine_name
    try:
        return name_from_host(host_name())
    except OSError as exc:
        log.warning("Could not read this machine's host name (%s); the console shows its id instead", exc)
        return None
