"""Kiosk mode's exit (logic in kiosk_exit.py): the console asks for a machine's exit code; the machine hands one
in, or a staff member signed in on it lets it exit."""

from __future__ import annotations

from fastapi import APIRouter

from sync import kiosk_protocol as kp
from sync.server import kiosk_exit
from sync.server.deps import ERRORS, ActorDep, Ctx, Tx

router = APIRouter(tags=["kiosk"], responses=ERRORS)


@router.post("/staff/kiosk-exit-codes", response_model=kp.ExitCodeOut, status_code=201)
def make_exit_code(body: kp.ExitCodeRequest, actor: ActorDep, session: Tx, ctx: Ctx) -> kp.ExitCodeOut:
    """A one-time code (shown once) that lets this school's machine `machine_id` leave kiosk mode."""
    issued = kiosk_exit.issue_code(session, ctx.keyring, actor, body.machine_id, now=ctx.clock())
    return kp.ExitCodeOut(
        machine_id=body.machine_id, machine_name=issued.machine_name, code=issued.code, expires_at=issued.expires_at
    )


@router.post("/staff/kiosk-exit", response_model=kp.ExitAllowed)
def exit_as_staff(body: kp.StaffExit, actor: ActorDep, session: Tx, ctx: Ctx) -> kp.ExitAllowed:
    """Staff signed in on the machine itself: it may leave kiosk mode (audited)."""
    kiosk_exit.staff_exit(session, actor, body.machine_id, now=ctx.clock())
    return kp.ExitAllowed(machine_id=body.machine_id, by="staff_sign_in", staff=actor.name)


@router.post("/kiosk/exit", response_model=kp.ExitAllowed)
def exit_with_code(body: kp.ExitWithCode, ctx: Ctx) -> kp.ExitAllowed:
    """The machine hands in the exit code typed on it: ok once, or a refusal that says what to do."""
    now = ctx.clock()
    limits = ctx.settings.login_limits
    try:
        with ctx.store.transaction(queued=True) as session:
            code = kiosk_exit.use_code(session, ctx.keyring, body.machine_id, body.code, limits=limits, now=now)
            return kp.ExitAllowed(machine_id=body.machine_id, by="exit_code", staff=code.staff_name)
    except kiosk_exit.WrongExitCode:
        with ctx.store.transaction(queued=True) as session:
            kiosk_exit.record_wrong_code(session, body.machine_id, limits=limits, now=now)
        raise
