"""Schools, staff (passwords and bearer tokens), students and credits."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.server import audit, crypto
from sync.server.audit import Actor
from sync.server.errors import ServiceError, not_found
from sync.server.models import Credit, School, Staff, StaffToken, Student

ROLES = ("admin", "teacher", "invigilator")
MAX_UNIQUE_ID = 100


def create_school(session: Session, *, name: str) -> School:
    name = name.strip()
    if not name:
        raise ServiceError(422, "bad_school", "A school needs a name.")
    school = School(name=name)
    session.add(school)
    session.flush()
    return school


def get_school(session: Session, school_id: str) -> School:
    school = session.get(School, school_id)
    if school is None:
        raise ServiceError(
            404, "not_found", f"No school with id {school_id}. `invigil-server list-schools` shows them."
        )
    return school


def add_staff(
    session: Session, *, school_id: str, username: str, password: str, role: str, display_name: str = ""
) -> Staff:
    get_school(session, school_id)
    username = username.strip().lower()
    if role not in ROLES:
        raise ServiceError(422, "bad_role", f"Role {role!r} is not one of {', '.join(ROLES)}.")
    if not username:
        raise ServiceError(422, "bad_username", "A staff login needs a username.")
    if len(password) < 8:
        raise ServiceError(422, "weak_password", "A staff password needs at least 8 characters.")
    if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
        raise ServiceError(409, "username_taken", f"The username {username!r} is already in use; choose another.")
    staff = Staff(
        school_id=school_id,
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=crypto.hash_password(password),
    )
    session.add(staff)
    session.flush()
    return staff


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    staff: Staff


def staff_login(session: Session, *, username: str, password: str, now: datetime, lifetime_hours: float) -> IssuedToken:

    staff = session.scalar(select(Staff).where(Staff.username == username.strip().lower()))
    stored = staff.password_hash if staff is not None else crypto.DUMMY_PASSWORD_HASH
    password_ok = crypto.verify_password(stored, password)
    if staff is None or not password_ok or not staff.active:
        raise ServiceError(401, "bad_credentials", "That username and password do not match. Check both and try again.")
    token, token_hash = crypto.new_token()
    expires_at = now + timedelta(hours=lifetime_hours)
    session.add(StaffToken(staff_id=staff.id, token_hash=token_hash, created_at=now, expires_at=expires_at))
    audit.record(session, Actor.of(staff, now=now), "staff_login")
    return IssuedToken(token=token, expires_at=expires_at, staff=staff)


def staff_for_token(session: Session, token: str, *, now: datetime) -> Staff:
    token_hash = crypto.token_hash(token)
    row = session.scalar(select(StaffToken).where(StaffToken.token_hash == token_hash))
    if row is None or not hmac.compare_digest(row.token_hash, token_hash):
        raise ServiceError(401, "bad_token", "Your sign-in is not valid. Sign in again.")
    if row.revoked_at is not None or row.expires_at <= now or not row.staff.active:
        raise ServiceError(401, "token_expired", "Your sign-in has ended. Sign in again.")
    return row.staff


def revoke_token(session: Session, token: str, *, now: datetime) -> Staff | None:
    """End a sign-in; returns whose it was (None when the token was unknown or already ended)."""
    row = session.scalar(select(StaffToken).where(StaffToken.token_hash == crypto.token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at = now
    return row.staff


def add_student(
    session: Session,
    actor: Actor,
    *,
    unique_id: str,
    first_name: str,
    last_name: str,
    date_of_birth: date | None = None,
    groups: list[str] | None = None,
    extra_time_percent: int = 0,
) -> Student:
    unique_id = unique_id.strip()
    if not unique_id:
        raise ServiceError(
            422, "bad_student", "A student needs a unique ID (for example their UPN or admission number)."
        )
    if len(unique_id) > MAX_UNIQUE_ID:
        raise ServiceError(
            422,
            "bad_student",
            f"Unique ID is {len(unique_id)} characters; at most {MAX_UNIQUE_ID} are allowed.",
        )
    if not first_name.strip() or not last_name.strip():
        raise ServiceError(422, "bad_student", f"Student {unique_id} needs a first and a last name.")
    if not 0 <= extra_time_percent <= 400:
        raise ServiceError(422, "bad_student", "Extra time must be between 0 and 400 percent.")
    taken = session.scalar(
        select(Student.id).where(Student.school_id == actor.school_id, Student.unique_id == unique_id)
    )
    if taken is not None:
        raise ServiceError(
            409,
            "duplicate_unique_id",
            f"A student with unique ID {unique_id!r} already exists in this school.",
        )
    student = Student(
        school_id=actor.school_id,
        unique_id=unique_id,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        groups=sorted({g.strip() for g in groups or [] if g.strip()}),
        extra_time_percent=extra_time_percent,
    )
    session.add(student)
    session.flush()
    audit.record(session, actor, "add_student", target=student.id, unique_id=unique_id)
    return student


def get_student(session: Session, actor: Actor, student_id: str) -> Student:
    student = session.get(Student, student_id)
    if student is None or student.school_id != actor.school_id:
        raise not_found("student")
    return student


def list_students(session: Session, actor: Actor) -> list[Student]:
    return list(
        session.scalars(
            select(Student).where(Student.school_id == actor.school_id).order_by(Student.last_name, Student.first_name)
        )
    )


def set_student_active(session: Session, actor: Actor, student_id: str, *, active: bool) -> Student:
    student = get_student(session, actor, student_id)
    student.active = active
    audit.record(session, actor, "activate_student" if active else "deactivate_student", target=student.id)
    return student


def grant_credits(session: Session, actor: Actor, *, package_id: str, amount: int, expires_on: date | None) -> Credit:
    if amount < 0:
        raise ServiceError(422, "bad_credits", "Credits granted must be zero or more.")
    credit = credits_for(session, actor.school_id, package_id, lock=True)
    if credit is None:
        credit = Credit(school_id=actor.school_id, package_id=package_id, balance=0)
        session.add(credit)
    credit.balance += amount
    if expires_on is not None:
        credit.expires_on = expires_on
    session.flush()
    audit.record(
        session,
        actor,
        "grant_credits",
        target=credit.id,
        package_id=package_id,
        amount=amount,
        expires_on=expires_on.isoformat() if expires_on else None,
    )
    return credit


def credits_for(session: Session, school_id: str, package_id: str, *, lock: bool = False) -> Credit | None:
    """The school's credits for a package. `lock=True` (before changing the balance) holds the row until the
    transaction ends and reads it afresh, so two server processes spending credits at once cannot both spend
    the same one (PostgreSQL; on SQLite, writers take turns and SQLAlchemy leaves FOR UPDATE out)."""
    query = select(Credit).where(Credit.school_id == school_id, Credit.package_id == package_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)
