"""Invigil's version, one constant for the player, the server and their frozen bundles (which carry no package
metadata). tests/test_version.py keeps it equal to pyproject.toml's."""

from __future__ import annotations

VERSION = "0.1.0"
