"""One unbroken token (a key, a hash) makes a segment of any length, and normalising it
makes it longer still; the engine renders it in bounded pieces, never whole."""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest

from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.text import Segment, split_for_engine

PIPER_VOICE = "en_US-joe-medium"


def test_pieces_are_bounded_cut_between_words_and_lose_nothing() -> None:
    words = "the quick brown fox " * 40
    pieces = split_for_engine(words + "x" * 700, 300)
    assert all(len(p) <= 300 for p in pieces)
    assert "".join(pieces).replace(" ", "") == (words + "x" * 700).replace(" ", "")
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in pieces)
    assert split_for_engine("a short sentence.", 300) == ["a short sentence."]


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
