"""The server calls of kiosk mode's exit (sync/server/routes_kiosk.py), over a client from sync.client.client_for:
the console asks for a machine's exit code; the machine hands one in, or checks a staff sign-in made on it.

Functions over the client rather than methods of it: sync.client's classes are another part's, and these three
calls are all kiosk mode needs. Each runs on a worker thread (they wait for the network) and raises the client's
ClientError, whose text is a sentence for the person at the screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync.client import InvigilClient
    from sync.kiosk_protocol import ExitAllowed, ExitCodeOut


def request_exit_code(client: InvigilClient, token: str, machine_id: str) -> ExitCodeOut:
    """A new one-time exit code for `machine_id` (staff token: invigilator or admin of the machine's school)."""
    from sync.kiosk_protocol import ExitCodeOut, ExitCodeRequest

    body = ExitCodeRequest(machine_id=machine_id)
    return client._call("POST", "/staff/kiosk-exit-codes", ExitCodeOut.model_validate, token=token, body=body)


def exit_with_code(client: InvigilClient, machine_id: str, code: str) -> ExitAllowed:
    """Hand in the exit code typed on this machine; returns once the server took it (it works once)."""
    from sync.client import Refused
    from sync.kiosk_protocol import MAX_TYPED_CODE_CHARS, ExitAllowed, ExitWithCode

    typed = code.strip()
    if not typed or len(typed) > MAX_TYPED_CODE_CHARS:
        raise Refused("Type the 8-digit exit code the console shows for this computer.", status=422, error="no_code")
    body = ExitWithCode(machine_id=machine_id, code=typed)
    return client._call("POST", "/kiosk/exit", ExitAllowed.model_validate, body=body)


def exit_as_staff(client: InvigilClient, username: str, password: str, machine_id: str) -> ExitAllowed:
    """Sign in as staff (a real login on the server), have the server check the role and the school of this
    machine, and sign out again: the token is not kept on a student's machine."""
    from sync.kiosk_protocol import ExitAllowed, StaffExit

    token = client.staff_login(username, password).token
    try:
        body = StaffExit(machine_id=machine_id)
        return client._call("POST", "/staff/kiosk-exit", ExitAllowed.model_validate, token=token, body=body)
    finally:
        client.staff_logout(token)
