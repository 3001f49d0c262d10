"""Server calls from the console's views: on a worker thread, their callbacks dropped once the view is gone,
their failures put in words, and exports or prints noted in the sitting's log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject

from player.ui.console.sittings import SittingContext, guarded
from sync.client import ClientError, InvigilClient
from sync.error_catalogue import Problem, problem
from sync.protocol import LogDetailValue, SittingLogAction

log = logging.getLogger(__name__)

T = TypeVar("T")


def call_server(
    context: SittingContext,
    work: Callable[[InvigilClient], T],
    *,
    on_done: Callable[[T], None],
    on_error: Callable[[Exception], None],
    owner: QObject,
) -> None:
    """Run `work` with its own client on a worker thread (a client's session is not thread-safe).

    The callbacks are skipped once `owner` is deleted (the sitting was closed or the console locked while
    the request was out): they would touch widgets that are gone."""

    def run() -> T:
        with context.client_factory() as client:
            return work(client)

    context.tasks.run(run, on_done=guarded(owner, on_done), on_error=guarded(owner, on_error))


def note_in_log(
    client: InvigilClient, context: SittingContext, action: SittingLogAction, detail: dict[str, LogDetailValue]
) -> str:
    """Put an export or print in the sitting's log (on the worker thread that did it).

    Returns "" once logged, else a sentence saying it is not in the log and why: the file or the printout was
    made either way, and the invigilator should know the log misses it rather than see the export "fail"."""
    try:
        client.log_event(context.token, context.sitting_id, action, detail)
    except ClientError as exc:
        log.warning("%s of sitting %s not logged: %s", action, context.sitting_id, exc)
        return f"It could not be noted in the sitting's log: {exc}"
    return ""


def error_sentence(exc: Exception, *, doing: str) -> Problem:
    """What to tell the invigilator, numbered: the server's or client's own sentence and number, else a plain one
    naming the task."""
    if isinstance(exc, ClientError):
        return exc.problem
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return problem(
            "console.file_failed",
            f"Could not {doing}{where}: {exc.strerror or exc}. Check the folder exists and you may write there.",
        )
    log.error("unexpected failure while trying to %s", doing, exc_info=exc)
    return problem(
        "console.unexpected",
        f"Could not {doing}: an unexpected error ({type(exc).__name__}). The details are in the log file.",
    )
