"""The staff token store: explicit backend choice, memory-only fallback, save/load/clear."""

from __future__ import annotations

import pytest

from player.credentials import ChosenBackend, InMemoryBackend, TokenStore, choose_backend

URL = "https://invigil.example.org"


class BrokenBackend:
    """A keyring whose service is there but refuses every write (a locked or read-only keyring)."""

    priority = 5

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PermissionError("the keyring is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise PermissionError("the keyring is locked")


def test_save_load_clear_by_server_and_username() -> None:
    backend = InMemoryBackend()
    store = TokenStore.in_memory(backend)
    store.save(URL, "ms-jones", "token-1")
    store.save("https://other.example.org", "ms-jones", "token-2")
    assert store.load(URL, "ms-jones") == "token-1"
    assert store.load(URL + "/", "ms-jones") == "token-1", "a trailing slash is the same server"
    assert store.last_username(URL) == "ms-jones"
    store.clear(URL, "ms-jones")
    assert store.load(URL, "ms-jones") is None
    assert store.load("https://other.example.org", "ms-jones") == "token-2"
    assert store.last_username(URL) == "ms-jones", "the username is no secret and is offered next time"
    assert "token-1" not in backend.entries().values()


def test_clearing_what_was_never_saved_is_harmless() -> None:
    store = TokenStore.in_memory()
    store.clear(URL, "nobody")
    assert store.load(URL, "nobody") is None


def test_memory_setting_never_touches_a_keyring() -> None:
    chosen = choose_backend("memory")
    assert isinstance(chosen.backend, InMemoryBackend)
    assert not chosen.persistent


def test_an_os_without_a_supported_keyring_keeps_tokens_in_memory() -> None:
    chosen = choose_backend("auto", platform="sunos5")
    assert isinstance(chosen.backend, InMemoryBackend)
    assert not chosen.persistent
    assert "sunos5" in chosen.why
    assert "memory only" in chosen.why


def test_linux_without_a_session_bus_falls_back_to_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    # No D-Bus session: the Secret Service cannot be reached, and keyring's own pick might be a plain file.
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    chosen = choose_backend("auto", platform="linux")
    assert isinstance(chosen.backend, InMemoryBackend)
    assert "Secret Service" in chosen.why
    assert "not usable" in chosen.why


def test_an_unknown_setting_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'file' is not one of auto, memory"):
        choose_backend("file")


def test_a_keyring_that_fails_mid_run_falls_back_to_memory_and_keeps_the_sign_in() -> None:
    store = TokenStore(ChosenBackend(BrokenBackend(), "Secret Service", True, "test"))
    store.save(URL, "ms-jones", "token-1")
    assert store.load(URL, "ms-jones") == "token-1"
    assert not store.persistent
    assert "memory only" in store.why
