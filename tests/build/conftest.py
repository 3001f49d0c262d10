"""The PyInstaller bundles for tests/build: build/build.sh starts in the background as soon as the tests that need
the bundles are collected, and those tests run last, so the build overlaps the rest of the suite.

Building both bundles takes over a minute of CPU, and most of the suite keeps only one of the two cores busy. The
build runs at a lower priority (nice 10), so the tests running beside it keep the CPU they would have alone.
"""

from __future__ import annotations

import pytest

from tests.helpers.bundles import BUILD, BUILD_TIMEOUT_S, USES_BUNDLES, BackgroundBuild, Bundles, pyinstaller_missing


@pytest.hookimpl(trylast=True)  # after -k, -m and deselection have had their say
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needing = [item for item in items if USES_BUNDLES in getattr(item, "fixturenames", ())]
    if not needing:
        return
    wanted = set(needing)
    items[:] = [item for item in items if item not in wanted] + needing
    if not config.option.collectonly and not pyinstaller_missing():
        config.stash[BUILD] = BackgroundBuild.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    build = session.config.stash.get(BUILD, None)
    if build is not None:
        build.remove()


@pytest.fixture(scope="session")
def bundles(pytestconfig: pytest.Config) -> Bundles:
    """Both bundles, built once per session by build.sh (side by side) into a temporary folder; removed at the end."""
    if pyinstaller_missing():
        pytest.skip("PyInstaller is not installed here; ./scripts/setup-env installs it with the dev extras")
    build = pytestconfig.stash.get(BUILD, None)
    if build is None:  # not started at collection (a test asked for the fixture some other way): start it now
        build = pytestconfig.stash[BUILD] = BackgroundBuild.start()
    return build.finish(BUILD_TIMEOUT_S)
