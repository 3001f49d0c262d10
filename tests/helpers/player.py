"""Builders for the player's Qt-free tests: a login reply for the demo assessment's delivery form."""

from __future__ import annotations

from sync.protocol import Accommodations, LoginResponse


def make_login(delivery: object, *, attempt_id: str = "attempt-1", extra_time: int = 0) -> LoginResponse:
    return LoginResponse.model_validate(
        {
            "attempt_id": attempt_id,
            "attempt_token": "token-secret",
            "student": "Ada Lovelace",
            "sitting_name": "Demo sitting",
            "window_end": "2027-03-01T17:00:00Z",
            "accommodations": Accommodations(extra_time_percent=extra_time).model_dump(),
            "assessment": delivery.model_dump(mode="json"),  # type: ignore[attr-defined]
            "result_secret": "c2VjcmV0",
        }
    )
