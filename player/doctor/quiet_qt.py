"""Keeps Qt's own messages off the terminal while `invigil doctor` runs its real Qt edges: QtMultimedia says which
FFmpeg it loaded, that PipeWire's library is missing or that PulseAudio refused a connection, none of it meant for
the person reading the report (the audio checks already say what matters).

Qt's logging filter rules, not a Python message handler: a Python handler is called on Qt's media threads too,
which crashed and deadlocked the test suite (tests/helpers/qt_messages.py says how). Critical messages still show."""

from __future__ import annotations

import logging

from PySide6.QtCore import QLoggingCategory

log = logging.getLogger(__name__)

QUIET_RULES = "*.debug=false\n*.info=false\n*.warning=false"
"""Every category, Qt's "default" one (PulseAudioService's messages) included; critical and fatal stay on."""


def quiet_qt_messages() -> None:
    """For the rest of this process, Qt logs nothing below critical. Only for a process that runs doctor alone
    (`invigil doctor`, `invigil support-bundle`): the running app keeps Qt's warnings."""
    QLoggingCategory.setFilterRules(QUIET_RULES)
    log.debug("Qt's debug, info and warning messages are off while doctor runs (%r)", QUIET_RULES)
