"""The API description is the one recorded in `openapi.json` beside this test: a refactor must not change it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from sync.protocol import API_PREFIX
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from sync.server.store import Store

RECORDED = Path(__file__).with_name("openapi.json")
UPDATE = "INVIGIL_RECORD_OPENAPI"


def test_the_api_description_is_the_recorded_one() -> None:
    # Only the description is read: an app over an unopened in-memory engine serves it.
    settings = ServerSettings(database_url="sqlite://", secret_key=bytes(32))
    with TestClient(create_app(settings, store=Store(create_engine("sqlite://")))) as client:
        served = client.get(f"{API_PREFIX}/openapi.json")
    assert served.status_code == 200
    # Compared as indented text, in the order served, so a failure shows which lines of the description moved.
    described = json.dumps(served.json(), indent=1, ensure_ascii=False) + "\n"
    if os.environ.get(UPDATE) == "1":
        RECORDED.write_text(described, encoding="utf-8")
    assert described == RECORDED.read_text(encoding="utf-8"), (
        f"The API description changed. If that was meant (a route, model or message changed on purpose), "
        f"record it again with {UPDATE}=1 and commit {RECORDED.name} with the change."
    )
