"""Staff sign-in: username and password -> a server token, kept by the TokenStore (OS keyring or memory)."""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLineEdit, QWidget

from player.credentials import TokenStore
from player.ui.console.problems import problem_of
from player.ui.console.sittings import ClientFactory, StaffSession, guarded
from player.ui.tasks import TaskRunner
from player.ui.widgets import button, centred_column, label, set_message
from sync import staff_protocol as sp

log = logging.getLogger(__name__)

SIGN_IN_WIDTH = 560


class SignInView(QWidget):
    """Emits `signed_in(StaffSession)` once the server accepts the password and the token is stored;
    `cancelled` when staff go back to the access-code screen."""

    signed_in = Signal(object)
    cancelled = Signal()

    def __init__(
        self, *, server_url: str, client_factory: ClientFactory, tokens: TokenStore, tasks: TaskRunner
    ) -> None:
        super().__init__()
        self._server_url = server_url
        self._client_factory = client_factory
        self._tokens = tokens
        self._tasks = tasks
        self._busy = False
        self.heading = label("Staff sign in", name="title")
        self.where = label(f"Server: {server_url}", accessible=f"Server {server_url}")
        self.username_edit = QLineEdit()
        self.username_edit.setAccessibleName("Username")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setAccessibleName("Password")
        self.message = label(name="error", accessible="No message")
        self.message.hide()
        self.keyring_note = label(
            "" if tokens.persistent else "This computer has no usable keyring: you will sign in again next time.",
            accessible="Keyring note",
        )
        self.keyring_note.setVisible(not tokens.persistent)
        self.sign_in_button = button("&Sign in", primary=True)
        self.back_button = button("&Back to the access code screen")
        form = QFormLayout()
        for text, field in (("&Username", self.username_edit), ("&Password", self.password_edit)):
            caption = label(text, accessible=text.replace("&", ""))
            caption.setBuddy(field)  # Alt+U / Alt+P jump to the field
            form.addRow(caption, field)
        # A short form in the middle, as the player's screens are: full-width fields read badly on a wide screen.
        layout = centred_column(self, max_width=SIGN_IN_WIDTH)
        layout.addStretch(1)
        layout.addWidget(self.heading)
        layout.addWidget(self.where)
        layout.addLayout(form)
        for widget in (self.message, self.keyring_note, self.sign_in_button, self.back_button):
            layout.addWidget(widget)
        layout.addStretch(2)
        self.sign_in_button.clicked.connect(self.submit)
        self.password_edit.returnPressed.connect(self.submit)
        self.username_edit.returnPressed.connect(self.password_edit.setFocus)
        self.back_button.clicked.connect(self.cancelled.emit)
        self.reset()

    def reset(self) -> None:
        """Empty the form (keeping the last username, which is no secret) and put the cursor where it is needed."""
        self.password_edit.clear()
        set_message(self.message, "")
        last = self._tokens.last_username(self._server_url)
        if last and not self.username_edit.text():
            self.username_edit.setText(last)
        (self.password_edit if self.username_edit.text() else self.username_edit).setFocus()

    def submit(self) -> None:
        if self._busy:
            return
        username = self.username_edit.text().strip()
        password = self.password_edit.text()
        if not username or not password:
            missing = "your username" if not username else "your password"
            set_message(self.message, f"Enter {missing}, then Sign in.")
            (self.username_edit if not username else self.password_edit).setFocus()
            return
        self._busy = True
        self.sign_in_button.setEnabled(False)
        set_message(self.message, "")
        factory = self._client_factory

        def work() -> sp.StaffLoginResponse:
            with factory() as client:
                return client.staff_login(username, password)

        self._tasks.run(
            work,
            on_done=guarded(self, lambda reply: self._accepted(username, reply)),
            on_error=guarded(self, self._refused),
        )

    def _accepted(self, username: str, reply: sp.StaffLoginResponse) -> None:
        self._busy = False
        self.sign_in_button.setEnabled(True)
        self.password_edit.clear()
        self._tokens.save(self._server_url, username, reply.token)
        log.info("Staff %s signed in to the console (%s)", username, self._tokens.name)
        self.signed_in.emit(
            StaffSession(
                self._server_url, username, reply.token, display_name=reply.staff.display_name, role=reply.staff.role
            )
        )

    def _refused(self, exc: Exception) -> None:
        self._busy = False
        self.sign_in_button.setEnabled(True)
        self.password_edit.clear()
        # The client's errors are sentences staff can act on (wrong password, locked out until..., no network).
        set_message(self.message, problem_of(exc))
        self.password_edit.setFocus()
