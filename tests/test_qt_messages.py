"""The check that fails a test on a Qt warning (tests/helpers/qt_messages.py) sees Qt's messages at all: were Qt to
stop writing them in our pattern, every such check would pass silently."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6 import QtCore

from tests.helpers.qt_messages import QtMessage, QtMessageCheck, messages_in


def test_a_qt_warning_in_this_process_is_written_in_the_pattern_the_check_reads(
    qapp: object, capfd: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    QtCore.qWarning("a warning this test makes on purpose")
    QtCore.qDebug("chatter")
    stderr = capfd.readouterr().err  # read here, so this test's own report does not fail on it

    assert list(messages_in(stderr, pid=os.getpid())) == [
        QtMessage("warning", "default", "a warning this test makes on purpose"),
        QtMessage("debug", "default", "chatter"),
    ]
    check = QtMessageCheck(request.config)
    assert [m.text for m in check.unexpected(request.node, stderr)] == ["a warning this test makes on purpose"]


def test_a_warning_from_a_qt_thread_and_from_a_child_process_are_told_apart(
    qapp: object, capfd: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    class Logs(QtCore.QThread):
        def run(self) -> None:
            QtCore.qWarning("from another thread")

    thread = Logs()
    thread.start()
    assert thread.wait(10_000)
    child = "from PySide6 import QtCore; QtCore.qWarning('from a child process')"
    subprocess.run([sys.executable, "-c", child], check=True)  # inherits the pattern, writes its own pid
    stderr = capfd.readouterr().err

    assert "from a child process" in stderr
    check = QtMessageCheck(request.config)
    assert [m.text for m in check.unexpected(request.node, stderr)] == ["from another thread"]


@pytest.mark.qt_log_ignore("^harmless noise$")
def test_ignored_patterns_come_from_pyproject_and_the_mark(request: pytest.FixtureRequest) -> None:
    stderr = "".join(
        f"[qt-message warning {os.getpid()} qt.test] {text}\n"
        for text in ("harmless noise", "No audio device detected", "a real problem")
    )
    assert [m.text for m in QtMessageCheck(request.config).unexpected(request.node, stderr)] == ["a real problem"]
