"""The live room in words: each student's state, progress, arrangements and alerts as an invigilator reads them."""

from __future__ import annotations

from datetime import datetime

from sync import staff_protocol as sp

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
    """What needs the invigilator: a silent machine, a restart, no sound."""
    alerts = []
    if is_offline(student):
        alerts.append("Offline")
    if student.resumed_at is not None:
        alerts.append(f"Restarted at {student.resumed_at.astimezone():%H:%M}")
    if student.audio in AUDIO_ALERTS:
        alerts.append(AUDIO_ALERTS[student.audio])
    return "; ".join(alerts)


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
