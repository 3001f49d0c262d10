"""Audio errors read well to a student and log the detail an IT admin needs; volume levels are checked."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from player.audio.interface import (
    DEVICE_LOST_MESSAGE,
    NO_DEVICE_MESSAGE,
    AudioError,
    AudioProblem,
    check_volume,
)


def test_no_device_message_says_what_to_do() -> None:
    error = AudioError.no_device()

    assert str(error) == NO_DEVICE_MESSAGE
    assert NO_DEVICE_MESSAGE.startswith("No speakers or headphones found on this computer.")
    assert "Ask your invigilator" in NO_DEVICE_MESSAGE
    assert "Try again" in NO_DEVICE_MESSAGE
    assert error.problem is AudioProblem.NO_DEVICE


def test_device_lost_names_the_recording_in_the_log_only() -> None:
    error = AudioError.device_lost(path=Path("/cache/ab12.ogg"))

    assert str(error) == DEVICE_LOST_MESSAGE
    assert "ab12" not in str(error)
    assert "/cache/ab12.ogg" in error.log_text()


def test_missing_file_names_the_file_for_the_student_and_the_path_for_the_log(tmp_path: Path) -> None:
    path = tmp_path / "item-7.ogg"

    error = AudioError.missing(path)

    assert str(error) == "This recording is missing from this computer (item-7.ogg). Tell your invigilator."
    assert str(path) in error.log_text()
    assert "no such file" in error.log_text()


def test_a_folder_where_a_recording_should_be_is_logged_as_not_a_file(tmp_path: Path) -> None:
    error = AudioError.missing(tmp_path)

    assert error.problem is AudioProblem.MISSING
    assert "not a regular file" in error.log_text()


def test_damaged_file_keeps_the_technical_cause_out_of_the_students_message() -> None:
    error = AudioError.damaged(Path("/cache/item-2.ogg"), detail="ResourceError: Could not open file")

    assert str(error) == ("This recording could not be played (the file item-2.ogg is damaged). Tell your invigilator.")
    assert "ResourceError" not in str(error)
    assert "ResourceError: Could not open file" in error.log_text()
    assert error.log_text().startswith("damaged: ")


def test_audio_errors_can_be_raised_and_caught_as_exceptions() -> None:
    with pytest.raises(AudioError, match="damaged"):
        raise AudioError.damaged(Path("x.ogg"), detail="bad header")


@given(st.floats(min_value=0.0, max_value=1.0))
def test_every_level_from_silent_to_full_is_accepted(volume: float) -> None:
    assert check_volume(volume) == volume


@given(
    st.one_of(
        st.floats(max_value=0.0, exclude_max=True),
        st.floats(min_value=1.0, exclude_min=True),
        st.just(math.nan),
    )
)
def test_levels_outside_silent_to_full_are_refused_with_the_range(volume: float) -> None:
    with pytest.raises(ValueError, match=r"between 0\.0 \(silent\) and 1\.0 \(full\), got"):
        check_volume(volume)
