"""Which audio outputs the computer has: from QtMultimedia, or a fixed list for tests and forced configs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtMultimedia import QMediaDevices

log = logging.getLogger(__name__)


class _Subscribers:
    """Callbacks to tell when the device list changes."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], None]] = []

    def add(self, callback: Callable[[], None]) -> Callable[[], None]:
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def notify(self) -> None:
        # A copy, because a callback may unsubscribe while we iterate.
        for callback in list(self._callbacks):
            callback()


class QtOutputDevices:
    """The real outputs, as QtMultimedia sees them; tells subscribers when one is plugged in or removed."""

    def __init__(self, media_devices: QMediaDevices | None = None) -> None:
        # QMediaDevices only emits audioOutputsChanged on an instance, so keep one alive.
        self._media_devices = media_devices if media_devices is not None else QMediaDevices()
        self._subscribers = _Subscribers()
        self._media_devices.audioOutputsChanged.connect(self._on_outputs_changed)

    def available(self) -> list[str]:
        return [device.description() for device in QMediaDevices.audioOutputs()]

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        return self._subscribers.add(callback)

    def _on_outputs_changed(self) -> None:
        log.info("Audio outputs changed; now: %s", self.available() or "none")
        self._subscribers.notify()


class FixedOutputDevices:
    """A hand-set list of outputs: for tests, and for machines configured to assume speakers are present."""

    def __init__(self, descriptions: Sequence[str]) -> None:
        self._descriptions = list(descriptions)
        self._subscribers = _Subscribers()

    def available(self) -> list[str]:
        return list(self._descriptions)

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        return self._subscribers.add(callback)

    def set_available(self, descriptions: Sequence[str]) -> None:
        """Replace the list (e.g. "the headphones were unplugged") and tell subscribers."""
        self._descriptions = list(descriptions)
        self._subscribers.notify()
