"""Who is sitting, on screen: an attempt still open on this machine resumed, or an access code signed in (off the
GUI thread, the download's progress shown), "Is this you?", and the attempt started; "Staff sign in" beside it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from player.offline_queue.journal import JournalError
from player.student_login import (
    CANNOT_START,
    CHECKING,
    ENTER_AGAIN,
    SignedIn,
    cached_media,
    downloading_text,
    login_failure,
    sign_in,
)
from player.ui.tasks import Report, TaskRunner
from sync.error_catalogue import problem

if TYPE_CHECKING:
    from player.offline_queue.journal import Journal, StoredAttempt
    from player.session import SittingSession
    from player.ui.window import MainWindow
    from sync.client import InvigilClient
    from sync.mediacache import MediaCache
    from sync.protocol import LoginResponse

log = logging.getLogger(__name__)

NO_CONSOLE = "The staff console is not available in this build. Ask IT for the Invigil build with the staff console."


class StudentLoginHost(Protocol):
    """What signing in hands on to (the controller)."""

    @property
    def session(self) -> SittingSession | None: ...

    @property
    def started(self) -> bool: ...

    @property
    def open_staff_console(self) -> Callable[[], None] | None: ...

    def start(self) -> None: ...

    def reset(self) -> None: ...

    def open_sitting(
        self, attempt: StoredAttempt, login: LoginResponse, media: dict[str, Path], *, resumed: bool
    ) -> None: ...


class StudentLoginFlow:
    """The access-code and confirm screens of `window`; `host.open_sitting` once an attempt is open here."""

    def __init__(
        self,
        window: MainWindow,
        *,
        host: StudentLoginHost,
        tasks: TaskRunner,
        make_client: Callable[[], InvigilClient],
        server_url: str,
        today: Callable[[], datetime],
    ) -> None:
        self._window = window
        self._host = host
        self._tasks = tasks
        self._make_client = make_client
        self._server_url = server_url
        self._today = today
        self._signed_in: SignedIn | None = None
        """Accepted by the server, waiting for "Is this you?"."""
        window.access_code.submitted.connect(self._on_code)
        window.access_code.staff_requested.connect(self._on_staff_requested)

    def attach(self, journal: Journal, cache: MediaCache) -> None:
        """The sitting's parts are built: the confirm screen exists now."""
        self._journal = journal
        self._cache = cache
        self._window.confirm.confirmed.connect(self._on_confirmed)
        self._window.confirm.rejected.connect(self._host.reset)

    def resume(self) -> None:
        """Resume an attempt still open on this machine, or wait for an access code."""
        attempt = self._journal.open_attempt_on_this_machine()
        if attempt is None:
            self._host.reset()
            return
        log.info("Resuming attempt %s open on this computer", attempt.attempt_id)
        media = cached_media(attempt.login, self._cache)
        if media is None:
            # Something is missing or damaged: a new login fetches it again, and the journal keeps the progress.
            self._host.reset()
            self._window.access_code.show_error(problem("login.enter_again", ENTER_AGAIN))
            return
        self._host.open_sitting(attempt, attempt.login, media, resumed=True)

    def forget(self) -> None:
        self._signed_in = None

    def _on_code(self, code: str) -> None:
        screen = self._window.access_code
        if not self._host.started:
            # Typed before the resume check ran: that check comes first (an open attempt resumes instead).
            self._host.start()
            if self._window.current_screen() is not screen or self._host.session is not None:
                return
            screen.code_edit.setText(code)
        screen.set_busy(CHECKING)
        make_client, cache = self._make_client, self._cache

        def work(report: Report) -> SignedIn:
            return sign_in(make_client, code, cache, progress=report)

        self._tasks.run_reporting(
            work, on_progress=self._on_download_progress, on_done=self._on_logged_in, on_error=self._on_login_failed
        )

    def _on_download_progress(self, done: int, total: int) -> None:
        # On a slow school network the test's pictures and recordings take a while: show that it is moving.
        if total > 0 and self._window.current_screen() is self._window.access_code:
            self._window.access_code.set_busy(downloading_text(done, total))

    def _on_login_failed(self, exc: Exception) -> None:
        self._window.access_code.show_error(login_failure(exc, server_url=self._server_url))

    def _on_logged_in(self, signed_in: SignedIn) -> None:
        self._signed_in = signed_in
        login, confirm = signed_in.login, self._window.confirm
        confirm.show_student(
            student=login.student, assessment=login.assessment.title, sitting=login.sitting_name, today=self._today()
        )
        self._window.show_screen(confirm)
        confirm.yes_button.setFocus()

    def _on_confirmed(self) -> None:
        signed_in = self._signed_in
        assert signed_in is not None
        try:
            attempt = self._journal.start_attempt(signed_in.login, server_url=self._server_url)
        except JournalError as exc:
            log.error("Cannot start the attempt: %s", exc)
            self._host.reset()
            self._window.access_code.show_error(
                problem("login.cannot_start", CANNOT_START)
            )  # the journal's words are for IT: in the log
            return
        self._signed_in = None
        self._host.open_sitting(attempt, signed_in.login, signed_in.media, resumed=False)

    def _on_staff_requested(self) -> None:
        self._host.start()  # the assembly sets open_staff_console with the other parts
        open_staff_console = self._host.open_staff_console
        if open_staff_console is None:
            self._window.access_code.show_error(problem("login.no_console", NO_CONSOLE))
            return
        try:
            open_staff_console()
        except ImportError as exc:  # the console is loaded on first use (see assembly.staff_console_opener)
            log.warning("The staff console cannot be loaded: %s", exc)
            self._window.access_code.show_error(problem("login.no_console", NO_CONSOLE))
