"""The console window: sign-in, then sittings, result codes and unsent results, then one sitting and its tabs."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from player.credentials import TokenStore
from player.ui.console.assessments import AssessmentsView
from player.ui.console.code_entry import CodeEntryView
from player.ui.console.idle import IdleLock
from player.ui.console.incidents import IncidentsView
from player.ui.console.log import SittingLogView
from player.ui.console.manual import ManualEntriesView
from player.ui.console.marking import HandMarkingView
from player.ui.console.readiness import MachineCheck, ReadinessView
from player.ui.console.results import ResultsView
from player.ui.console.room import RoomPanel
from player.ui.console.settings import ConsoleSettings as ConsoleSettings
from player.ui.console.settings import ScreenArea as ScreenArea
from player.ui.console.settings import free_screen_area as free_screen_area
from player.ui.console.signin import SignInView
from player.ui.console.sittings import ClientFactory, SittingContext, SittingsView, StaffSession, guarded
from player.ui.console.slips import SlipsView
from player.ui.console.unsent import LocalResults, UnsentResultsView
from player.ui.tasks import TaskRunner
from player.ui.widgets import button, label

log = logging.getLogger(__name__)

TabFactory = Callable[[SittingContext], QWidget]
PREFERRED_SIZE = QSize(1200, 800)
"""The console's size where the screen has room; on a smaller screen it takes the screen's free area."""
MINIMUM_SIZE = QSize(1000, 680)
"""Made any smaller, the views squeeze their wrapped messages and fields (Qt sizes a window for its widest lines,
not for the extra lines a narrower window wraps them into); 1024x768 less a taskbar and title bar has room."""


class SittingPage(QWidget):
    """One open sitting: the live room, the log, and any tabs added with ConsoleWindow.add_sitting_tab."""

    def __init__(self, context: SittingContext, *, tabs: list[tuple[str, TabFactory]], refresh_ms: int) -> None:
        super().__init__()
        self.context = context
        self.heading = label(context.sitting_name, name="subtitle")
        self.back_button = button("&Back to sittings")
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName(f"Sitting {context.sitting_name}")
        self.room = RoomPanel(context, refresh_ms=refresh_ms)
        self.log_view = SittingLogView(context)
        self.tabs.addTab(self.room, "&Room")
        self.tabs.addTab(self.log_view, "Lo&g")
        self.extra: dict[str, QWidget] = {}
        for title, factory in tabs:
            widget = factory(context)
            self.extra[title] = widget
            self.tabs.addTab(widget, title)
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.back_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.room.acted.connect(lambda _sentence: self.log_view.reload())
        self.tabs.currentChanged.connect(self._tab_changed)

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.log_view:
            self.log_view.reload()

    def start(self) -> None:
        self.room.start()
        self.log_view.reload()

    def stop(self) -> None:
        self.room.stop()


class ConsoleWindow(QWidget):
    """The staff console, a window of its own over the player's access-code screen.

    Signing in stores the token with the TokenStore; signing out or locking (idle for
    `settings.idle_lock_seconds`, the Lock button, or closing the window) clears it, tells the server, and
    the window closes and deletes itself, so nothing of the staff side is left behind the student's screens.
    A token left in the keyring by an app that ended abruptly (crash, power cut) is offered back on the next
    open_console() if the server still accepts it.

    Emits `locked` when it closes back to the access-code screen (idle lock, Lock, closing the window).
    """

    locked = Signal()

    def __init__(
        self,
        parent: QWidget | None,
        *,
        client_factory: ClientFactory,
        credentials: TokenStore,
        tasks: TaskRunner,
        settings: ConsoleSettings,
        local_results: LocalResults | None = None,
        send_now: Callable[[], None] | None = None,
        machine_check: MachineCheck | None = None,
    ) -> None:
        """`machine_check`: adds the staff-only Readiness tab (this computer's checks and its support bundle); see
        also offer_machine_check."""
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle("Invigil — staff console")
        self.setAccessibleName("Invigil staff console")
        self.setMinimumSize(MINIMUM_SIZE)
        self._client_factory = client_factory
        self._tokens = credentials
        self._tasks = tasks
        self._settings = settings
        self._tab_factories: list[tuple[str, TabFactory]] = []
        self.session: StaffSession | None = None
        self.sitting_page: SittingPage | None = None
        self._ending = False

        self.idle = IdleLock(
            timeout_seconds=settings.idle_lock_seconds,
            clock=settings.monotonic,
            check_interval_ms=settings.idle_check_interval_ms,
            parent=self,
        )
        self.idle.locked.connect(self.lock)

        self.who = label(accessible="Signed in as")
        self.lock_button = button("Loc&k")
        self.lock_button.setToolTip("Back to the access code screen; sign in again to return")
        self.sign_out_button = button("Sign &out")
        header = QWidget()
        row = QHBoxLayout(header)
        row.addWidget(self.who, 1)
        row.addWidget(self.lock_button)
        row.addWidget(self.sign_out_button)
        self.header = header
        header.hide()

        self.signin = SignInView(
            server_url=settings.server_url, client_factory=client_factory, tokens=credentials, tasks=tasks
        )
        self.home = QTabWidget()
        self.home.setAccessibleName("Staff console")
        self.sittings: SittingsView | None = None
        self.assessments: AssessmentsView | None = None
        self.code_entry = CodeEntryView(
            client_factory=client_factory,
            token=self._token,
            tasks=tasks,
            cameras=settings.cameras,
            choose_image=settings.choose_qr_image,
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.signin)
        self.stack.addWidget(self.home)
        layout = QVBoxLayout(self)
        layout.addWidget(header)
        layout.addWidget(self.stack, 1)

        self.unsent: UnsentResultsView | None = None
        self.readiness: ReadinessView | None = None
        self._machine_check = machine_check
        self._local_results = local_results
        self._send_now = send_now
        for title, factory in self._standard_tabs(settings):
            self.add_sitting_tab(title, factory)

        self.signin.signed_in.connect(self._signed_in)
        self.signin.cancelled.connect(self.close)
        self.lock_button.clicked.connect(self.lock)
        self.sign_out_button.clicked.connect(self.sign_out)
        self.idle.start()

    def fit_on_screen(self) -> None:
        """Take PREFERRED_SIZE, or the screen's free area when that is smaller, and sit in its middle.

        Called before the window is shown and again after, when the system has added its title bar and borders
        (a 1366x768 laptop has no room to spare for them)."""
        area = self._settings.screen_area(self)
        frame = self.frameGeometry().size() - self.size()
        room = area.size() - frame
        self.resize(PREFERRED_SIZE.boundedTo(room))
        outer = self.size() + frame
        # move() places the frame's corner, so the frame is what is centred; on a screen smaller than
        # MINIMUM_SIZE the title bar stays on it (top left), where the window can be grabbed.
        left = max(area.x(), area.x() + (area.width() - outer.width()) // 2)
        self.move(left, max(area.y(), area.y() + (area.height() - outer.height()) // 2))

    # ---- the seam for other console parts -----------------------------------------------------------

    @staticmethod
    def _standard_tabs(settings: ConsoleSettings) -> list[tuple[str, TabFactory]]:
        """The sitting's own tabs after Room and Log; mnemonics chosen not to clash with the room's buttons."""
        save = settings.choose_save_path
        return [
            ("Res&ults", lambda c: ResultsView(c, choose_save_path=save)),
            ("Manual entr&ies", lambda c: ManualEntriesView(c, choose_evidence=settings.choose_evidence)),
            ("Mark b&y hand", lambda c: HandMarkingView(c)),
            ("Inci&dents", lambda c: IncidentsView(c, choose_save_path=save)),
            (
                "Slips to &hand out",
                lambda c: SlipsView(c, choose_save_path=save, confirm_print=settings.confirm_print, fetch_now=False),
            ),
        ]

    def add_sitting_tab(self, title: str, factory: TabFactory) -> None:
        """Add a tab to every sitting opened from now on.

        `factory(context)` is called once per opened sitting, on the GUI thread, and returns the tab's widget;
        the console owns the widget and deletes it when the sitting is closed, the console locks or staff
        sign out. `context` is a SittingContext: `client_factory()` (a new InvigilClient: make one inside
        each background task and close it there), `token` (staff bearer token), `sitting_id`,
        `sitting_name`, `tasks` (the TaskRunner: do every network call through `tasks.run`, never on the
        GUI thread) and `clock()` (aware wall-clock datetime; injected in tests). Put "&" in `title` for an
        Alt+letter shortcut; avoid R and G (Room, Log).
        """
        self._tab_factories.append((title, factory))

    # ---- signing in and out -------------------------------------------------------------------------

    def _token(self) -> str:
        if self.session is None:
            raise RuntimeError("not signed in")
        return self.session.token

    def try_restore(self) -> None:
        """Use a token the keyring still holds from a session that ended abruptly, if the server accepts it."""
        url = self._settings.server_url
        username = self._tokens.last_username(url)
        token = self._tokens.load(url, username) if username else None
        if username is None or token is None:
            return
        factory = self._client_factory

        def work() -> None:
            with factory() as client:
                client.sittings(token)

        def accepted(_: None) -> None:
            if self.session is None and not self._ending:
                self._start_session(StaffSession(url, username, token, display_name=username))

        def refused(exc: Exception) -> None:
            log.info("Stored staff token not accepted (%s); signing in again", type(exc).__name__)
            self._tokens.clear(url, username)

        self._tasks.run(work, on_done=guarded(self, accepted), on_error=guarded(self, refused))

    def _signed_in(self, session: StaffSession) -> None:
        self._start_session(session)

    def _start_session(self, session: StaffSession) -> None:
        self.session = session
        self.who.setText(f"Signed in as {session.display_name}")
        self.who.setAccessibleName(f"Signed in as {session.display_name}")
        self.header.show()
        sittings = SittingsView(
            session=session, client_factory=self._client_factory, tasks=self._tasks, clock=self._settings.clock
        )
        sittings.opened.connect(self.open_sitting)
        self.sittings = sittings
        self.home.addTab(sittings, "&Sittings")
        self.home.addTab(self.code_entry, "Result &codes")
        self.assessments = AssessmentsView(
            session=session,
            client_factory=self._client_factory,
            tasks=self._tasks,
            choose_package=self._settings.choose_package,
        )
        self.home.addTab(self.assessments, "Assess&ments")
        if self._local_results is not None:
            # Staff-only: these are other students' results, so they are listed only after sign-in.
            self.unsent = UnsentResultsView(
                self._local_results,
                send_now=self._send_now,
                choose_save_path=self._settings.choose_save_path,
                refresh_ms=self._settings.refresh_interval_ms,
            )
            self.home.addTab(self.unsent, "Results &waiting on this computer")
        self._add_readiness()
        self.stack.setCurrentWidget(self.home)
        sittings.reload()
        sittings.list.setFocus()

    def offer_machine_check(self, check: MachineCheck) -> None:
        """Add the staff-only Readiness tab: at sign-in, or now when staff are signed in already."""
        self._machine_check = check
        if self.session is not None and self.readiness is None:
            self._add_readiness()

    def _add_readiness(self) -> None:
        # Staff-only, and about this computer rather than a sitting: a tab of its own beside the sittings.
        if self._machine_check is None:
            return
        self.readiness = ReadinessView(self._machine_check, tasks=self._tasks)
        self.home.addTab(self.readiness, "Rea&diness")

    def open_sitting(self, sitting_id: str, sitting_name: str) -> SittingPage:
        if self.session is None:
            raise RuntimeError("sign in before opening a sitting")
        self.close_sitting()
        context = SittingContext(
            client_factory=self._client_factory,
            token=self.session.token,
            sitting_id=sitting_id,
            sitting_name=sitting_name,
            tasks=self._tasks,
            clock=self._settings.clock,
        )
        page = SittingPage(context, tabs=self._tab_factories, refresh_ms=self._settings.refresh_interval_ms)
        page.back_button.clicked.connect(self.close_sitting)
        self.sitting_page = page
        self.stack.addWidget(page)
        self.stack.setCurrentWidget(page)
        page.start()
        page.room.table.setFocus()
        return page

    def close_sitting(self) -> None:
        page, self.sitting_page = self.sitting_page, None
        if page is None:
            return
        page.stop()
        self.stack.removeWidget(page)
        page.deleteLater()
        if self.session is not None:
            self.stack.setCurrentWidget(self.home)
            if self.sittings is not None:
                self.sittings.list.setFocus()

    def _end_session(self) -> None:
        """Forget the token here and on the server; the views that used it go."""
        self.close_sitting()
        session, self.session = self.session, None
        if session is None:
            return
        self._tokens.clear(session.server_url, session.username)
        factory = self._client_factory

        def work() -> None:
            with factory() as client:
                client.staff_logout(session.token)

        # Best effort: the token is gone from this computer either way, and it expires on the server.
        self._tasks.run(work, on_done=lambda _: None, on_error=lambda exc: log.info("logout: %s", exc))
        log.info("Staff %s signed out of the console", session.username)

    def sign_out(self) -> None:
        """Sign out and show the sign-in form again (for the next member of staff)."""
        self._end_session()
        self.header.hide()
        self.home.clear()
        if self.sittings is not None:
            self.sittings.deleteLater()
            self.sittings = None
        if self.assessments is not None:
            self.assessments.deleteLater()
            self.assessments = None
        if self.unsent is not None:
            self.unsent.timer.stop()
            self.unsent.deleteLater()
            self.unsent = None
        if self.readiness is not None:
            self.readiness.deleteLater()
            self.readiness = None
        self.stack.setCurrentWidget(self.signin)
        self.signin.reset()

    def lock(self) -> None:
        """Back to the access-code screen: the session ends and this window closes."""
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._ending:
            self._ending = True
            self.idle.stop()
            self._end_session()
            self.locked.emit()
        super().closeEvent(event)
