"""Wire types of kiosk mode's exit (docs/kiosk.md): a one-time exit code the console asks for one machine, the
player handing it in, and a staff member signed in on that machine. Shared by the server and sync.client callers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from sync.protocol import MachineId, NoNul, WireModel

EXIT_CODE_DIGITS = 8
"""An exit code is 8 digits, shown as two groups of four ("4821 0937"): typed on the machine's own keyboard."""
MAX_TYPED_CODE_CHARS = 40
"""What the player may send as typed (spaces and dashes allowed, removed by the server)."""

ExitCodeText = Annotated[str, Field(min_length=1, max_length=MAX_TYPED_CODE_CHARS), NoNul]


class ExitCodeRequest(WireModel):
    """The console asks for an exit code for one machine (staff: invigilator or admin of the machine's school)."""

    machine_id: MachineId


class ExitCodeOut(WireModel):
    machine_id: str
    machine_name: str | None
    """What the machine calls itself (its last heartbeat), so staff read out the code at the right desk."""
    code: str
    """Shown once: the server keeps only a keyed hash of it."""
    expires_at: AwareDatetime


class ExitWithCode(WireModel):
    """The player, in kiosk mode, hands in the code typed on it."""

    machine_id: MachineId
    code: ExitCodeText


class StaffExit(WireModel):
    """A staff member signed in on the machine itself (their token in the Authorization header) lets it exit."""

    machine_id: MachineId


class ExitAllowed(WireModel):
    machine_id: str
    by: Literal["exit_code", "staff_sign_in"]
    staff: str | None = None
    """Who let it exit: the staff member who asked for the code, or who signed in on the machine."""
