"""An error as the console shows it: its sentence and its number in the error catalogue (docs/errors.md)."""

from __future__ import annotations

from sync.client import ClientError
from sync.error_catalogue import Problem, problem


def problem_of(exc: Exception) -> Problem:
    """An error's own sentence and number: the client's (the server's refusal, the network), else "unexpected"."""
    if isinstance(exc, ClientError):
        return exc.problem
    return problem("console.unexpected", str(exc) or type(exc).__name__)
