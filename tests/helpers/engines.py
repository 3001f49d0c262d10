"""The databases the server runs on, for the conftests that parametrize the server's tests over them."""

from __future__ import annotations

ENGINES = ("sqlite", "postgresql")
"""Tests under tests/sync/server and tests/faults run on both (see pytest_generate_tests there); every other test
runs on SQLite, the embedded default the player is tested with."""
