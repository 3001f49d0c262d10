"""A student's player never loads the staff wire types: sync.client imports them only for staff calls."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.live_server import LiveServer
from tests.helpers.server import Demo

STUDENT_FLOW = """
import json, sys, uuid
from datetime import UTC, datetime
from pathlib import Path

from player.offline_queue import outbox, uploader  # the player's sending side, which imports sync.client
from sync.client import InvigilClient
from sync.mediacache import MediaCache
from sync.protocol import AnswerRecord, Checkpoint, Heartbeat, ResultEnvelope

url, code, media = sys.argv[1], sys.argv[2], Path(sys.argv[3])
loaded = {"after import": "sync.staff_protocol" in sys.modules}
with InvigilClient(url, machine_id="pc-1") as client:
    login = client.login(code)
    client.fetch_all_media(login, MediaCache(media))
    now = datetime.now(UTC)
    first = login.assessment.sections[0]
    client.put_checkpoint(login.attempt_id, login.attempt_token, Checkpoint(
        section_id=first.id, item_id=first.items[0].id, remaining_seconds=60, taken_at=now))
    client.heartbeat(login.attempt_id, login.attempt_token, Heartbeat(section_id=first.id))
    envelopes = [
        ResultEnvelope(idempotency_key=str(uuid.uuid4()), attempt_id=login.attempt_id, section_ids=[first.id],
                       answers=[AnswerRecord(item_id=first.items[0].id, value="b", answered_at=now)],
                       finished_at=now, final=False)
        for _ in range(3)
    ]
    client.submit_result(login.attempt_id, login.attempt_token, envelopes[0])
    client.submit_results(login.attempt_id, login.attempt_token, envelopes[1:2])
    client.submit_result_bodies(login.attempt_id, login.attempt_token,
                                [(e.idempotency_key, e.model_dump_json()) for e in envelopes[2:]])
loaded["after a sitting"] = "sync.staff_protocol" in sys.modules
with InvigilClient(url) as client:
    try:
        client.staff_login("nobody", "wrong password")
    except Exception:
        pass
loaded["after a staff call"] = "sync.staff_protocol" in sys.modules
print(json.dumps(loaded))
"""


def test_a_student_session_never_imports_the_staff_wire_types(
    live_server: LiveServer, demo: Demo, tmp_path: Path
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", STUDENT_FLOW, live_server.url, demo.codes[0], str(tmp_path / "media")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"after import": False, "after a sitting": False, "after a staff call": True}
