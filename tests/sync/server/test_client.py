"""sync.client against the real server under uvicorn, and against tiny raw servers that misbehave on purpose."""

from __future__ import annotations

import hashlib
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sync.client import (
    BadReply,
    InvigilClient,
    MediaCorrupt,
    Refused,
    ServerBusy,
    Unreachable,
    is_transient,
)
from sync.mediacache import MediaCache
from sync.protocol import AnswerRecord, Checkpoint, Heartbeat, LoginResponse, MediaRef, ResultEnvelope
from tests.helpers.clock import START, FakeClock
from tests.helpers.live_server import LiveServer
from tests.helpers.server import Demo

# ---- helpers -------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """A raw HTTP server on 127.0.0.1:0 that answers with the given replies in order (the last one repeats)."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.seen: list[Seen] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
                reply = outer.replies.pop(0) if len(outer.replies) > 1 else outer.replies[0]
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean; the test asserts on `seen` instead

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(*replies: Reply) -> ScriptedServer:
        servers.append(ScriptedServer(list(replies)))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


class RecordedSleep:
    """Stands in for time.sleep so retry waits are asserted, not spent."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def make_client() -> Iterator[Callable[..., InvigilClient]]:
    made: list[InvigilClient] = []

    def make(url: str, **kw: object) -> InvigilClient:
        made.append(InvigilClient(url, **kw))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture
def api(live_server: LiveServer, make_client: Callable[..., InvigilClient]) -> InvigilClient:
    return make_client(live_server.url, machine_id="room-1-pc-1")


@pytest.fixture
def closed_port_url() -> str:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def media_ref(data: bytes, *, filename: str = "listen.ogg") -> MediaRef:
    return MediaRef(
        role="audio", sha256=hashlib.sha256(data).hexdigest(), filename=filename, mime_type="audio/ogg", size=len(data)
    )


def all_refs(login: LoginResponse) -> list[MediaRef]:
    return [ref for section in login.assessment.sections for item in section.items for ref in item.media]


def envelope_for(login: LoginResponse) -> ResultEnvelope:
    item = login.assessment.sections[0].items[0]
    return ResultEnvelope(
        idempotency_key=str(uuid.uuid4()),
        attempt_id=login.attempt_id,
        section_ids=[s.id for s in login.assessment.sections],
        answers=[AnswerRecord(item_id=item.id, value=item.options[0].id, answered_at=START)],
        finished_at=START + timedelta(minutes=20),
    )


# ---- login and refusals --------------------------------------------------------------------------


def test_login_with_a_printed_code_returns_the_student_and_the_test(api: InvigilClient, demo: Demo) -> None:
    reply = api.login(demo.codes[0])
    assert reply.student == "Ada Lovelace"
    assert [s.title for s in reply.assessment.sections] == ["Multiple choice", "Short answers", "Dictation"]


def test_an_unknown_code_is_refused_with_the_servers_code_and_sentence(api: InvigilClient, demo: Demo) -> None:
    with pytest.raises(Refused) as caught:
        api.login("ZZZZ-ZZZZ")
    assert (caught.value.status, caught.value.error) == (401, "unknown_code")
    assert "check" in str(caught.value).lower()
    assert not is_transient(caught.value)


def test_a_malformed_code_is_refused_with_the_reason(api: InvigilClient, demo: Demo) -> None:
    with pytest.raises(Refused) as caught:
        api.login("ABC")
    assert caught.value.error == "malformed_code"
    assert "8" in str(caught.value)


def test_a_code_too_long_for_the_wire_gets_the_same_kind_of_answer(api: InvigilClient, demo: Demo) -> None:
    with pytest.raises(Refused) as caught:
        api.login("A" * 100)
    assert caught.value.error == "malformed_code"
    assert "you typed 100" in str(caught.value)


def test_not_open_yet_names_the_opening_time(api: InvigilClient, demo: Demo, clock: FakeClock) -> None:
    clock.advance(minutes=-10)
    with pytest.raises(Refused) as caught:
        api.login(demo.codes[0])
    assert (caught.value.status, caught.value.error) == (403, "not_open_yet")
    assert "08:55" in str(caught.value)


def test_a_code_in_use_on_another_machine_says_to_ask_the_invigilator(
    api: InvigilClient, demo: Demo, live_server: LiveServer, make_client: Callable[..., InvigilClient]
) -> None:
    api.login(demo.codes[0])
    with pytest.raises(Refused) as caught:
        make_client(live_server.url, machine_id="room-1-pc-2").login(demo.codes[0])
    assert (caught.value.status, caught.value.error) == (409, "in_use_elsewhere")
    assert "invigilator" in str(caught.value)


def test_a_finished_test_cannot_be_logged_into_again(api: InvigilClient, demo: Demo) -> None:
    login = api.login(demo.codes[0])
    api.submit_result(login.attempt_id, login.attempt_token, envelope_for(login))
    with pytest.raises(Refused) as caught:
        api.login(demo.codes[0])
    assert caught.value.error == "already_finished"
    assert "already finished" in str(caught.value)


def test_a_wrong_attempt_token_is_refused(api: InvigilClient, demo: Demo) -> None:
    login = api.login(demo.codes[0])
    with pytest.raises(Refused) as caught:
        api.heartbeat(login.attempt_id, "not-the-token", Heartbeat())
    assert (caught.value.status, caught.value.error) == (401, "attempt_token_invalid")


def test_a_lockout_is_server_busy_with_the_wait_and_the_servers_sentence(api: InvigilClient, demo: Demo) -> None:
    # The uploader retries a 429 after Retry-After; a login screen shows the sentence and does not retry by itself.
    for _ in range(10):
        with pytest.raises(Refused):
            api.login("ZZZZ-ZZZZ")
    with pytest.raises(ServerBusy) as caught:
        api.login(demo.codes[0])
    assert (caught.value.status, caught.value.error, caught.value.retry_after) == (429, "locked_out", 600)
    assert "try again" in str(caught.value).lower()
    assert is_transient(caught.value)


# ---- media ---------------------------------------------------------------------------------------


def test_media_are_downloaded_verified_and_then_served_from_the_cache_with_no_network(
    api: InvigilClient, demo: Demo, tmp_path: Path, closed_port_url: str, make_client: Callable[..., InvigilClient]
) -> None:
    login = api.login(demo.codes[0])
    cache = MediaCache(tmp_path / "media")
    seen: list[tuple[int, int]] = []
    paths = api.fetch_all_media(login, cache, progress=lambda done, total: seen.append((done, total)))
    refs = {ref.sha256: ref for ref in all_refs(login)}
    assert len(refs) >= 2
    assert set(paths) == set(refs)
    for sha, path in paths.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert seen == [(n, len(refs)) for n in range(len(refs) + 1)]
    # A client that cannot reach any server still gets every file: they come from the cache.
    offline = make_client(closed_port_url)
    for ref in refs.values():
        assert offline.fetch_media(login.attempt_id, login.attempt_token, ref, cache) == paths[ref.sha256]


@pytest.mark.parametrize("damage", ["flip_a_byte", "truncate"])
def test_a_damaged_cache_file_is_noticed_and_downloaded_again(
    api: InvigilClient, demo: Demo, tmp_path: Path, damage: str
) -> None:
    login = api.login(demo.codes[0])
    cache = MediaCache(tmp_path / "media")
    ref = all_refs(login)[0]
    path = api.fetch_media(login.attempt_id, login.attempt_token, ref, cache)
    good = path.read_bytes()
    path.write_bytes(bytes([good[0] ^ 0xFF]) + good[1:] if damage == "flip_a_byte" else good[: len(good) // 2])
    assert not cache.has_valid(ref)
    assert api.fetch_media(login.attempt_id, login.attempt_token, ref, cache) == path
    assert path.read_bytes() == good


def test_media_not_in_the_test_is_refused(api: InvigilClient, demo: Demo, tmp_path: Path) -> None:
    login = api.login(demo.codes[0])
    with pytest.raises(Refused) as caught:
        api.fetch_media(login.attempt_id, login.attempt_token, media_ref(b"not ours"), MediaCache(tmp_path))
    assert (caught.value.status, caught.value.error) == (404, "not_found")


@pytest.mark.parametrize("sent", [b"BAD audio", b"good audio and more"], ids=["wrong_bytes", "too_many_bytes"])
def test_bytes_that_do_not_match_the_hash_are_never_cached(
    scripted: Callable[..., ScriptedServer],
    make_client: Callable[..., InvigilClient],
    tmp_path: Path,
    sent: bytes,
) -> None:
    server = scripted(Reply(200, sent, {"Content-Type": "audio/ogg"}))
    ref = media_ref(b"good audio")
    cache = MediaCache(tmp_path / "media")
    with pytest.raises(MediaCorrupt) as caught:
        make_client(server.url).fetch_media("a1", "t", ref, cache)
    assert "listen.ogg" in str(caught.value)
    assert server.url in str(caught.value)
    assert list((tmp_path / "media").iterdir()) == []  # neither the file nor a leftover temporary


def test_a_failed_download_is_tried_twice_more_with_backoff(
    scripted: Callable[..., ScriptedServer], make_client: Callable[..., InvigilClient], tmp_path: Path
) -> None:
    data = b"audio bytes"
    server = scripted(Reply(503), Reply(502), Reply(200, data))
    sleep = RecordedSleep()
    path = make_client(server.url, sleep=sleep).fetch_media("a1", "t", media_ref(data), MediaCache(tmp_path))
    assert path.read_bytes() == data
    assert len(server.seen) == 3
    assert sleep.waits == [0.5, 2.0]


def test_a_download_that_keeps_failing_gives_up_after_three_tries(
    scripted: Callable[..., ScriptedServer], make_client: Callable[..., InvigilClient], tmp_path: Path
) -> None:
    server = scripted(Reply(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}))
    with pytest.raises(ServerBusy) as caught:
        make_client(server.url, sleep=RecordedSleep()).fetch_media("a1", "t", media_ref(b"x"), MediaCache(tmp_path))
    assert len(server.seen) == 3
    assert (caught.value.status, caught.value.error) == (503, "http_503")
    assert "HTTP 503" in str(caught.value)
    assert server.url in str(caught.value)


def test_a_short_retry_after_is_waited_out_and_a_long_one_is_not(
    scripted: Callable[..., ScriptedServer], make_client: Callable[..., InvigilClient], tmp_path: Path
) -> None:
    data = b"audio"
    short = scripted(Reply(429, b"", {"Retry-After": "3"}), Reply(200, data))
    sleep = RecordedSleep()
    make_client(short.url, sleep=sleep).fetch_media("a1", "t", media_ref(data), MediaCache(tmp_path / "one"))
    assert sleep.waits == [3.0]

    long = scripted(Reply(429, b"", {"Retry-After": "600"}))
    sleep = RecordedSleep()
    with pytest.raises(ServerBusy) as caught:
        make_client(long.url, sleep=sleep).fetch_media("a1", "t", media_ref(data), MediaCache(tmp_path / "two"))
    assert caught.value.retry_after == 600
    assert "600 seconds" in str(caught.value)
    assert (len(long.seen), sleep.waits) == (1, [])


def test_a_refused_download_is_not_retried(
    scripted: Callable[..., ScriptedServer], make_client: Callable[..., InvigilClient], tmp_path: Path
) -> None:
    server = scripted(Reply(404, b"<html>Not Found</html>", {"Content-Type": "text/html"}))
    with pytest.raises(Refused) as caught:
        make_client(server.url, sleep=RecordedSleep()).fetch_media("a1", "t", media_ref(b"x"), MediaCache(tmp_path))
    assert len(server.seen) == 1
    assert (caught.value.status, caught.value.error) == (404, "http_404")
    assert "right server" in str(caught.value)


# ---- network failures and bad replies ------------------------------------------------------------


def test_a_closed_port_is_unreachable_and_the_message_names_the_server(
    make_client: Callable[..., InvigilClient], closed_port_url: str
) -> None:
    with pytest.raises(Unreachable) as caught:
        make_client(closed_port_url).login("ABCD-2345")
    message = str(caught.value)
    assert closed_port_url in message
    assert "refused" in message
    assert "ask IT" in message
    assert is_transient(caught.value)


def test_a_server_that_never_answers_is_unreachable_after_the_timeout(
    make_client: Callable[..., InvigilClient],
) -> None:
    # A listening socket that is never accept()ed still completes the TCP handshake (the kernel queues it),
    # so the request is sent and then waits for an answer that never comes.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)
        url = f"http://127.0.0.1:{black_hole.getsockname()[1]}"
        with pytest.raises(Unreachable) as caught:
            make_client(url, timeout=0.5).heartbeat("a1", "t", Heartbeat())
    assert url in str(caught.value)
    assert "did not answer within 0.5 seconds" in str(caught.value)


def test_a_reply_that_is_not_json_is_a_bad_reply(
    scripted: Callable[..., ScriptedServer], make_client: Callable[..., InvigilClient]
) -> None:
    server = scripted(Reply(200, b"<html>Welcome to the school Wi-Fi</html>", {"Content-Type": "text/html"}))
    with pytest.raises(BadReply) as caught:
        make_client(server.url).login("ABCD-2345")
    assert server.url in str(caught.value)
    assert "not JSON (text/html)" in str(caught.value)
    assert not is_transient(caught.value)


def test_json_of_the_wrong_shape_is_a_bad_reply_naming_the_field(
    scripted: Callable[..., ScriptedServer], make_client: Callable[..., InvigilClient]
) -> None:
    server = scripted(Reply(200, b'{"instructions": [{"kind": "explode"}]}', {"Content-Type": "application/json"}))
    with pytest.raises(BadReply) as caught:
        make_client(server.url).heartbeat("a1", "t", Heartbeat())
    assert "instructions.0.kind" in str(caught.value)


def test_a_redirect_is_not_followed_so_the_token_stays_here(
    scripted: Callable[..., ScriptedServer], make_client: Callable[..., InvigilClient]
) -> None:
    elsewhere = scripted(Reply(200, b"{}"))
    server = scripted(Reply(302, b"", {"Location": f"{elsewhere.url}/portal"}))
    with pytest.raises(BadReply) as caught:
        make_client(server.url).heartbeat("a1", "secret-token", Heartbeat())
    assert "redirect" in str(caught.value)
    assert elsewhere.seen == []


def test_a_server_error_without_a_body_is_server_busy(
    scripted: Callable[..., ScriptedServer], make_client: Callable[..., InvigilClient]
) -> None:
    server = scripted(Reply(500, b"Internal Server Error", {"Content-Type": "text/plain"}))
    with pytest.raises(ServerBusy) as caught:
        make_client(server.url).put_checkpoint(
            "a1", "t", Checkpoint(section_id="s", item_id="i", remaining_seconds=5, taken_at=START)
        )
    assert (caught.value.status, caught.value.retry_after) == (500, None)
    assert "tell your invigilator or IT" in str(caught.value)


def test_requests_carry_the_user_agent_and_the_token_and_ids_stay_inside_their_path_segment(
    scripted: Callable[..., ScriptedServer], make_client: Callable[..., InvigilClient]
) -> None:
    server = scripted(Reply(200, b'{"instructions": []}', {"Content-Type": "application/json"}))
    make_client(server.url + "/").heartbeat("../staff?x=1", "tok", Heartbeat(outbox_depth=2))
    [seen] = server.seen
    assert seen.headers["User-Agent"].startswith("invigil/")
    assert seen.headers["Authorization"] == "Bearer tok"
    assert seen.path == "/api/v1/attempts/..%2Fstaff%3Fx%3D1/heartbeat"
    assert Heartbeat.model_validate_json(seen.body).outbox_depth == 2


def test_a_server_address_that_is_not_a_web_address_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match=r"like https://invigil\.example\.org"):
        InvigilClient("invigil.school.local:8765")


# ---- progress and results ------------------------------------------------------------------------


def test_a_checkpoint_comes_back_when_the_student_logs_in_again(api: InvigilClient, demo: Demo) -> None:
    login = api.login(demo.codes[0])
    section = login.assessment.sections[0]
    checkpoint = Checkpoint(
        section_id=section.id, item_id=section.items[1].id, remaining_seconds=321, taken_at=START, plays={"dict-cat": 1}
    )
    api.put_checkpoint(login.attempt_id, login.attempt_token, checkpoint)
    assert api.login(demo.codes[0]).checkpoint == checkpoint


def test_a_heartbeat_gets_a_reply(api: InvigilClient, demo: Demo) -> None:
    login = api.login(demo.codes[0])
    reply = api.heartbeat(login.attempt_id, login.attempt_token, Heartbeat(outbox_depth=1, machine_id="room-1-pc-1"))
    assert reply.instructions == []


def test_results_sent_twice_are_stored_once(api: InvigilClient, demo: Demo) -> None:
    login = api.login(demo.codes[0])
    envelope = envelope_for(login)
    first = api.submit_result(login.attempt_id, login.attempt_token, envelope)
    second = api.submit_result(login.attempt_id, login.attempt_token, envelope)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.result_id == first.result_id
    staff = api.staff_login(demo.data["staff"]["username"], demo.data["staff"]["password"])
    results = api.sitting_results(staff.token, demo.sitting_id)
    assert [(r.id, r.student_name) for r in results] == [(first.result_id, "Ada Lovelace")]


# ---- staff ---------------------------------------------------------------------------------------


def test_staff_see_the_sitting_and_its_codes(api: InvigilClient, demo: Demo) -> None:
    staff = api.staff_login(demo.data["staff"]["username"], demo.data["staff"]["password"])
    assert staff.staff.school_name == "Demo Primary School"
    assert [s.id for s in api.sittings(staff.token)] == [demo.sitting_id]
    sitting = api.sitting(staff.token, demo.sitting_id)
    assert sorted(a.student_name for a in sitting.allocations) == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert sorted(slip.code for slip in api.codes(staff.token, demo.sitting_id)) == sorted(demo.codes)


def test_staff_release_a_code_so_another_machine_can_take_over(
    api: InvigilClient, demo: Demo, live_server: LiveServer, make_client: Callable[..., InvigilClient]
) -> None:
    api.login(demo.codes[0])
    staff = api.staff_login(demo.data["staff"]["username"], demo.data["staff"]["password"])
    ada = next(a for a in api.sitting(staff.token, demo.sitting_id).allocations if a.student_name == "Ada Lovelace")
    released = api.release(staff.token, ada.id, "PC 1 crashed", reason_kind="technical_problem")
    assert released.id == ada.id
    assert make_client(live_server.url, machine_id="room-1-pc-2").login(demo.codes[0]).student == "Ada Lovelace"


def test_staff_refusals_carry_the_servers_code(api: InvigilClient, demo: Demo) -> None:
    with pytest.raises(Refused) as caught:
        api.staff_login(demo.data["staff"]["username"], "wrong password")
    assert (caught.value.status, caught.value.error) == (401, "bad_credentials")
    assert "username and password" in str(caught.value)
    staff = api.staff_login(demo.data["staff"]["username"], demo.data["staff"]["password"])
    with pytest.raises(Refused) as caught:
        api.sitting(staff.token, "no-such-sitting")
    assert (caught.value.status, caught.value.error) == (404, "not_found")
    api.staff_logout(staff.token)
    with pytest.raises(Refused) as caught:
        api.sittings(staff.token)
    assert (caught.value.error, str(caught.value)) == ("token_expired", "Your sign-in has ended. Sign in again.")


def test_an_empty_password_is_refused_before_anything_is_sent(
    scripted: Callable[..., ScriptedServer], make_client: Callable[..., InvigilClient]
) -> None:
    server = scripted(Reply(500))
    with pytest.raises(Refused) as caught:
        make_client(server.url).staff_login("demo-admin", "")
    assert "password" in str(caught.value)
    assert server.seen == []


def test_codes_tokens_and_passwords_never_reach_the_log(
    api: InvigilClient, demo: Demo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    login = api.login(demo.codes[0])
    api.fetch_all_media(login, MediaCache(tmp_path))
    api.heartbeat(login.attempt_id, login.attempt_token, Heartbeat())
    password = demo.data["staff"]["password"]
    staff = api.staff_login(demo.data["staff"]["username"], password)
    api.codes(staff.token, demo.sitting_id)
    with pytest.raises(Refused):
        api.login(demo.codes[1].lower() + "x")
    assert "/api/v1/login -> 200" in caplog.text  # the log does say what happened
    for secret in [*demo.codes, *(c.replace("-", "") for c in demo.codes), login.attempt_token, staff.token, password]:
        assert secret not in caplog.text
        assert secret.lower() not in caplog.text
