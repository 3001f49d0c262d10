"""Why the player could not start, numbered from the error catalogue for the "Invigil cannot start" line."""

from __future__ import annotations

from pathlib import Path

from sync.error_catalogue import Problem, problem

_JOURNAL_ADVICE = (
    "Do not delete or move the journal: it may hold answers not yet sent. Run `invigil doctor`, and send IT the "
    "zip `invigil support-bundle` makes."
)
"""After the journal's own reason: a damaged journal's first "fix" is often to delete it, losing answers."""
_FOLDER_FIX = "give this user write access to it, or set data_dir in the config to a writable folder on a local disk"


def startup_problem(exc: BaseException) -> Problem:
    """`exc`'s sentence with the number of its cause: the config, the data folder, the log, the journal, else
    "cannot start". app.py prints it: `Invigil cannot start: <sentence> (INV-1002)`."""
    # Imported here: start-up failed, so their cost no longer matters (and player.config is loaded by then).
    from player.config import ConfigError
    from player.offline_queue.db import DatabaseSetupError

    text = str(exc) or type(exc).__name__
    if isinstance(exc, ConfigError):
        return problem("startup.config", text)
    if isinstance(exc, DatabaseSetupError):
        end = "" if text.endswith((".", "?", "!")) else "."
        return problem("startup.journal", f"{text}{end} {_JOURNAL_ADVICE}")
    if isinstance(exc, OSError):
        where = Path(str(exc.filename)) if exc.filename else None
        in_logs = where is not None and "logs" in where.parts
        if where is not None and exc.strerror:
            # Python's "[Errno 20] Not a directory: '...'" says what, not what to do.
            text = f"{where}: cannot be made or written ({exc.strerror}); {_FOLDER_FIX}"
        return problem("startup.logging" if in_logs else "startup.data_folder", text)
    return problem("startup.failed", text)
