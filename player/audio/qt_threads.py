"""Keeping Qt's media threads (FFmpeg's, PulseAudio's, the camera's) from ever needing Python's GIL.

Used by the audio player (player/audio/qt.py) and the console's camera (player/ui/console/qr_camera.py). The rule
they serve: no Python code runs, and no PySide wrapper is made or freed, on a thread Python did not start; the audio
stress test (tests/player/audio/test_stress.py) counts every time such a thread takes the GIL and fails on one.
"""

from __future__ import annotations

from PySide6.QtCore import QMetaObject, QObject, Qt
from PySide6.QtMultimedia import QMediaPlayer


def settle_notify_lookups(*objects: QObject) -> None:
    """Make PySide answer "no Python override" for connectNotify/disconnectNotify of `objects` from now on.

    Why (a deadlock seen about once in six full test runs, reproduced in tests/player/audio/teardown_child.py):
    every QObject made from Python, subclassed there or not (QAudioOutput is not), is a PySide wrapper whose
    virtuals first ask Python for an override, taking the GIL. FFmpeg's AudioRenderer lives on its own thread and listens to our QAudioOutput; when a stop or the end of
    a recording deletes it there, ~QObject calls QAudioOutput::disconnectNotify while holding one of Qt's pooled
    connection mutexes, and so waits for the GIL with that mutex held. The GUI thread holds the GIL and, in
    QMediaPlayer.stop() or any connect/disconnect, waits for the same mutex. PySide caches a "no override" answer
    per object and virtual, and a cached answer is given without the GIL; one connect and disconnect here, on the
    GUI thread, fills that cache before any FFmpeg thread can ask. Checked under gdb: before, each stop made the
    renderer thread wait for the GIL twice; after, never.
    """

    def nothing() -> None:
        pass

    for qobject in objects:
        qobject.destroyed.connect(nothing)
        qobject.destroyed.disconnect(nothing)


def call_without_gil(player: QMediaPlayer, slot: str) -> None:
    """Call a QMediaPlayer slot with the GIL released, so Qt waiting on FFmpeg's threads never blocks Python.

    PySide keeps the GIL through a plain `player.stop()` or `play()` (the C++ call runs with it held; so do
    setPlaybackRate and QAudioOutput.setVolume), but releases it around QMetaObject.invokeMethod and around
    setSource (all checked under gdb, PySide 6.11); a direct connection still runs the slot now, before this returns, and slots of
    ours that it triggers take the GIL back as usual. Defence in depth beside settle_notify_lookups.
    """
    if not QMetaObject.invokeMethod(player, slot, Qt.ConnectionType.DirectConnection):
        raise RuntimeError(f"QMediaPlayer has no slot {slot!r}")
