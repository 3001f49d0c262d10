"""The one error type the server's operations raise: a stable code, an HTTP status and a sentence to act on."""

from __future__ import annotations

from typing import Any

from sync.error_catalogue import api_number


class ServiceError(Exception):
    def __init__(self, status: int, error: str, message: str, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.retry_after_seconds = retry_after_seconds

    def body(self) -> dict[str, Any]:
        """The refusal as the API sends it (protocol.ErrorBody's fields). The one place a refusal gets its catalogue
        number: app.py's handlers, the body-limit middleware and a batch's per-item refusals all send this."""
        return {
            "error": self.error,
            "message": self.message,
            "retry_after_seconds": self.retry_after_seconds,
            "number": api_number(self.error),
        }


def not_found(what: str) -> ServiceError:
    # The same answer whether the object does not exist or belongs to another school, so ids leak nothing.
    return ServiceError(404, "not_found", f"No such {what}.")
