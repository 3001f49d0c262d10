"""Output-device lists: the real QtMultimedia one and the hand-set one, and their change notifications."""

from __future__ import annotations

from PySide6.QtMultimedia import QMediaDevices

from player.audio.devices import FixedOutputDevices, QtOutputDevices
from player.audio.interface import OutputDevices


def test_fixed_devices_report_what_they_were_given() -> None:
    devices: OutputDevices = FixedOutputDevices(["Built-in speakers", "Headphones"])

    assert devices.available() == ["Built-in speakers", "Headphones"]


def test_fixed_devices_cannot_be_changed_through_the_returned_list() -> None:
    devices = FixedOutputDevices(["Built-in speakers"])

    devices.available().clear()

    assert devices.available() == ["Built-in speakers"]


def test_unplugging_tells_every_subscriber_until_they_unsubscribe() -> None:
    devices = FixedOutputDevices(["Headphones"])
    seen_by_first: list[list[str]] = []
    seen_by_second: list[list[str]] = []
    unsubscribe_first = devices.subscribe(lambda: seen_by_first.append(devices.available()))
    devices.subscribe(lambda: seen_by_second.append(devices.available()))

    devices.set_available([])
    unsubscribe_first()
    unsubscribe_first()  # harmless twice: close() paths may both run
    devices.set_available(["Headphones"])

    assert seen_by_first == [[]]
    assert seen_by_second == [[], ["Headphones"]]


def test_a_subscriber_may_unsubscribe_while_being_told() -> None:
    devices = FixedOutputDevices(["Headphones"])
    calls: list[str] = []

    def once() -> None:
        calls.append("once")
        unsubscribe()

    unsubscribe = devices.subscribe(once)
    devices.subscribe(lambda: calls.append("always"))

    devices.set_available([])
    devices.set_available(["Speakers"])

    assert calls == ["once", "always", "always"]


def test_qt_devices_list_what_qtmultimedia_sees(qapp: object) -> None:
    # On the build machine this is [] (no sound card); on a laptop it names the speakers.
    devices = QtOutputDevices()

    assert devices.available() == [device.description() for device in QMediaDevices.audioOutputs()]
    assert all(isinstance(name, str) and name for name in devices.available())


def test_qt_devices_pass_on_qtmultimedias_change_signal(qapp: object) -> None:
    # A real QMediaDevices, told that the outputs changed as the OS would when headphones are unplugged.
    media_devices = QMediaDevices()
    devices = QtOutputDevices(media_devices)
    told: list[list[str]] = []
    unsubscribe = devices.subscribe(lambda: told.append(devices.available()))

    media_devices.audioOutputsChanged.emit()
    unsubscribe()
    media_devices.audioOutputsChanged.emit()

    assert told == [[device.description() for device in QMediaDevices.audioOutputs()]]
