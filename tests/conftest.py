"""Shared test setup: headless Qt, and isolation from the developer's own config and data dirs."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

# pytest-qt aborts on a machine with no display unless this is set before Qt loads.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True, scope="session")
def _collect_garbage_on_the_main_thread_only() -> Iterator[None]:
    """As the app does (player/ui/garbage.py): a collection started by a worker thread could free Qt widgets
    there and crash the run, so automatic collection is off and each test's garbage is collected here."""
    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def _collect_after_each_test() -> Iterator[None]:
    yield
    gc.collect()
