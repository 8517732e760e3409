"""An opened segment's head and rest, each levelled and marked, join without a seam.

Judged against the same segment levelled and marked whole: at the join the pieces must
step no more than that audio does there, and differ from it no more than inaudibly.
(A bare "step vs. the local median" test would fail on speech whose own onset falls on
the cut: the whole-marked audio jumps there too.)
"""

from __future__ import annotations

import numpy as np
import pytest

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.engines.piper import PiperEngine
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.provenance.watermark import shared_watermarker
from scaispeak.speak.synthesis.audio import apply_gain, limit_to_ceiling
from scaispeak.speak.synthesis.openings import (
    OpenedSegment,
    OpenRequest,
    VoiceLevels,
    finish_levelled,
    open_levelled,
)
from scaispeak.speak.synthesis.text import normalize_text

VOICE = "en_US-joe-medium"
HEAD_S = 0.25
TEXTS = [
    "Whatever you decide, remember that the weather will change.",
    "Many amazing animals were moving among the meadows.",
    "The quick brown fox jumps over the lazy dog, twice.",
]
INAUDIBLE = 0.01
"""−40 dBFS: the most the joined pieces may differ from a whole marking near the join
(measured ≤ 0.003; separately marked pieces differed by 0.02–0.06 there)."""


def mark(pcm: Pcm, rate: int, watermark: bool) -> Pcm:
    """The pipeline's marker: Perth's mark, then the limiter again."""
    return limit_to_ceiling(shared_watermarker().embed(pcm, rate), rate) if watermark else pcm


@pytest.fixture(scope="module")
def piper(engines: EngineRegistry) -> PiperEngine:
    engine = engines.get("piper")
    assert isinstance(engine, PiperEngine)
    return engine


def opened_and_whole(piper: PiperEngine, text: str) -> tuple[OpenedSegment, Pcm, Pcm]:
    """The segment opened and finished as a stream gets it, and the same raw audio
    levelled with the same gain and marked whole."""
    rate = piper.sample_rate
    levels = VoiceLevels(target_lufs=-20.0)  # taught first, so the segment is opened
    teacher = piper.open("Hello there.", VOICE, speed=1.0, head_seconds=10.0).head
    levels.learn("piper", VOICE, teacher, rate)
    spoken = normalize_text(text)
    request = OpenRequest(text, spoken, "piper", rate, VOICE, 1.0, HEAD_S, 0.0, watermark=True)
    opened = open_levelled(piper, request, levels, mark)
    assert opened.opening is not None
    joined = np.concatenate([opened.head, finish_levelled(opened, levels, mark)])
    raw = np.concatenate([opened.opening.head, opened.opening.rest()])
    whole = mark(apply_gain(raw, rate, opened.gain_db), rate, True)
    return opened, joined, whole


@pytest.mark.parametrize("text", TEXTS)
def test_the_join_is_as_smooth_as_a_whole_marking(piper: PiperEngine, text: str) -> None:
    opened, joined, whole = opened_and_whole(piper, text)
    rate, cut = opened.rate, opened.head.size
    assert joined.size == opened.samples  # nothing lost or added at the join
    assert opened.head.size >= HEAD_S * rate - 1  # the listener still gets the head asked for
    join = slice(cut - 4, cut + round(0.02 * rate) + 4)  # the cut and any crossfade after it
    step = np.abs(np.diff(joined.astype(np.float64)))[join].max()
    whole_step = np.abs(np.diff(whole.astype(np.float64)))[join].max()
    assert step <= 1.2 * whole_step  # measured up to 4.2 times when marked apart
    near = slice(cut - round(0.01 * rate), cut + round(0.03 * rate))
    assert np.abs(joined - whole)[near].max() < INAUDIBLE
