"""Run inside a private D-Bus session with gnome-keyring (see test_secret_service.py): the real Secret Service."""

from __future__ import annotations

import sys

from player.credentials import TokenStore, choose_backend

URL = "https://invigil.example.org"


def main() -> int:
    chosen = choose_backend("auto", platform="linux")
    if not chosen.persistent:
        print(f"FAIL: the Secret Service was not chosen: {chosen.why}")
        return 1
    TokenStore(chosen).save(URL, "ms-jones", "secret-token-123")
    # A second, fresh backend object (as after an app restart) reads the token from the daemon.
    again = TokenStore(choose_backend("auto", platform="linux"))
    if again.load(URL, "ms-jones") != "secret-token-123" or again.last_username(URL) != "ms-jones":
        print("FAIL: the token did not come back from the Secret Service")
        return 1
    again.clear(URL, "ms-jones")
    if TokenStore(choose_backend("auto", platform="linux")).load(URL, "ms-jones") is not None:
        print("FAIL: sign-out did not clear the token from the Secret Service")
        return 1
    print(f"OK {chosen.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
