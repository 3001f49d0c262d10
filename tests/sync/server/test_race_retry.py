"""`retry_on_race` against a real SQLite race: another request stores the same key between look-up and commit."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from sync.server.store import Store, retry_on_race


@pytest.fixture
def claims(store: Store) -> Store:
    # A table of its own with a unique key, so the race is SQLite's real one without building a whole attempt.
    with store.transaction() as session:
        session.execute(text("CREATE TABLE claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL)"))
    return store


def claim(store: Store, key: str, owner: str, *, rival: str | None) -> str:
    """Look the key up and store it if free, as the result routes do; `rival` stores it in between, from
    another connection (another request), as happens when a player and a typed-in result code arrive at once."""
    with store.transaction() as session:
        held = session.execute(text("SELECT owner FROM claims WHERE key = :k"), {"k": key}).scalar()
        if held is not None:
            return f"{held} (already held)"
        if rival is not None:  # before this request's first write, which would make the rival wait for it
            with store.transaction() as other:
                other.execute(text("INSERT INTO claims (key, owner) VALUES (:k, :o)"), {"k": key, "o": rival})
        session.execute(text("INSERT INTO claims (key, owner) VALUES ('other', :o)"), {"o": owner})
        session.execute(text("INSERT INTO claims (key, owner) VALUES (:k, :o)"), {"k": key, "o": owner})
        session.flush()
    return owner


def owners(store: Store) -> list[tuple[str, str]]:
    with store.transaction() as session:
        return [(k, o) for k, o in session.execute(text("SELECT key, owner FROM claims ORDER BY key"))]


def test_a_write_that_loses_a_race_is_tried_again_and_answers_as_a_repeat(claims: Store) -> None:
    rivals = iter(["upload", None])

    answer = retry_on_race(lambda: claim(claims, "k1", "code", rival=next(rivals)))

    assert answer == "upload (already held)"
    # The lost try kept nothing (not even its other row); the key is stored once, by the request that won.
    assert owners(claims) == [("k1", "upload")]


def test_a_race_lost_on_every_try_is_raised(claims: Store) -> None:
    keys = iter(["k1", "k2", "k3"])

    with pytest.raises(IntegrityError, match=r"(?i)unique"):
        retry_on_race(lambda: claim(claims, next(keys), "batch", rival="upload"), tries=3)

    assert owners(claims) == [("k1", "upload"), ("k2", "upload"), ("k3", "upload")]
