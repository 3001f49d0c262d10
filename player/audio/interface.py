"""The audio player protocol, its listener, and errors worded for students and invigilators (no Qt)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

NO_DEVICE_MESSAGE = (
    "No speakers or headphones found on this computer. Ask your invigilator: they can plug some in, then choose "
    "Try again."
)
DEVICE_LOST_MESSAGE = (
    "The speakers or headphones stopped working or were unplugged. Ask your invigilator: they can plug them back "
    "in, then choose Try again."
)


class AudioProblem(enum.StrEnum):
    """What went wrong, so a view can pick its action (a Try again button only helps with devices)."""

    NO_DEVICE = "no_device"
    DEVICE_LOST = "device_lost"
    MISSING = "missing"
    DAMAGED = "damaged"


class AudioError(Exception):
    """A playback failure: `message` is for the student or invigilator, `detail` is for the log."""

    def __init__(self, message: str, *, problem: AudioProblem, path: Path | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.problem = problem
        self.path = path
        self.detail = detail

    def __str__(self) -> str:
        return self.message

    def log_text(self) -> str:
        """One line for the log: the readable message plus the file and the technical cause."""
        where = f" [file: {self.path}]" if self.path is not None else ""
        cause = f" [cause: {self.detail}]" if self.detail else ""
        return f"{self.problem.value}: {self.message}{where}{cause}"

    @classmethod
    def no_device(cls) -> AudioError:
        return cls(NO_DEVICE_MESSAGE, problem=AudioProblem.NO_DEVICE)

    @classmethod
    def device_lost(cls, *, path: Path | None = None) -> AudioError:
        return cls(DEVICE_LOST_MESSAGE, problem=AudioProblem.DEVICE_LOST, path=path)

    @classmethod
    def missing(cls, path: Path) -> AudioError:
        return cls(
            f"This recording is missing from this computer ({path.name}). Tell your invigilator.",
            problem=AudioProblem.MISSING,
            path=path,
            detail="no such file" if not path.exists() else "not a regular file",
        )

    @classmethod
    def damaged(cls, path: Path, *, detail: str) -> AudioError:
        return cls(
            f"This recording could not be played (the file {path.name} is damaged). Tell your invigilator.",
            problem=AudioProblem.DAMAGED,
            path=path,
            detail=detail,
        )


class OutputDevices(Protocol):
    """The computer's audio outputs; an empty list means nothing the student could hear."""

    def available(self) -> list[str]:
        """Descriptions of the usable outputs, e.g. ["Built-in Audio Analog Stereo"]; [] = none."""
        ...

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` whenever the list may have changed; returns a function that unsubscribes."""
        ...


class PlaybackListener(Protocol):
    """Told about one play at a time: started, progress..., then exactly one of finished or error."""

    def on_started(self) -> None: ...

    def on_progress(self, position_ms: int, duration_ms: int) -> None: ...

    def on_finished(self) -> None: ...

    def on_error(self, error: AudioError) -> None: ...


class AudioPlayer(Protocol):
    """Plays one recording at a time; media and device problems reach the listener, never as exceptions."""

    def play(self, path: Path) -> None:
        """Start `path` from the beginning, replacing whatever was playing."""
        ...

    def stop(self) -> None:
        """Stop at once (the student left the item); neither finished nor an error is reported."""
        ...

    def set_volume(self, volume: float) -> None:
        """Set the app's own volume, 0.0 (silent) to 1.0 (full); anything else raises ValueError."""
        ...

    def volume(self) -> float: ...

    def is_playing(self) -> bool: ...

    def position_ms(self) -> int: ...

    def set_listener(self, listener: PlaybackListener | None) -> None: ...


def check_volume(volume: float) -> float:
    """Return `volume` if it is a usable level, else raise a ValueError saying what is allowed."""
    if not 0.0 <= volume <= 1.0:  # also refuses NaN, which compares false both ways
        raise ValueError(f"Volume must be between 0.0 (silent) and 1.0 (full), got {volume!r}.")
    return float(volume)
