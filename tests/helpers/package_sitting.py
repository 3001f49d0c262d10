"""A content package loaded as `invigil-server load-assessment` loads it, with a student and a sitting open now."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sync import accesscode
from sync.server import accounts, sittings
from sync.server.audit import Actor
from sync.server.crypto import Keyring
from sync.server.store import Store
from tests.helpers.clock import START


def sitting_of_package(
    store: Store,
    server_key: bytes,
    *,
    school_id: str,
    package: Path,
    student: tuple[str, str, str],
    name: str,
    untimed_section_minutes: int | None = None,
) -> str:
    """Loads `package`, grants one credit, adds `student` (unique id, first name, last name) and opens a sitting
    for them from five minutes before START for two hours; returns their access code as shown to people."""
    unique_id, first_name, last_name = student
    with store.transaction() as session:
        actor = Actor.cli(school_id, now=START)
        assessment, _ = sittings.load_assessment(session, package, untimed_section_minutes=untimed_section_minutes)
        accounts.grant_credits(session, actor, package_id=assessment.package_id, amount=1, expires_on=None)
        added = accounts.add_student(session, actor, unique_id=unique_id, first_name=first_name, last_name=last_name)
        _, issued = sittings.create_sitting(
            session,
            actor,
            Keyring(server_key),
            assessment_ref=assessment.id,
            name=name,
            window_start=START - timedelta(minutes=5),
            window_end=START + timedelta(hours=2),
            student_ids=[added.id],
            now=START,
        )
        return accesscode.display(issued[0].code)
