"""The test tone doctor plays: a short sine written as a WAV file with the standard library (no Qt, no sox)."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

TONE_SECONDS = 0.6
TONE_HZ = 660
RATE = 22050
AMPLITUDE = 0.25
"""A quarter of full scale: clearly heard in a headset, not a shock in one turned up high."""
FADE_SECONDS = 0.03
"""Faded in and out, so the speakers do not click."""


def write_tone(path: Path, *, seconds: float = TONE_SECONDS, hz: float = TONE_HZ) -> Path:
    """A mono 16-bit WAV of a faded sine at `path`; returns `path`."""
    frames = int(seconds * RATE)
    fade = max(1, int(FADE_SECONDS * RATE))
    samples = bytearray()
    for n in range(frames):
        envelope = min(1.0, n / fade, (frames - 1 - n) / fade)
        value = AMPLITUDE * envelope * math.sin(2 * math.pi * hz * n / RATE)
        samples += struct.pack("<h", round(value * 32767))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(samples))
    return path
