"""Result codes read from QR codes in the console: recorded camera frames through a real QVideoSink, photos and
screenshots, the clipboard; every code submitted once to the live server, exactly like a typed one."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtMultimedia import QCameraDevice
from pytestqt.qtbot import QtBot

from player.ui.console.code_entry import CodeEntryView
from player.ui.console.qr_camera import Camera, CameraFeed
from player.ui.console.qr_reader import MAX_IMAGE_BYTES, NO_CAMERA
from sync.resultcode_qr import qr_texts
from tests.helpers.console import Chooser, ConsoleFactory, student_name
from tests.helpers.live_server import LiveServer
from tests.helpers.qr_frames import RecordedCamera, camera_frame, page_of, saved
from tests.helpers.result_codes import (
    forged_code_for,
    result_code_for,
    signed_in_codes_view,
    stored_results,
    submit_and_wait,
)
from tests.helpers.server import DemoTemplate
from tests.helpers.waiting import TIMEOUT_MS

# QVideoFrame.toImage() says once that it converts on the CPU: the test machines have no GPU (offscreen).
pytestmark = pytest.mark.qt_log_ignore(r"No RHI backend\. Using CPU conversion\.$")

_WORDS = random.Random(3)
LONG_ANSWER = " ".join("".join(_WORDS.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6)) for _ in range(100))
"""An extended answer that compresses badly, so the code needs several QR codes (four or five)."""


def code_of(live_server: LiveServer, demo_template: DemoTemplate, index: int = 0, *, long: bool = False) -> str:
    access_code = demo_template.data["students"][index]["access_code"]
    return result_code_for(live_server.url, access_code, description=LONG_ANSWER if long else "", short=True)


def scanning(qtbot: QtBot, view: CodeEntryView) -> None:
    view.reader.scan_button.click()
    assert view.reader.camera_on, view.reader.status.text()


def wait_for_message(qtbot: QtBot, view: CodeEntryView, start: str) -> str:
    qtbot.waitUntil(lambda: view.message.text().startswith(start), timeout=TIMEOUT_MS)
    return view.message.text()


def test_a_code_held_up_to_the_camera_for_many_frames_is_stored_once(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    code = code_of(live_server, demo_template)
    (text,) = qr_texts(code)
    frames = [
        camera_frame(None),
        camera_frame(None, busy=True),
        camera_frame(text, module_pixels=3),
        camera_frame(text, angle=25),
        camera_frame(text, noise=1200, seed=4),
        camera_frame(text, busy=True, angle=-40, module_pixels=5),
    ]
    camera = RecordedCamera(frames)
    view = signed_in_codes_view(qtbot, open_demo_console, cameras=lambda: [camera.camera()])
    ada = student_name(demo_template, 0)

    scanning(qtbot, view)
    assert view.reader.status.text().startswith("Camera on (Recorded camera): hold the QR code up to it")
    message = wait_for_message(qtbot, view, "New results received")
    assert message == f"New results received for {ada} (Demo sitting). They are stored on the server."
    assert " ".join(view.code_edit.toPlainText().split()) == text, "the code read is in the box, as if typed"

    # The camera keeps seeing the same code, frame after frame, three more rounds: nothing more is sent.
    seen = camera.shown
    qtbot.waitUntil(lambda: camera.shown > seen + 3 * len(frames), timeout=TIMEOUT_MS)
    assert view.message.text() == message
    assert len(stored_results(live_server.url, demo_template, ada)) == 1


def test_the_parts_of_a_long_code_shown_in_any_order_are_joined_and_submitted(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    code = code_of(live_server, demo_template, long=True)
    parts = qr_texts(code)
    assert len(parts) >= 3
    shuffled = parts[:]
    random.Random(7).shuffle(shuffled)
    frames = [camera_frame(None)] + [
        camera_frame(part, module_pixels=5, angle=8 * n) for n, part in enumerate(shuffled)
    ]
    camera = RecordedCamera(frames)
    view = signed_in_codes_view(qtbot, open_demo_console, cameras=lambda: [camera.camera()])
    ada = student_name(demo_template, 0)

    scanning(qtbot, view)
    wait_for_message(qtbot, view, "New results received")
    assert view.reader.status.text().startswith(f"All {len(parts)} parts of code ")
    seen = camera.shown
    qtbot.waitUntil(lambda: camera.shown > seen + 2 * len(frames), timeout=TIMEOUT_MS)
    assert view.message.text().startswith("New results received"), "read again, the parts are not sent again"
    assert len(stored_results(live_server.url, demo_template, ada)) == 1


def test_one_picture_holding_every_part_is_read_at_once(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    tmp_path: Path,
) -> None:
    parts = qr_texts(code_of(live_server, demo_template, long=True))
    page = saved(page_of(parts[::-1]), tmp_path / "results slip.png")
    view = signed_in_codes_view(qtbot, open_demo_console, qr_images=Chooser([page], []).open)

    view.reader.open_image_button.click()

    message = wait_for_message(qtbot, view, "New results received")
    assert student_name(demo_template, 0) in message
    assert view.reader.status.text().startswith(f"All {len(parts)} parts of code ")

    view.reader.load_image(page)  # the same page again: said plainly, and nothing is sent twice
    qtbot.waitUntil(lambda: "was read before" in view.reader.status.text(), timeout=TIMEOUT_MS)
    assert view.reader.status.text() == (
        "The QR code in results slip.png was read before and its code submitted. Press Clear to read it again."
    )
    assert len(stored_results(live_server.url, demo_template, student_name(demo_template, 0))) == 1


def test_a_changed_part_is_refused_and_nothing_is_stored(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    tmp_path: Path,
) -> None:
    parts = qr_texts(code_of(live_server, demo_template, long=True))
    head, piece = parts[1].split(":", 1)
    swapped = "2" if piece[5] != "2" else "3"
    parts[1] = f"{head}:{piece[:5]}{swapped}{piece[6:]}"  # one symbol of part 2 changed
    page = saved(page_of(parts), tmp_path / "page.png")
    view = signed_in_codes_view(qtbot, open_demo_console)

    view.reader.load_image(page)

    qtbot.waitUntil(lambda: "do not join" in view.reader.status.text(), timeout=TIMEOUT_MS)
    assert view.reader.status.objectName() == "error"
    assert "a part has been changed or belongs to another code. Read all the parts again." in (
        view.reader.status.text()
    )
    assert view.message.text() == ""
    assert view.last_receipt is None
    assert stored_results(live_server.url, demo_template, student_name(demo_template, 0)) == []


def test_a_partial_set_says_what_is_still_to_read_and_clear_forgets_it(
    qtbot: QtBot,
    open_demo_console: ConsoleFactory,
    live_server: LiveServer,
    demo_template: DemoTemplate,
    tmp_path: Path,
) -> None:
    parts = qr_texts(code_of(live_server, demo_template, long=True))
    set_id = parts[0].split("SET ")[1][:4]
    count = len(parts)
    camera = RecordedCamera([camera_frame(parts[1], module_pixels=5), camera_frame(None)])
    view = signed_in_codes_view(qtbot, open_demo_console, cameras=lambda: [camera.camera()])

    scanning(qtbot, view)
    others = [str(n) for n in range(1, count + 1) if n != 2]
    expected = (
        f"Code {set_id}: 1 of {count} parts read. Still to read: parts {', '.join(others[:-1])} and {others[-1]}."
    )
    qtbot.waitUntil(lambda: view.reader.status.text().endswith(expected), timeout=TIMEOUT_MS)
    view.reader.scan_button.click()
    assert not view.reader.camera_on
    assert not camera.running
    assert view.message.text() == ""
    assert view.last_receipt is None
    assert stored_results(live_server.url, demo_template, student_name(demo_template, 0)) == []

    view.clear_button.click()  # forgets part 2: the next picture of part 1 starts the count again
    view.reader.load_image(saved(page_of([parts[0]]), tmp_path / "part1.png"))
    rest = [str(n) for n in range(2, count + 1)]
    qtbot.waitUntil(lambda: view.reader.status.text().startswith(f"Code {set_id}: 1 of"), timeout=TIMEOUT_MS)
    assert view.reader.status.text() == (
        f"Code {set_id}: 1 of {count} parts read. Still to read: parts {', '.join(rest[:-1])} and {rest[-1]}."
    )


def test_a_code_that_is_not_authentic_gets_the_same_message_read_or_typed(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    students = demo_template.data["students"]
    forged = forged_code_for(live_server.url, students[0]["access_code"], other_access_code=students[1]["access_code"])
    camera = RecordedCamera([camera_frame(qr_texts(forged)[0], module_pixels=5)])
    view = signed_in_codes_view(qtbot, open_demo_console, cameras=lambda: [camera.camera()])

    scanning(qtbot, view)
    read = wait_for_message(qtbot, view, "The result code is not genuine")
    view.reader.stop_camera()
    view.code_edit.setPlainText(forged)
    typed = submit_and_wait(qtbot, view)

    assert read == typed
    assert stored_results(live_server.url, demo_template, student_name(demo_template, 0)) == []


def test_with_no_camera_the_console_says_so_and_offers_pictures(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    view = signed_in_codes_view(qtbot, open_demo_console, cameras=lambda: [])

    view.reader.scan_button.click()

    assert view.reader.status.text() == NO_CAMERA
    assert NO_CAMERA.startswith("No camera found on this computer: open a photo or screenshot of the QR code instead")
    assert not view.reader.camera_on
    assert view.reader.open_image_button.isEnabled()
    assert view.reader.paste_button.isEnabled()


def test_a_camera_that_fails_is_reported_in_words(qtbot: QtBot, open_demo_console: ConsoleFactory) -> None:
    # A real QCamera over a device that is not there: the FFmpeg backend reports an error, as for a camera that
    # was unplugged or is in use by another program.
    view = signed_in_codes_view(
        qtbot, open_demo_console, cameras=lambda: [Camera("Desk camera", lambda: CameraFeed(QCameraDevice()))]
    )

    view.reader.scan_button.click()

    qtbot.waitUntil(lambda: not view.reader.camera_on, timeout=TIMEOUT_MS)
    status = view.reader.status.text()
    assert status.startswith("The camera does not work: "), status
    assert "not in use by another program, then press Scan QR code again, or open a photo" in status
    assert view.reader.status.objectName() == "error"


def test_a_camera_that_stops_working_while_scanning_is_turned_off_and_named(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    camera = RecordedCamera([camera_frame(None)], name="USB camera")
    view = signed_in_codes_view(qtbot, open_demo_console, cameras=lambda: [camera.camera()])
    scanning(qtbot, view)
    qtbot.waitUntil(lambda: camera.shown > 2, timeout=TIMEOUT_MS)

    camera.fault = "The camera (USB camera) does not work: device unplugged."

    qtbot.waitUntil(lambda: not view.reader.camera_on, timeout=TIMEOUT_MS)
    assert not camera.running
    assert view.reader.status.text() == camera.fault
    assert view.reader.scan_button.text().replace("&", "") == "Scan QR code"


def test_the_camera_stops_when_the_tab_is_left_and_when_the_console_closes(
    qtbot: QtBot, open_demo_console: ConsoleFactory
) -> None:
    camera = RecordedCamera([camera_frame(None)])
    console = open_demo_console(cameras=lambda: [camera.camera()])
    console.sign_in()
    qtbot.waitUntil(lambda: console.window.session is not None, timeout=TIMEOUT_MS)
    home, view = console.window.home, console.window.code_entry
    home.setCurrentWidget(view)

    scanning(qtbot, view)
    qtbot.waitUntil(lambda: camera.shown > 2, timeout=TIMEOUT_MS)
    home.setCurrentIndex(0)
    assert not camera.running
    assert not view.reader.camera_on

    home.setCurrentWidget(view)
    scanning(qtbot, view)
    assert camera.running
    console.window.close()
    assert not camera.running


def test_a_picture_with_no_qr_code_and_a_file_that_is_no_picture_are_named(
    qtbot: QtBot, open_demo_console: ConsoleFactory, tmp_path: Path
) -> None:
    view = signed_in_codes_view(qtbot, open_demo_console)
    blank = saved(camera_frame(None, busy=True), tmp_path / "desk.jpg")
    broken = tmp_path / "photo.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    huge = tmp_path / "scan.tif"
    with huge.open("wb") as sparse:
        sparse.truncate(MAX_IMAGE_BYTES + 1)

    view.reader.load_image(blank)
    qtbot.waitUntil(lambda: view.reader.status.text().startswith("No QR code"), timeout=TIMEOUT_MS)
    assert view.reader.status.text() == (
        "No QR code found in desk.jpg. Make sure the whole QR code is in the picture, sharp and not cut off, or "
        "type the code instead."
    )

    view.reader.load_image(broken)
    qtbot.waitUntil(lambda: view.reader.status.text().startswith("photo.png"), timeout=TIMEOUT_MS)
    assert view.reader.status.text().startswith("photo.png cannot be opened as a picture (")
    assert view.reader.status.text().endswith("Open a PNG or JPEG photo or screenshot of the QR code.")

    view.reader.load_image(huge)
    qtbot.waitUntil(lambda: view.reader.status.text().startswith("scan.tif"), timeout=TIMEOUT_MS)
    assert view.reader.status.text() == (
        "scan.tif is 40 MB: too big for a photo of a QR code (at most 40 MB). Open a smaller photo, or a "
        "screenshot of just the QR code."
    )
    assert view.message.text() == ""


def test_a_screenshot_on_the_clipboard_is_pasted_and_submitted(
    qtbot: QtBot, open_demo_console: ConsoleFactory, live_server: LiveServer, demo_template: DemoTemplate
) -> None:
    view = signed_in_codes_view(qtbot, open_demo_console)
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("not a picture")

    view.reader.paste_button.click()
    assert view.reader.status.text().startswith("The clipboard holds no picture. Take a screenshot of the QR code")

    (text,) = qr_texts(code_of(live_server, demo_template, 2))
    clipboard.setImage(camera_frame(text, busy=True, module_pixels=4))
    view.reader.paste_button.click()

    message = wait_for_message(qtbot, view, "New results received")
    assert student_name(demo_template, 2) in message


def test_a_qr_code_that_is_not_a_result_code_is_named(qtbot: QtBot, open_demo_console: ConsoleFactory) -> None:
    view = signed_in_codes_view(qtbot, open_demo_console)
    poster = camera_frame("HTTPS://EXAMPLE.ORG/WIFI")
    QGuiApplication.clipboard().setImage(poster)

    view.reader.paste_button.click()

    qtbot.waitUntil(lambda: view.reader.status.text().startswith("This QR code"), timeout=TIMEOUT_MS)
    assert view.reader.status.text() == (
        "This QR code is not a result code (it holds 'HTTPS://EXAMPLE.ORG/WIFI'). Read the QR code shown on the "
        "player's finished screen or printed on the results slip."
    )
    assert view.message.text() == ""
