"""Batches built to cost the server memory (found by an independent check): refused without building them."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from sync.server.result_batch import MAX_CONTAINERS
from tests.helpers.server import API, Demo, bearer, player_login
from tests.sync.server.test_hostile_results import result_count

MB = 1024 * 1024
PEAK_ALLOWED = 40 * MB
"""Python allocations a refusal may make: the body itself is 3 MB; before the fix pydantic built ~300 MB."""


def empty_lists_batch(size: int) -> bytes:
    """A batch whose one envelope lacks its required fields and whose answers are `[]` repeated up to `size`
    bytes: pydantic refuses the missing fields with the whole envelope, as Python objects, in each error."""
    head = b'{"envelopes":[{"idempotency_key":"00000000-0000-0000-0000-000000000000","answers":['
    count = (size - len(head) - 4) // 3
    return head + b",".join([b"[]"] * count) + b"]}]}"


def peak_while(call: Callable[[], Any]) -> tuple[Any, int]:
    """What `call` returned, and the most memory Python held during it beyond what it held before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        reply = call()
        return reply, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def post_batch(client: TestClient, attempt_id: str, token: str, body: bytes) -> Any:
    return client.post(
        f"{API}/attempts/{attempt_id}/results/batch",
        content=body,
        headers=bearer(token) | {"Content-Type": "application/json"},
    )


def test_a_strangers_batch_is_refused_before_its_body_is_read(client: TestClient, demo: Demo) -> None:
    login = player_login(client, demo.codes[0])
    body = empty_lists_batch(3 * MB)
    reply, peak = peak_while(lambda: post_batch(client, login["attempt_id"], "not-a-token", body))
    assert reply.status_code == 401
    assert reply.json()["error"] == "attempt_token_invalid"
    assert peak < PEAK_ALLOWED, f"a refused stranger's batch made the server hold {peak / MB:.0f} MB"


def test_a_batch_of_millions_of_lists_is_refused_whole_without_building_them(
    client: TestClient, demo: Demo, store: Any
) -> None:
    login = player_login(client, demo.codes[0])
    body = empty_lists_batch(3 * MB)
    reply, peak = peak_while(lambda: post_batch(client, login["attempt_id"], login["attempt_token"], body))
    assert reply.status_code == 422
    message = reply.json()["message"]
    assert f"more than the {MAX_CONTAINERS:,} a batch may hold; send fewer envelopes at a time" in message
    assert peak < PEAK_ALLOWED, f"refusing the batch made the server hold {peak / MB:.0f} MB"
    assert result_count(store) == 0
