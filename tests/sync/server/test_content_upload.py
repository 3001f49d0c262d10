"""Loading a content package through the staff API (`POST /staff/assessments`, `serve --content-uploads`): only
admins, only when the operator turned it on, checked completely, and nothing stored on any refusal."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from resources import demo_assessment_path
from sync.client import InvigilClient, Refused
from sync.server import accounts, sittings
from sync.server.audit import Actor
from sync.server.bodylimit import KB, BodyLimits
from sync.server.cli import build_parser
from sync.server.content_upload import UPLOADS_OFF
from sync.server.crypto import Keyring
from sync.server.models import Assessment, AssessmentMedia, AuditEntry, Media
from sync.server.settings import LoginLimits, ServerSettings
from sync.server.store import Store
from sync.server.workers import OPTIONS_ENV, WorkerOptions
from tests.helpers.clock import START
from tests.helpers.live_server import LiveServer
from tests.helpers.qti_packages import choice_item, package_files, write_zip
from tests.helpers.server import API, Demo, DemoTemplate, role_headers, staff_headers

CONTENT_LIMIT = 64 * KB
"""This module's `--max-body content=`: small, so the oversize test sends little."""
PNG = (demo_assessment_path() / "media" / "circles.png").read_bytes() + b"upload-test"
"""A picture no other package holds (its bytes differ from the demo's), so its Media row is this upload's."""


@pytest.fixture
def uploads() -> bool:
    """`serve --content-uploads`; a test parametrizes it to False for a server without it."""
    return True


@pytest.fixture
def settings(database_url: str, server_key: bytes, uploads: bool) -> ServerSettings:
    return ServerSettings(
        database_url=database_url,
        secret_key=server_key,
        login_limits=LoginLimits(per_machine=10, per_address=100),
        body_limits=BodyLimits().overridden([("content", CONTENT_LIMIT)]),
        content_uploads=uploads,
    )


def manifest(*, title: str = "Fractions check", version: str = "1", correct: str = "a") -> dict[str, Any]:
    return {
        "id": "upload-fractions",
        "version": version,
        "title": title,
        "sections": [
            {
                "id": "s1",
                "title": "Fractions",
                "time_limit_minutes": 10,
                "items": [
                    {
                        "id": "q1",
                        "type": "single_choice",
                        "prompt": "Which is half?",
                        "image": "media/half.png",
                        "options": [{"id": "a", "text": "1/2"}, {"id": "b", "text": "1/3"}],
                        "correct": correct,
                    },
                    {"id": "q2", "type": "short_text", "prompt": "Write 0.5 as a fraction", "accepted": ["1/2"]},
                ],
            }
        ],
    }


def package(raw: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", json.dumps(raw))
        archive.writestr("media/half.png", PNG)
    return buffer.getvalue()


def upload(client: TestClient, headers: dict[str, str], body: bytes, *, name: str = "fractions.zip") -> Any:
    sent = headers | {"Content-Type": "application/zip", "X-Filename": name}
    return client.post(f"{API}/staff/assessments", content=body, headers=sent)


def stored(store: Store) -> tuple[int, bool]:
    """(assessments of the uploaded package, whether its picture is stored)."""
    with store.transaction() as session:
        count = session.scalar(
            select(func.count()).select_from(Assessment).where(Assessment.package_id == "upload-fractions")
        )
        media = session.get(Media, hashlib.sha256(PNG).hexdigest()) is not None
    return int(count or 0), media


def test_an_admin_loads_a_package_once_and_the_same_package_again_changes_nothing(
    client: TestClient, store: Store, demo: Demo, admin: dict[str, str]
) -> None:
    first = upload(client, admin, package(manifest()))
    assert first.status_code == 201, first.text
    loaded = first.json()
    assert (loaded["package_id"], loaded["version"], loaded["title"]) == ("upload-fractions", "1", "Fractions check")
    assert (loaded["sections"], loaded["items"], loaded["already_loaded"]) == (1, 2, False)
    assert stored(store) == (1, True)
    listed = client.get(f"{API}/staff/assessments", headers=admin).json()
    assert {"id": loaded["id"], "package_id": "upload-fractions", "version": "1", "title": "Fractions check"} in listed

    again = upload(client, admin, package(manifest()))
    assert again.status_code == 200, again.text
    assert again.json() == loaded | {"already_loaded": True}
    assert stored(store) == (1, True)

    with store.transaction() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.target == loaded["id"]).order_by(AuditEntry.id)
        ).all()
        assert [(e.action, e.actor, e.school_id) for e in entries] == [
            ("assessment_loaded", "demo-admin", demo.school_id),
            ("assessment_load_repeated", "demo-admin", demo.school_id),
        ]
        detail = entries[0].detail
        assert (detail["package_id"], detail["version"], detail["file"]) == ("upload-fractions", "1", "fractions.zip")
        assert detail["content_hash"] == loaded["content_hash"]
        links = session.scalar(
            select(func.count()).select_from(AssessmentMedia).where(AssessmentMedia.assessment_id == loaded["id"])
        )
        assert links == 1


def test_changed_content_under_the_same_version_is_refused_and_the_first_kept(
    client: TestClient, store: Store, demo: Demo, admin: dict[str, str]
) -> None:
    assert upload(client, admin, package(manifest())).status_code == 201
    changed = upload(client, admin, package(manifest(correct="b")))
    assert changed.status_code == 409, changed.text
    assert changed.json()["error"] == "version_exists"
    assert "upload-fractions version 1 is already loaded with different content" in changed.json()["message"]
    assert stored(store) == (1, True)
    newer = upload(client, admin, package(manifest(correct="b", version="2")))
    assert newer.status_code == 201, newer.text
    assert stored(store) == (2, True)


def test_a_bad_package_is_refused_with_the_importers_message_and_nothing_is_stored(
    client: TestClient, store: Store, demo: Demo, admin: dict[str, str]
) -> None:
    broken = manifest()
    broken["sections"][0]["items"][1]["type"] = "drag_and_drop"
    reply = upload(client, admin, package(broken), name="C:\\Users\\head\\fractions v2.zip")
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["error"] == "bad_package"
    assert body["message"].startswith("manifest.json: sections[0].items[1]"), body["message"]
    assert "drag_and_drop" in body["message"]
    assert stored(store) == (0, False)  # the picture of the valid first item is not kept either

    not_a_zip = upload(client, admin, b"PK\x03\x04 this is not really a zip", name="fractions.zip")
    assert not_a_zip.status_code == 422
    assert not_a_zip.json()["message"].startswith("fractions.zip: not a readable zip file")
    with store.transaction() as session:
        assert (
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("assessment_%")))
            == 0
        )


def test_only_admins_may_load_and_other_bodies_are_refused(
    client: TestClient, store: Store, demo: Demo, admin: dict[str, str]
) -> None:
    for role in ("teacher", "invigilator"):
        reply = upload(client, role_headers(client, store, school_id=demo.school_id, role=role), package(manifest()))
        assert reply.status_code == 403, reply.text
        assert reply.json()["message"] == f"Loading an assessment needs the role admin; you are signed in as {role}."
    unsigned = client.post(
        f"{API}/staff/assessments", content=package(manifest()), headers={"Content-Type": "application/zip"}
    )
    assert unsigned.status_code == 401
    as_json = client.post(f"{API}/staff/assessments", json=manifest(), headers=admin)
    assert as_json.status_code == 415
    assert "Content-Type application/zip, not application/json" in as_json.json()["message"]
    too_big = upload(client, admin, package(manifest()) + bytes(CONTENT_LIMIT))
    assert too_big.status_code == 413
    assert "at most 64 KB" in too_big.json()["message"]
    assert "--max-body content=SIZE" in too_big.json()["message"]
    assert stored(store) == (0, False)


@pytest.mark.parametrize("uploads", [False])
def test_without_content_uploads_the_server_says_how_content_is_loaded(
    client: TestClient, store: Store, demo: Demo, admin: dict[str, str]
) -> None:
    reply = upload(client, admin, package(manifest()))
    assert reply.status_code == 403
    assert reply.json() == {
        "error": "content_uploads_off",
        "message": UPLOADS_OFF,
        "retry_after_seconds": None,
        "number": "INV-7003",
    }
    assert "invigil-server load-assessment" in UPLOADS_OFF
    assert "--content-uploads" in UPLOADS_OFF
    assert stored(store) == (0, False)


def test_an_upload_leaves_other_schools_sittings_and_logs_alone(
    client: TestClient, store: Store, settings: ServerSettings, demo: Demo, admin: dict[str, str], tmp_path: Path
) -> None:
    zipped = tmp_path / "fractions.zip"
    zipped.write_bytes(package(manifest()))
    with store.transaction() as session:
        school = accounts.create_school(session, name="Other School")
        accounts.add_staff(session, school_id=school.id, username="b-admin", password="b-password", role="admin")
        actor = Actor.cli(school.id)
        accounts.grant_credits(session, actor, package_id="upload-fractions", amount=5, expires_on=None)
        student = accounts.add_student(session, actor, unique_id="B-1", first_name="Bea", last_name="Other")
        loaded, _ = sittings.load_assessment(session, zipped)
        first_version = loaded.id
        sitting, _ = sittings.create_sitting(
            session,
            actor,
            Keyring(settings.secret_key),
            assessment_ref="upload-fractions",
            name="B sitting",
            window_start=START - timedelta(minutes=1),
            window_end=START + timedelta(hours=2),
            student_ids=[student.id],
            now=START,
        )
    b_staff = staff_headers(client, "b-admin", "b-password")
    b_log_before = client.get(f"{API}/staff/sittings/{sitting.id}/log", headers=b_staff).json()

    newer = upload(client, admin, package(manifest(title="Fractions check (school A)", version="2")))
    assert newer.status_code == 201, newer.text

    b_sitting = client.get(f"{API}/staff/sittings/{sitting.id}", headers=b_staff).json()
    assert (b_sitting["assessment_id"], b_sitting["assessment_title"]) == (first_version, "Fractions check")
    assert client.get(f"{API}/staff/sittings/{sitting.id}/log", headers=b_staff).json() == b_log_before
    with store.transaction() as session:
        uploads = session.scalars(select(AuditEntry).where(AuditEntry.action == "assessment_loaded")).all()
        assert [(e.school_id, e.actor) for e in uploads] == [(demo.school_id, "demo-admin")]


def test_the_staff_client_uploads_a_file_reporting_progress_and_says_what_was_refused(
    live_server: LiveServer, demo: Demo, demo_template: DemoTemplate, tmp_path: Path
) -> None:
    good = tmp_path / "fractions.zip"
    good.write_bytes(package(manifest()))
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"not a zip at all")
    reports: list[tuple[int, int]] = []
    with InvigilClient(live_server.url, timeout=5.0) as client:
        loaded = client.upload_assessment(demo_template.admin_token, good, progress=lambda d, t: reports.append((d, t)))
        assert (loaded.title, loaded.version, loaded.items, loaded.already_loaded) == ("Fractions check", "1", 2, False)
        size = good.stat().st_size
        assert reports[-1] == (size, size)
        assert [d for d, _ in reports] == sorted(d for d, _ in reports)
        assert any(a.id == loaded.id for a in client.assessments(demo_template.admin_token))
        with pytest.raises(Refused) as refused:
            client.upload_assessment(demo_template.admin_token, bad)
        assert (refused.value.status, refused.value.error) == (422, "bad_package")
        assert str(refused.value).startswith("broken.zip: not a readable zip file")
        untimed = write_zip(tmp_path / "untimed.zip", package_files({"items/q1.xml": choice_item("q1")}, max_time=None))
        qti = client.upload_assessment(demo_template.admin_token, untimed, untimed_section_minutes=15)
        assert (qti.title, qti.items, qti.already_loaded) == ("A test", 1, False)


def test_serve_takes_content_uploads_off_by_default_and_hands_the_flag_to_its_workers() -> None:
    assert build_parser().parse_args(["serve"]).content_uploads is False
    assert build_parser().parse_args(["serve", "--content-uploads"]).content_uploads is True
    options = WorkerOptions(database_url="sqlite:///x.db", secret_file="x.secret", content_uploads=True)
    assert WorkerOptions.from_environment({OPTIONS_ENV: options.to_json()}).content_uploads is True
    assert WorkerOptions.from_environment({OPTIONS_ENV: options.to_json()}) == options


def test_a_qti_package_loads_and_its_untimed_sections_take_the_minutes_given(
    client: TestClient, store: Store, demo: Demo, admin: dict[str, str], tmp_path: Path
) -> None:
    items: dict[str, str | bytes] = {"items/q1.xml": choice_item("q1"), "items/q2.xml": choice_item("q2")}
    timed = write_zip(tmp_path / "timed.zip", package_files(items))
    reply = upload(client, admin, timed.read_bytes(), name="timed.zip")
    assert reply.status_code == 201, reply.text
    assert (reply.json()["title"], reply.json()["sections"], reply.json()["items"]) == ("A test", 1, 2)

    untimed = write_zip(tmp_path / "untimed.zip", package_files({"items/q1.xml": choice_item("q1")}, max_time=None))
    with store.transaction() as session:
        before = session.scalar(select(func.count()).select_from(Assessment))
    refused = upload(client, admin, untimed.read_bytes(), name="untimed.zip")
    assert refused.status_code == 422
    assert refused.json()["message"].startswith(
        "test.xml: no time limit (timeLimits maxTime) for section(s) 'Section one'"
    )
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Assessment)) == before

    sent = admin | {"Content-Type": "application/zip", "X-Filename": "untimed.zip"}
    given = client.post(
        f"{API}/staff/assessments?untimed_section_minutes=20", content=untimed.read_bytes(), headers=sent
    )
    assert given.status_code == 201, given.text
    with store.transaction() as session:
        row = session.get(Assessment, given.json()["id"])
        assert row is not None
        stored_manifest = json.loads(row.manifest_json)
    assert stored_manifest["sections"][0]["time_limit_minutes"] == 20
    too_long = client.post(
        f"{API}/staff/assessments?untimed_section_minutes=0", content=untimed.read_bytes(), headers=sent
    )
    assert too_long.status_code == 422
