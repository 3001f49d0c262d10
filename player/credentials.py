"""Where the staff console keeps its server token: the OS keyring, chosen explicitly, else memory for this run."""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

SERVICE_PREFIX = "invigil-staff"
LAST_USER_ENTRY = "last-signed-in"
PROBE_USER = "invigil-probe"


class SecretBackend(Protocol):
    """The three calls Invigil uses of a `keyring` backend (keyring's own backends satisfy it as they are)."""

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


class InMemoryBackend:
    """Secrets held in this process only: the fallback where no keyring works, and the fake for tests."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._entries.pop((service, username), None)

    def entries(self) -> dict[tuple[str, str], str]:
        """A copy of what is held, for tests to look at."""
        return dict(self._entries)


@dataclass(frozen=True)
class ChosenBackend:
    backend: SecretBackend
    name: str
    persistent: bool
    """False: tokens live in memory only, and staff sign in again after the app restarts."""
    why: str
    """One sentence for the log and for staff: which store, and why that one."""


def _platform_backend(platform: str) -> tuple[str, Callable[[], SecretBackend]] | None:
    """The one keyring backend Invigil trusts on this OS (never keyring's automatic pick, which may be a
    plain-text or third-party backend that happens to be installed)."""
    if platform.startswith("linux") or platform.startswith("freebsd"):

        def secret_service() -> SecretBackend:
            from keyring.backends import SecretService

            return SecretService.Keyring()

        return "Secret Service (GNOME Keyring / KWallet)", secret_service
    if platform == "darwin":

        def macos() -> SecretBackend:
            from keyring.backends import macOS

            return macOS.Keyring()

        return "macOS Keychain", macos
    if platform == "win32":

        def windows() -> SecretBackend:
            from keyring.backends import Windows

            return Windows.WinVaultKeyring()

        return "Windows Credential Manager", windows
    return None


def _usable(backend: SecretBackend) -> str | None:
    """None if the backend works here; else why not. A keyring backend reports priority <= 0 (or raises)
    when its service is absent; a probe write and delete catches a locked or read-only keyring."""
    try:
        priority = getattr(type(backend), "priority", 1)
        if not isinstance(priority, int | float) or priority <= 0:
            return f"it reports itself unusable here (priority {priority!r})"
    except Exception as exc:  # keyring's priority raises when the service cannot be reached at all
        return str(exc) or type(exc).__name__
    service = f"{SERVICE_PREFIX}-probe"
    probe = secrets.token_hex(8)
    try:
        backend.set_password(service, PROBE_USER, probe)
        read_back = backend.get_password(service, PROBE_USER)
        backend.delete_password(service, PROBE_USER)
    except Exception as exc:
        return f"a test write failed ({type(exc).__name__}: {exc})"
    if read_back != probe:
        return "a test write did not read back"
    return None


def choose_backend(setting: str, *, platform: str = sys.platform) -> ChosenBackend:
    """The store for the `keyring_backend` setting: "memory", or "auto" = this OS's keyring if usable."""
    if setting == "memory":
        return ChosenBackend(InMemoryBackend(), "memory", False, "keyring_backend = memory: tokens kept in memory only")
    if setting != "auto":
        raise ValueError(f"keyring_backend {setting!r} is not one of auto, memory")
    known = _platform_backend(platform)
    if known is None:
        why = f"no supported keyring on {platform}: tokens kept in memory only"
    else:
        name, make = known
        try:
            backend = make()
        except Exception as exc:
            problem: str | None = f"it could not be loaded ({type(exc).__name__}: {exc})"
        else:
            problem = _usable(backend)
        if problem is None:
            return ChosenBackend(backend, name, True, f"tokens kept in the {name}")
        why = f"the {name} is not usable ({problem}): tokens kept in memory only"
    log.warning("Staff sign-in: %s; staff sign in again after a restart", why)
    return ChosenBackend(InMemoryBackend(), "memory", False, why)


class TokenStore:
    """Staff tokens by (server, username), plus who signed in last there, so the sign-in form can offer it.

    A keyring that fails mid-run (locked, D-Bus gone) makes the store fall back to memory for the rest of
    the run rather than lose the sign-in; nothing is ever written to a plain file.
    """

    def __init__(self, chosen: ChosenBackend) -> None:
        self._backend = chosen.backend
        self.name = chosen.name
        self.persistent = chosen.persistent
        self.why = chosen.why

    @classmethod
    def in_memory(cls, backend: InMemoryBackend | None = None) -> TokenStore:
        held = backend if backend is not None else InMemoryBackend()
        return cls(ChosenBackend(held, "memory", False, "tokens kept in memory only"))

    @staticmethod
    def _service(server_url: str) -> str:
        return f"{SERVICE_PREFIX}:{server_url.rstrip('/')}"

    def save(self, server_url: str, username: str, token: str) -> None:
        service = self._service(server_url)
        try:
            self._backend.set_password(service, username, token)
            self._backend.set_password(service, LAST_USER_ENTRY, username)
        except Exception as exc:
            self._fall_back(exc)
            self._backend.set_password(service, username, token)
            self._backend.set_password(service, LAST_USER_ENTRY, username)

    def load(self, server_url: str, username: str) -> str | None:
        try:
            return self._backend.get_password(self._service(server_url), username)
        except Exception as exc:
            log.warning("Staff sign-in: reading the %s failed (%s)", self.name, type(exc).__name__)
            return None

    def last_username(self, server_url: str) -> str | None:
        return self.load(server_url, LAST_USER_ENTRY)

    def clear(self, server_url: str, username: str) -> None:
        """Forget the token (sign-out); the username stays remembered, it is no secret."""
        try:
            if self._backend.get_password(self._service(server_url), username) is not None:
                self._backend.delete_password(self._service(server_url), username)
        except Exception as exc:
            log.warning("Staff sign-in: clearing the token from the %s failed (%s)", self.name, type(exc).__name__)

    def _fall_back(self, exc: Exception) -> None:
        log.warning(
            "Staff sign-in: the %s failed (%s); keeping tokens in memory for this run", self.name, type(exc).__name__
        )
        self._backend = InMemoryBackend()
        self.name = "memory"
        self.persistent = False
        self.why = f"the keyring failed ({type(exc).__name__}): tokens kept in memory only"
