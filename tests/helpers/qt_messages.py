"""A Qt warning fails the test that caused it, with no Python message handler in the way.

pytest-qt's log capture (turned off in pyproject.toml with --no-qt-log) installed a Python message handler before
each test and removed it after. Qt's media threads (FFmpeg's demuxer and renderer) log too: a message logged while
the handler was being swapped called a null Python callable, a segfault in about 1 run of 10 of tests/player/ui
(core dump, 2026-12-05: `_PyObject_Call(callable=0x0)` under `QMessageLogger::warning` on an FFmpeg thread). A
Python handler also makes those threads take the GIL, the precondition of the audio deadlock that
tests/player/audio/test_stress.py guards against.

So Qt writes each message to stderr itself, in PATTERN (set before Qt loads), pytest captures the file descriptor
as it does for any test, and this plugin reads the captured stderr of each test's setup and call. Only this
process's messages count (a child process writes its own pid). The rules are pytest-qt's: `qt_log_ignore` in
pyproject.toml and the `qt_log_ignore` mark add patterns matched against the message; `qt_log_level_fail` is the
lowest level that fails ("WARNING": warnings, criticals and fatals). Unlike pytest-qt: a message of several lines
is judged by its first, and a test that reads its own stderr with capfd takes Qt's messages out of the check.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

PATTERN = "[qt-message %{type} %{pid} %{category}] %{message}"
# Not anchored: a Qt line may follow an unfinished line of other output.
_LINE = re.compile(r"\[qt-message (?P<type>\w+) (?P<pid>\d+) (?P<category>\S+)\] (?P<message>.*)$", re.MULTILINE)
_LEVELS = {"debug": 0, "info": 1, "warning": 2, "critical": 3, "fatal": 4}
_FAIL_FROM = {"DEBUG": 0, "INFO": 1, "WARNING": 2, "CRITICAL": 3, "NO": 99}


def route_qt_messages_to_stderr() -> None:
    """Before Qt loads: its default handler writes every message to stderr in PATTERN, from whichever thread."""
    os.environ["QT_MESSAGE_PATTERN"] = PATTERN
    os.environ["QT_FORCE_STDERR_LOGGING"] = "1"  # never to the journal, where no test would see it


@dataclass(frozen=True)
class QtMessage:
    level: str
    category: str
    text: str

    def __str__(self) -> str:
        return f"Qt {self.level} ({self.category}): {self.text}"


def messages_in(stderr: str, *, pid: int) -> Iterator[QtMessage]:
    for match in _LINE.finditer(stderr):
        if int(match["pid"]) == pid:
            yield QtMessage(match["type"], match["category"], match["message"])


class QtMessageCheck:
    def __init__(self, config: pytest.Config) -> None:
        if config.getoption("capture") != "fd":
            raise pytest.UsageError(
                "Qt's warnings are read from each test's captured stderr, so the tests run with pytest's default "
                "--capture=fd (not -s or --capture=sys); otherwise every Qt warning would pass unseen."
            )
        self._ignore: list[str] = list(config.getini("qt_log_ignore"))
        level = str(config.getini("qt_log_level_fail") or "WARNING").upper()
        if level not in _FAIL_FROM:
            raise pytest.UsageError(f"qt_log_level_fail must be one of {', '.join(_FAIL_FROM)}, not {level!r}")
        self._fail_from = _FAIL_FROM[level]

    def unexpected(self, item: pytest.Item, stderr: str) -> list[QtMessage]:
        ignore = self._ignore + [p for mark in item.iter_markers("qt_log_ignore") for p in mark.args]
        return [
            m
            for m in messages_in(stderr, pid=os.getpid())
            if _LEVELS.get(m.level, 2) >= self._fail_from and not any(re.search(p, m.text) for p in ignore)
        ]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        report: pytest.TestReport = yield
        if call.when != "call" or not report.passed or item.get_closest_marker("no_qt_log"):
            return report
        # The call's report carries the stderr captured in setup and in the call.
        found = self.unexpected(item, report.capstderr)
        if found:
            report.outcome = "failed"
            report.longrepr = (
                "Qt logged what this test should not cause (add a pattern to qt_log_ignore only for harmless "
                "noise):\n" + "\n".join(f"  {m}" for m in found)
            )
        return report
