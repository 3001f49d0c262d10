"""Demo data: a school, a staff login, students, credits and an open sitting of the demo assessment."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from resources import demo_assessment_path
from sync import accesscode
from sync.server import accounts, sittings
from sync.server.audit import Actor
from sync.server.crypto import Keyring
from sync.server.errors import ServiceError
from sync.server.models import School

DEMO_SCHOOL = "Demo Primary School"
DEMO_STUDENTS = [
    ("DEMO-001", "Ada", "Lovelace", 0),
    ("DEMO-002", "Alan", "Turing", 25),
    ("DEMO-003", "Grace", "Hopper", 0),
]


def seed(session: Session, keyring: Keyring, *, now: datetime, host: str, port: int) -> dict[str, Any]:
    if session.scalar(select(School.id).where(School.name == DEMO_SCHOOL)) is not None:
        raise ServiceError(
            409, "demo_exists", "This database already has the demo data. Use a fresh --db for a new demo."
        )
    school = accounts.create_school(session, name=DEMO_SCHOOL)
    actor = Actor.cli(school.id, now=now)
    password = secrets.token_urlsafe(9)
    staff = accounts.add_staff(
        session, school_id=school.id, username="demo-admin", password=password, role="admin", display_name="Demo Admin"
    )
    assessment, _ = sittings.load_assessment(session, demo_assessment_path())
    accounts.grant_credits(
        session, actor, package_id=assessment.package_id, amount=30, expires_on=(now + timedelta(days=365)).date()
    )
    students = [
        accounts.add_student(
            session,
            actor,
            unique_id=uid,
            first_name=first,
            last_name=last,
            extra_time_percent=extra,
            groups=["Demo class"],
        )
        for uid, first, last, extra in DEMO_STUDENTS
    ]
    start = now - timedelta(minutes=5)
    end = now + timedelta(hours=8)
    sitting, issued = sittings.create_sitting(
        session,
        actor,
        keyring,
        assessment_ref=assessment.id,
        name="Demo sitting",
        window_start=start,
        window_end=end,
        student_ids=[s.id for s in students],
        now=now,
    )
    codes = {c.allocation.student_id: accesscode.display(c.code) for c in issued}
    return {
        "server_url": f"http://{host}:{port}",
        "school": {"id": school.id, "name": school.name},
        "staff": {"username": staff.username, "password": password, "role": staff.role},
        "assessment": {"id": assessment.id, "package_id": assessment.package_id, "title": assessment.title},
        "sitting": {
            "id": sitting.id,
            "name": sitting.name,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
        },
        "students": [
            {
                "id": s.id,
                "unique_id": s.unique_id,
                "name": s.display_name,
                "access_code": codes[s.id],
                "extra_time_percent": s.extra_time_percent,
            }
            for s in students
        ],
    }
