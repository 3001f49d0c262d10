"""The one wait-for-condition helper for code outside Qt's event loop (Qt tests use qtbot.waitUntil)."""

from __future__ import annotations

import time
from collections.abc import Callable

TIMEOUT_MS = 15_000
"""How long a test waits for something a person would see happen (qtbot.waitUntil's timeout in the UI tests)."""
TIMEOUT_S = TIMEOUT_MS / 1000


class NotMet(AssertionError):
    """The condition did not hold in time, or `give_up_if` said it never will; the message names what."""


def wait_until(
    condition: Callable[[], bool],
    *,
    what: str,
    timeout: float = TIMEOUT_S,
    interval: float = 0.02,
    give_up_if: Callable[[], bool] | None = None,
    between: Callable[[], None] | None = None,
) -> None:
    """Poll `condition` until it holds; raise NotMet naming `what` once `timeout` seconds pass.

    `give_up_if`: stop early when it holds (the child process died, the server thread ended).
    `between`: run between polls (a Qt event loop with no qtbot, as in a child process).
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if give_up_if is not None and give_up_if():
            raise NotMet(f"gave up waiting for {what}")
        if time.monotonic() > deadline:
            raise NotMet(f"waited {timeout:g} s for {what}")
        if between is not None:
            between()
        time.sleep(interval)  # between polls of a condition, not a wait for time to pass
