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
    there and crash the run, so automatic collection is off and the tests collect on the main thread instead.

    A full collection walks every live object: ~150,000 made by the imports before the first test, and by the end
    as many again that outlive tests (caches, fixtures). One after every test cost 0.1-0.3 s each, over a third of
    the suite's time. So the import-time objects are frozen out of all collections, each test's own garbage is
    collected from the young generations after it, and a full collection runs at the end of each module.
    """
    gc.disable()
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
    gc.enable()


@pytest.fixture(autouse=True, scope="module")
def _collect_after_each_module() -> Iterator[None]:
    """A full collection once the module's own fixtures are torn down (this one is set up before them)."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _collect_after_each_test() -> Iterator[None]:
    """Each test's garbage, collected before the next test starts.

    Everything the test made is in the young generations (nothing collects automatically), so collecting those
    frees it without walking what outlived earlier tests (caches, module and session fixtures); garbage tied to
    those older objects waits for the full collection at the end of the module.
    """
    yield
    gc.collect(1)
