"""The staff console: sign-in, the live room, actions, the sitting log, result codes and this computer's unsent results.

The lead wires the access-code screen's "Staff sign in" link like this (in app.py or the controller's owner,
never inside a student's screen, so nothing staff-side is reachable from the student's screens):

    tokens = TokenStore(choose_backend(config.keyring_backend))          # once per app run
    connect = client_maker(config, machine_id)                           # app.py: sync.client.client_for
    window.access_code.staff_link.clicked.connect(
        lambda: open_console(
            window,
            client_factory=lambda: connect(config.server_url),           # the player's CA bundle and machine id
            credentials=tokens,
            tasks=tasks,
            settings=ConsoleSettings.from_config(config),
            local_results=lambda: unsent_results(journal),         # the player's Journal, GUI thread
            send_now=send_now_from(journal, uploader.wake),
        )
    )

`local_results` adds the staff-only "Results waiting on this computer" tab (copy or save each unsent result's
code for a USB stick; player.unsent_results reads them, labels them and names their files, as for the finished
screen); `send_now` adds its "Send now" button. Leave both out and the tab is not shown.

The console opens as its own window over the player; when it locks (15 idle minutes by default, Lock, or
closing it) it signs out, closes and deletes itself, and the player's access-code screen is what remains.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from player.credentials import TokenStore
from player.ui.console.sittings import ClientFactory, SittingContext, StaffSession
from player.ui.console.unsent import LocalResults
from player.ui.console.window import ConsoleSettings, ConsoleWindow, SittingPage, TabFactory
from player.ui.tasks import TaskRunner

__all__ = [
    "ConsoleSettings",
    "ConsoleWindow",
    "LocalResults",
    "SittingContext",
    "SittingPage",
    "StaffSession",
    "TabFactory",
    "open_console",
]


def open_console(
    parent_window: QWidget | None,
    *,
    client_factory: ClientFactory,
    credentials: TokenStore,
    tasks: TaskRunner,
    settings: ConsoleSettings,
    local_results: LocalResults | None = None,
    send_now: Callable[[], None] | None = None,
) -> ConsoleWindow:
    """Show the staff console over `parent_window` at its sign-in form (or straight in, when the keyring
    still holds a token the server accepts, after the app ended abruptly). Returns the window; it deletes
    itself when it closes, so connect to its `locked` signal rather than keeping it."""
    console = ConsoleWindow(
        parent_window,
        client_factory=client_factory,
        credentials=credentials,
        tasks=tasks,
        settings=settings,
        local_results=local_results,
        send_now=send_now,
    )
    console.fit_on_screen()
    console.show()
    console.fit_on_screen()
    console.activateWindow()
    console.signin.reset()
    console.try_restore()
    return console
