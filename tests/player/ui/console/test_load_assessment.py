"""The console's Assessments tab: an admin loads a content package (a .zip chosen in a file dialog) on the live
server, watching its progress, and sees the package listed, or the server's refusal in full; a server without
`--content-uploads` disables the button and says why; teachers have no button."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.ui.console.assessments import AssessmentsView
from sync.server.content_upload import UPLOADS_OFF
from sync.server.settings import LoginLimits, ServerSettings
from sync.server.store import Store
from tests.helpers.console import Console, ConsoleFactory
from tests.helpers.server import Demo, new_staff
from tests.helpers.waiting import TIMEOUT_MS

FRACTIONS: dict[str, object] = {
    "id": "upload-fractions",
    "version": "1",
    "title": "Fractions check",
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
                    "options": [{"id": "a", "text": "1/2"}, {"id": "b", "text": "1/3"}],
                    "correct": "a",
                },
                {"id": "q2", "type": "short_text", "prompt": "Write 0.5 as a fraction", "accepted": ["1/2"]},
            ],
        }
    ],
}


@pytest.fixture
def uploads() -> bool:
    return True


@pytest.fixture
def settings(database_url: str, server_key: bytes, uploads: bool) -> ServerSettings:
    """The live server's settings: `serve --content-uploads` unless a test parametrizes `uploads` to False."""
    return ServerSettings(
        database_url=database_url,
        secret_key=server_key,
        login_limits=LoginLimits(per_machine=10, per_address=100),
        content_uploads=uploads,
    )


@dataclass
class PackageDialog:
    """Stands in for the file dialog: hands out the files the test queued, counting how often it was opened."""

    queued: list[Path] = field(default_factory=list)
    opened: int = 0

    def __call__(self, parent: QWidget) -> Path | None:
        self.opened += 1
        return self.queued.pop(0) if self.queued else None


def zipped(path: Path, manifest: dict[str, object]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        # Padding, stored uncompressed, so the upload takes more than one piece and its progress shows steps.
        archive.writestr("notes/readme.txt", bytes(600_000), compress_type=zipfile.ZIP_STORED)
    path.write_bytes(buffer.getvalue())
    return path


def assessments_tab(qtbot: QtBot, console: Console) -> AssessmentsView:
    console.sign_in()
    qtbot.waitUntil(lambda: console.window.assessments is not None, timeout=TIMEOUT_MS)
    view = console.window.assessments
    assert view is not None
    titles = [console.window.home.tabText(i).replace("&", "") for i in range(console.window.home.count())]
    assert "Assessments" in titles
    console.window.home.setCurrentWidget(view)
    qtbot.waitUntil(lambda: any("Demo" in t for t in view.shown_titles()), timeout=TIMEOUT_MS)
    return view


def test_an_admin_loads_a_package_and_sees_it_listed_or_the_refusal_in_full(
    qtbot: QtBot, open_demo_console: ConsoleFactory, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"this is not a zip")
    fractions = zipped(tmp_path / "fractions.zip", FRACTIONS)
    dialog = PackageDialog(queued=[fractions, fractions, broken])
    view = assessments_tab(qtbot, open_demo_console(packages=dialog))
    assert view.load_button.isVisible()
    steps: list[int] = []
    view.progress.valueChanged.connect(steps.append)

    view.load_button.click()
    # The upload runs on a worker: the window is already back, saying what it is doing.
    assert not view.load_button.isEnabled()
    assert view.message.text() == "Sending fractions.zip…"
    qtbot.waitUntil(lambda: view.message.text().startswith("Loaded"), timeout=TIMEOUT_MS)
    assert view.message.text() == "Loaded Fractions check (version 1, 2 items)."
    assert steps[-1] == 100, steps
    assert len(steps) > 2, steps
    assert view.progress.isHidden()
    listed = "Fractions check — upload-fractions, version 1"
    qtbot.waitUntil(lambda: listed in view.shown_titles(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: view.list.currentItem() is not None, timeout=TIMEOUT_MS)
    assert view.list.currentItem().text() == listed

    view.load_button.click()
    qtbot.waitUntil(lambda: view.message.text().endswith("nothing changed."), timeout=TIMEOUT_MS)
    assert view.message.text() == "Fractions check (version 1, 2 items) was already loaded; nothing changed."
    assert view.shown_titles().count(listed) == 1

    view.load_button.click()
    qtbot.waitUntil(lambda: view.error.text() != "", timeout=TIMEOUT_MS)
    assert view.error.text().startswith("broken.zip was not loaded. broken.zip: not a readable zip file")
    assert view.error.text().endswith("zip the package again")
    assert view.message.isHidden()
    assert view.load_button.isEnabled()
    assert dialog.opened == 3


@pytest.mark.parametrize("uploads", [False])
def test_without_content_uploads_the_button_says_why_in_the_servers_words(
    qtbot: QtBot, open_demo_console: ConsoleFactory, tmp_path: Path
) -> None:
    dialog = PackageDialog(queued=[zipped(tmp_path / "fractions.zip", FRACTIONS)])
    view = assessments_tab(qtbot, open_demo_console(packages=dialog))
    view.load_button.click()
    qtbot.waitUntil(lambda: view.uploads_off.text() != "", timeout=TIMEOUT_MS)
    assert view.uploads_off.isVisible()
    assert view.error.isHidden()
    assert view.message.isHidden()
    assert not view.load_button.isEnabled()
    assert view.load_button.toolTip() == UPLOADS_OFF
    assert view.uploads_off.text() == UPLOADS_OFF
    assert "Fractions check — upload-fractions, version 1" not in view.shown_titles()


def test_a_teacher_sees_the_assessments_but_no_load_button(
    qtbot: QtBot, open_demo_console: ConsoleFactory, store: Store, demo: Demo
) -> None:
    console = open_demo_console()
    console.username, console.password = new_staff(store, school_id=demo.school_id, role="teacher")
    view = assessments_tab(qtbot, console)
    assert view.load_button.isHidden()
