"""A stream's text read as the whole text would be, whatever the pause between tokens.

A language model's tokens may stop for a moment anywhere; after ``max_wait_ms`` a
stream speaks what it holds (rule 4, ``release_words``), and past ``max_wait_chars`` it
cuts a clause. Cut where the next token would have changed the reading, the words
heard changed: "$182." then "52" was "one hundred eighty-two dollars. fifty-two"
(helper-100).
"""

from __future__ import annotations

import re

import pytest

from scaispeak.speak.streaming.text_intake import TextIntake
from scaispeak.speak.synthesis.text import IncrementalSegmenter, normalize_text, split_segments


def _words(segments: list[str]) -> list[str]:
    spoken = " ".join(normalize_text(text) for text in segments)
    return re.findall(r"[\w'-]+", spoken.lower())


def _streamed(pieces: list[str], *, pause_after_each: bool) -> list[str]:
    segmenter, said = IncrementalSegmenter(), []
    for piece in pieces:
        said += [s.text for s in segmenter.feed(piece)]
        if pause_after_each:
            said += [s.text for s in segmenter.release_words()]  # the timer ran out
    return said + [s.text for s in segmenter.flush()]


@pytest.mark.parametrize(
    "pieces",
    [
        ["The stock closed at $182.", "52, up 1.7% today."],
        ["Mount Everest is 8,848.", "86 m tall."],
        ["The call moved to 3:30 p.", "m. PST on Friday."],
        ["See the [official guide](https://docs.", "python.org/3/) for more."],
        ["It was first climbed on May 29, ", "1953 by two climbers."],
        ["Apollo 11 landed in ", "1969 on the Moon."],
        ["Call ", "911 now."],
        ["Please call (800) ", "555-0199 today."],
    ],
)
def test_a_pause_between_tokens_does_not_change_the_reading(pieces: list[str]) -> None:
    whole = "".join(pieces)
    expected = _words([s.text for s in split_segments(whole)])
    assert _words(_streamed(pieces, pause_after_each=True)) == expected


def test_what_was_kept_back_goes_once_it_has_waited_twice() -> None:
    """Kept back for a token that might go on with it; if none comes, it goes."""
    segmenter = IncrementalSegmenter()
    segmenter.feed("Apollo 11 landed in 1969.")
    assert segmenter.release_words() == []  # the whole sentence waits once
    assert [s.text for s in segmenter.release_words()] == ["Apollo 11 landed in 1969."]
    segmenter.feed("It landed in ")
    assert [s.text for s in segmenter.release_words()] == ["It landed"]
    assert [s.text for s in segmenter.release_words()] == ["in"]


async def test_a_fragment_of_markup_only_is_text_arriving() -> None:
    """After "<emphasis>" the words waiting before it were taken to have waited twice,
    and "in" was spoken alone (helper-102)."""
    intake = TextIntake(IncrementalSegmenter(), max_chars=10_000)
    await intake.feed("It landed in ")
    assert [s.text for s in intake.release_words()] == ["It landed"]
    await intake.feed("<emphasis>")
    assert intake.release_words() == []
