"""doctor's Report as text for a person: one line per check (✓ ok, ! warning, ✗ failure, - not checked) with what
was found and, when not OK, what to do and (for a warning or failure only) the error number; then every setting and
where it came from."""

from __future__ import annotations

import textwrap

from player.doctor.report import Report, Status

MARKS = {Status.OK: "✓", Status.WARNING: "!", Status.FAILURE: "✗", Status.NOT_CHECKED: "-"}
WIDTH = 100
TITLE_WIDTH = 31
VERDICTS = {
    0: "Ready: every check passed.",
    1: "Usable, with warnings: read them before a sitting.",
    2: "Not ready: fix the failures (✗) before a sitting.",
}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_text(report: Report, *, width: int = WIDTH) -> str:
    counts = {status: sum(1 for c in report.checks if c.status is status) for status in Status}
    lines = [
        f"Invigil {report.version} doctor: {counts[Status.OK]} OK, {_plural(counts[Status.WARNING], 'warning')}, "
        f"{_plural(counts[Status.FAILURE], 'failure')}"
        + (f", {counts[Status.NOT_CHECKED]} not checked" if counts[Status.NOT_CHECKED] else ""),
        "",
    ]
    indent = " " * (4 + TITLE_WIDTH)
    for check in report.checks:
        first = f"  {MARKS[check.status]} {check.title:<{TITLE_WIDTH}}"
        lines += textwrap.wrap(
            check.detail, width=width, initial_indent=first, subsequent_indent=indent, break_on_hyphens=False
        ) or [first.rstrip()]
        if check.status is Status.NOT_CHECKED and not check.fix:
            continue  # its cause is the problem above it, which has its own fix
        if check.status is not Status.OK:
            label = "To check it" if check.status is Status.NOT_CHECKED else "Fix"
            fix = f"{label}: {check.fix}" + (f" [{check.number}]" if check.number else "")
            lines += textwrap.wrap(
                fix, width=width, initial_indent=indent, subsequent_indent=indent + "     ", break_on_hyphens=False
            )
    verdict = VERDICTS[report.exit_status]
    if report.exit_status == 0 and counts[Status.NOT_CHECKED]:
        verdict = "Ready: every check that ran passed (the ones marked - could not run here)."
    lines += ["", verdict]
    if report.settings:
        lines += ["", "Settings (value, and where it came from):"]
        name_width = max(len(name) for name in report.settings)
        for name, setting in report.settings.items():
            lines.append(f"  {name:<{name_width}}  {setting['value']}  ({setting['source']})")
    return "\n".join(lines) + "\n"
