"""Shared test setup: headless Qt, and isolation from the developer's own config and data dirs."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tests.tlsserver import School, TlsFiles

# pytest-qt aborts on a machine with no display unless this is set before Qt loads.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True, scope="session")
def _collect_garbage_on_the_main_thread_only() -> Iterator[None]:
    """As the app does (player/ui/garbage.py): a collection started by a worker thread could free Qt widgets
    there and crash the run, so automatic collection is off and the tests collect on the main thread instead.

    A full collection walks every live object: ~150,000 made by the imports before the first test, and by the end
    as many again that outlive tests (caches, fixtures). One after every test cost 0.1-0.3 s each, over a third of
    the suite's time. So the import-time objects are frozen out of all collections, and only Qt tests and the end
    of each module pay for a full collection (see below).
    """
    gc.disable()
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
    gc.enable()


class _Collections:
    young_only_since_full = False
    """True once a collection of the young generations alone has run since the last full one."""


@pytest.fixture(autouse=True, scope="module")
def _collect_after_each_module() -> Iterator[None]:
    """A full collection once the module's own fixtures are torn down (this one is set up before them)."""
    yield
    gc.collect()
    _Collections.young_only_since_full = False


@pytest.fixture(autouse=True)
def _collect_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test's garbage, collected before the next test starts.

    A test that does not use Qt made all its garbage in the young generations (nothing collects automatically),
    so collecting those frees it without walking what outlived earlier tests (caches, module and session
    fixtures); garbage tied to those older objects waits for the next full collection.

    A Qt test starts and ends with nothing left to collect, as with a full collection after every test: a window or
    timer left behind must not live into the next test (one looking through the top-level widgets would find it).
    """
    uses_qt = "qapp" in request.fixturenames
    if uses_qt and _Collections.young_only_since_full:
        gc.collect()
    yield
    if uses_qt:
        gc.collect()
        _Collections.young_only_since_full = False
    else:
        gc.collect(1)
        _Collections.young_only_since_full = True


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A school's own CA and a server certificate for 127.0.0.1 it signed (made once per run)."""
    from tests.tlsserver import make_tls_files

    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_school(app: FastAPI, tls_files: TlsFiles) -> Iterator[School]:
    """The real app (the test's `app`) over TLS with `tls_files`, as at a school whose filter re-signs TLS."""
    from tests.tlsserver import school_over_tls

    with school_over_tls(app, tls_files) as school:
        yield school
