"""The live room in words: each student's state, progress, arrangements, alerts and machine (its version, readiness
check and the times the test window was left) as an invigilator reads them."""

from __future__ import annotations

from datetime import datetime

from sync import staff_protocol as sp
from sync.version import VERSION

PENDING_TEXT: dict[str, str] = {
    "pause": "pause sent",
    "resume": "resume sent",
    "add_time": "added time sent",
    "end_section": "end of section sent",
}
AUDIO_ALERTS: dict[str, str] = {
    "no_device": "No sound output on this computer",
    "not_heard": "Sound check failed: not heard",
    "playback_failed": "Sound check failed: the clip did not play",
}


def format_seconds(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    whole = max(0, seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def machine_label(student: sp.RoomStudent) -> str:
    """The machine as staff know it: its name (the host name unless configured), else its id."""
    return student.machine_name or student.machine_id or "an unknown machine"


def describe_state(student: sp.RoomStudent) -> str:
    """The state as an invigilator says it: not started / on <machine>, section, item / paused / finished...; with
    an instruction not yet collected by the student's computer named, so an action shows at once."""
    machine = machine_label(student)
    if student.state == "not_started":
        return "Not started"
    if student.state == "released":
        return "Released: waiting to log in on another machine"
    if student.state == "finished_sent":
        return "Finished: results sent"
    if student.state == "finished_waiting":
        return f"Finished: results waiting on {machine}"
    if student.state == "marked":
        return "Finished: marked"
    where = f"On {machine}"
    if student.section_title or student.section_id:
        where += f", in {student.section_title or student.section_id}"
        if student.item_index is not None:
            where += f", item {student.item_index}" + (f" of {student.item_count}" if student.item_count else "")
    else:
        where += ", getting ready (instructions, sound check)"
    if student.state == "paused" or student.paused:
        where = f"Paused — {where[0].lower()}{where[1:]}"
    pending = [PENDING_TEXT[kind] for kind in dict.fromkeys(student.pending)]
    if pending:
        where += f" ({', '.join(pending)}: their computer collects it within seconds)"
    return where


def describe_answered(student: sp.RoomStudent) -> str:
    if student.answered_count is None or not student.question_count:
        return "—"
    return f"{student.answered_count} of {student.question_count}"


def describe_arrangements(student: sp.RoomStudent) -> str:
    """Extra time the student is entitled to, and time invigilators added."""
    parts = []
    if student.extra_time_percent:
        parts.append(f"Extra time {student.extra_time_percent} %")
    if student.extra_time_seconds:
        parts.append(f"+{student.extra_time_seconds // 60} min added")
    return "; ".join(parts) or "—"


def is_offline(student: sp.RoomStudent) -> bool:
    return student.state in ("in_progress", "paused", "finished_waiting") and not student.online


def describe_alerts(student: sp.RoomStudent) -> str:
    """What needs the invigilator: a silent machine, a restart, no sound, a machine whose readiness check found a
    problem (its first; the line under the table says them all), a student who left the test window, a machine
    running another version than this console."""
    alerts = []
    if is_offline(student):
        alerts.append("Offline")
    if student.resumed_at is not None:
        alerts.append(f"Restarted at {student.resumed_at.astimezone():%H:%M}")
    if student.audio in AUDIO_ALERTS:
        alerts.append(AUDIO_ALERTS[student.audio])
    if is_not_ready(student):
        alerts.append(f"Not ready: {first_problem(student.readiness or '')}")
    if student.left_window_count > 0:
        alerts.append(f"Left the window {_times(student.left_window_count)}")
    if student.app_version is not None and student.app_version != VERSION:
        alerts.append(f"Runs Invigil {student.app_version} (this computer: {VERSION})")
    return "; ".join(alerts)


def _times(count: int) -> str:
    return f"{count} time" if count == 1 else f"{count} times"


READY = "Ready"
"""What a machine whose readiness check found nothing wrong reports (player.doctor Report.summary())."""


def is_not_ready(student: sp.RoomStudent) -> bool:
    """The machine's readiness check found a problem (a warning or a failure)."""
    return student.readiness is not None and student.readiness.strip() != READY


def first_problem(summary: str) -> str:
    """What a readiness summary's first problem is about ("Free disk space" of "Free disk space: 150 MB free"), and
    how many more it names: the table's cell stays short, and the line under the table (describe_machine_in_full)
    says the whole summary."""
    problems = [part.strip() for part in summary.split("; ") if part.strip()]
    if not problems:
        return summary
    more = len(problems) - 1
    return problems[0].partition(": ")[0] + (f" and {more} more" if more else "")


def describe_machine_in_full(student: sp.RoomStudent) -> str:
    """Everything the chosen student's machine says of itself, for the line under the table."""
    if student.state == "not_started":
        return f"{student.student_name} has not started: no machine yet."
    parts = [f"{student.student_name} on {machine_label(student)}"]
    if student.app_version is not None:
        parts.append(f"Invigil {student.app_version}")
    if student.readiness is not None:
        parts.append(f"Readiness: {student.readiness}")
    elif student.app_version is not None:
        parts.append("Readiness: not checked yet")
    if student.left_window_count > 0:
        parts.append(f"Left the test window {_times(student.left_window_count)}")
    return " · ".join(parts)


def describe_last_seen(student: sp.RoomStudent, *, server_time: datetime) -> str:
    if student.last_seen_at is None:
        return "Never" if student.state == "not_started" else "Offline: no heartbeat yet"
    ago = max(0, int((server_time - student.last_seen_at).total_seconds()))
    when = f"{ago} s ago" if ago < 120 else f"{ago // 60} min ago"
    return f"Offline: last seen {when}" if is_offline(student) else when


def describe_unsent(student: sp.RoomStudent) -> str:
    if student.outbox_depth <= 0:
        return "None"
    return f"{student.outbox_depth} waiting on {machine_label(student)}"


def describe_counts(counts: sp.RoomCounts, *, alerts: int = 0) -> str:
    return (
        f"In progress {counts.in_progress} · Paused {counts.paused} · Finished {counts.finished} · "
        f"Offline {counts.offline} · Waiting to send {counts.waiting_to_send} · Not started {counts.not_started}"
        + (f" · Alerts {alerts}" if alerts else "")
    )
