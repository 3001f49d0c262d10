"""Counts how often a thread Python did not start (Qt's, FFmpeg's, PulseAudio's) took the GIL, for media tests.

A Python slot run on a Qt media thread, a PySide wrapper created or destroyed there, or a PySide lookup of a Python
override there all take the GIL from that thread through PyGILState_Ensure; with the GUI thread holding the GIL and
waiting for a Qt lock that thread holds, that is the audio deadlock of issue 18. Python gives such a thread a fresh
thread state each time (and frees it on release), and every thread state gets the next number of one counter; so
the numbers used up, minus the threads Python started itself, are the times a foreign thread took the GIL.
"""

from __future__ import annotations

import ctypes
import threading

_api = ctypes.pythonapi
_api.PyThreadState_Get.restype = ctypes.c_void_p
_api.PyThreadState_GetID.restype = ctypes.c_uint64
_api.PyThreadState_GetID.argtypes = [ctypes.c_void_p]


def _next_thread_state_number() -> int:
    """The number the interpreter gave a thread state made just now (one Python thread, started and joined)."""
    numbers: list[int] = []
    probe = threading.Thread(target=lambda: numbers.append(_api.PyThreadState_GetID(_api.PyThreadState_Get())))
    probe.start()
    probe.join()
    return numbers[0]


class ForeignGilTakes:
    """`count()`: how often a non-Python thread has taken the GIL since this was made.

    Start no Python threads meanwhile except through `python_threads_started()`, or they count as foreign."""

    def __init__(self) -> None:
        self._python_threads = 0
        self._last = _next_thread_state_number()
        self._count = 0

    def python_threads_started(self, how_many: int) -> None:
        """Tell it about Python threads started since the last count, so they do not count as foreign."""
        self._python_threads += how_many

    def count(self) -> int:
        now = _next_thread_state_number()
        self._count += now - self._last - 1 - self._python_threads
        self._python_threads = 0
        self._last = now
        return self._count
