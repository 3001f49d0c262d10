"""Shared test setup: headless Qt, and isolation from the developer's own config and data dirs."""

from __future__ import annotations

import os

# pytest-qt aborts on a machine with no display unless this is set before Qt loads.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
