"""The Whisper helpers that judge the engines must themselves be able to fail."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.asr import normalise, transcribe, word_error_rate


def test_identical_text_scores_zero() -> None:
    assert word_error_rate("The cat sat on the mat.", "the cat sat on the mat") == 0.0


def test_different_sentences_score_high() -> None:
    reference = "The weather today is sunny with a light breeze from the west."
    hypothesis = "Please remember to bring your passport and a copy of the booking."
    assert word_error_rate(reference, hypothesis) >= 0.8


def test_one_wrong_word_counts() -> None:
    assert word_error_rate("one two three four", "one two tree four") == pytest.approx(0.25)


def test_missing_speech_counts_fully() -> None:
    assert word_error_rate("hello there", "") == 1.0


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("$42.50", "forty two dollars and fifty cents"),
        ("$1", "one dollar"),
        ("15%", "fifteen percent"),
        ("the 3rd of 300", "the third of three hundred"),
        ("1,200 items", "one thousand two hundred items"),
        ("Don't stop-now!", "dont stop now"),
    ],
)
def test_normalises_written_forms_to_words(written: str, spoken: str) -> None:
    assert normalise(written) == normalise(spoken) == spoken


def test_numbers_still_have_to_match() -> None:
    assert word_error_rate("forty two dollars", "$52") > 0
    assert word_error_rate("three hundred tickets", "30 tickets") > 0


def test_transcribes_nothing_from_nothing() -> None:
    assert transcribe(np.zeros(0, dtype=np.float32), 24_000) == ""
