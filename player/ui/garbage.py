"""Python's cycle collector, run only on the GUI thread (Anki does the same).

Automatic collection starts in whichever thread happens to allocate; when that is a worker thread (a TaskRunner
job, the uploader) and the garbage holds Qt widgets, PySide frees them off the GUI thread and the app can crash.
So automatic collection is switched off and a timer on the GUI thread collects instead.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_EVERY_MS = 1000


class GuiThreadGarbageCollector(QObject):
    """Collects each generation when its count passes gc's own threshold, checked once a second."""

    def __init__(self, parent: QObject, *, every_ms: int = CHECK_EVERY_MS) -> None:
        super().__init__(parent)
        gc.disable()
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(every_ms)

    def check(self) -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                gc.collect(generation)  # collecting a generation also collects the younger ones
                return
