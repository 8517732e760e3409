"""One unbroken token (a key, a hash) makes a segment of any length, and normalising it
makes it longer still; the engine renders it in bounded pieces, never whole."""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest

from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.text import Segment, normalize_text, split_for_engine

PIPER_VOICE = "en_US-joe-medium"


def test_pieces_are_bounded_cut_between_words_and_lose_nothing() -> None:
    words = "the quick brown fox " * 40
    pieces = split_for_engine(words + "x" * 700, 300)
    assert all(len(p) <= 300 for p in pieces)
    assert "".join(pieces).replace(" ", "") == (words + "x" * 700).replace(" ", "")
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in pieces)
    assert split_for_engine("a short sentence.", 300) == ["a short sentence."]


def test_a_long_list_of_numbers_is_cut_after_a_clause_not_inside_a_number() -> None:
    """It was cut at "eight hundred | ninety": each piece is read as an utterance of its
    own, so listeners heard two numbers (helper-87)."""
    spoken = normalize_text(
        "The totals were 1234567, 2345678, 3456789, 4567890, 5678901, 6789012 and 7890123."
    )
    pieces = split_for_engine(spoken, 300)
    assert len(pieces) == 2 and all(len(p) <= 300 for p in pieces)
    assert pieces[0].endswith("eighty-nine,") and " ".join(pieces) == " ".join(spoken.split())


def test_a_list_without_commas_is_cut_between_numbers() -> None:
    """Without a clause to cut after, the cut fell on the last space: "nineteen two |
    million", "twenty-nine thousand | ...", heard as other numbers (helper-94)."""
    numbers = [str(1_000_000 + (1_234_567 + 7_654_321 * i) % 9_000_000) for i in range(24)]
    spoken = normalize_text("The codes are " + " ".join(numbers) + ".")
    pieces = split_for_engine(spoken, 300)
    assert len(pieces) > 3 and " ".join(pieces) == " ".join(spoken.split())
    for piece in pieces[1:]:
        assert piece.split()[1] == "million", piece[:40]  # each begins a number


def test_a_clause_is_not_cut_off_so_short_that_the_rest_is_bounded_only_by_words() -> None:
    """A comma early in the piece is passed over: a 20-character piece then a
    300-character one would read worse than two of about 150."""
    spoken = "first, " + "word " * 100
    pieces = split_for_engine(spoken, 300)
    assert len(pieces[0]) > 100 and all(len(p) <= 300 for p in pieces)
    assert " ".join(pieces) == " ".join(spoken.split())


@pytest.mark.parametrize("seed", range(20))
def test_pieces_are_bounded_and_lose_nothing_whatever_the_punctuation(seed: int) -> None:
    rng = random.Random(seed)
    words = ["".join(rng.choices("abc", k=rng.randint(1, 40))) + rng.choice(["", "", ",", ";"])]
    words += [
        "".join(rng.choices("abc", k=rng.randint(1, 40))) + rng.choice(["", "", ",", ";"])
        for _ in range(rng.randint(1, 200))
    ]
    spoken = " ".join(words)
    pieces = split_for_engine(spoken, 60)
    assert all(0 < len(p) <= 60 for p in pieces)
    assert " ".join(pieces) == spoken


async def test_a_segment_with_a_long_key_is_rendered_in_bounded_pieces(
    pipeline: SynthesisPipeline, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engines.get("piper")
    rendered: list[int] = []
    timed = engine.synthesize_timed  # type: ignore[attr-defined]

    def noted(text: str, *args: Any, **kwargs: Any) -> Any:
        rendered.append(len(text))
        return timed(text, *args, **kwargs)

    monkeypatch.setattr(engine, "synthesize_timed", noted)
    key = base64.b64encode(random.Random(7).randbytes(600)).decode()  # 800 characters
    segment = Segment(f"Your key is {key} and that is all.", "end")
    spoken = await pipeline.speak_segment(0, segment, "piper", PIPER_VOICE, 1.0)
    limit = pipeline.settings.max_engine_chars
    assert len(rendered) > 1 and max(rendered) <= limit, rendered
    assert len(spoken.pcm) > engine.sample_rate  # it was spoken, not dropped
