"""Word timestamps: when each word of the text is heard in the produced audio.

Two sources. An engine that knows where each word it spoke is (a VITS duration
predictor does: engines/vits_words.py) implements ``engines.base.TimedEngine``, and
its word spans are used. Otherwise, or where it could not place its words, the times
are an **estimate** (``estimated: true``): the segment's speech
(its audio with leading and trailing silence trimmed) is shared among its words in
proportion to how long each word is when spoken, i.e. the letters of its normalised
form ("$42" weighs as "forty-two dollars"). Accuracy is documented in
docs/provenance.md. Times are continuous across segments: each segment's times are
offset by the audio (speech and pauses) before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaispeak.speak.engines.base import Pcm, WordSpans
from scaispeak.speak.synthesis.text import normalize_text

_WORD = re.compile(r"\S+")
_LETTER = re.compile(r"[^\W_]", re.UNICODE)
_SILENCE_DB = -40.0
"""Frames this far below the segment's loudest 10 ms frame are leading/trailing silence."""


@dataclass(frozen=True)
class WordTiming:
    word: str
    start_s: float
    end_s: float

    def shifted(self, seconds: float) -> WordTiming:
        return WordTiming(self.word, self.start_s + seconds, self.end_s + seconds)

    def as_dict(self) -> dict[str, Any]:
        return {"word": self.word, "start": round(self.start_s, 3), "end": round(self.end_s, 3)}


def speech_bounds(pcm: Pcm, rate: int) -> tuple[float, float]:
    """Seconds where speech starts and ends in ``pcm`` (silence trimmed at both ends)."""
    step = max(1, rate // 100)
    usable = pcm[: pcm.size - pcm.size % step].astype(np.float64)
    if usable.size == 0:
        return 0.0, pcm.size / rate if rate else 0.0
    rms = np.sqrt(np.mean(usable.reshape(-1, step) ** 2, axis=1)) + 1e-12
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > _SILENCE_DB)
    return float(loud[0] * step / rate), float((loud[-1] + 1) * step / rate)


def _spoken_weight(word: str) -> int:
    return max(1, len(_LETTER.findall(normalize_text(word))))


def estimate_words(text: str, pcm: Pcm, rate: int) -> list[WordTiming]:
    """Estimated times of ``text``'s words in ``pcm`` (seconds from its first sample)."""
    if pcm.size == 0:
        return []
    start, end = speech_bounds(pcm, rate)
    return spread_words(text, start, end)


def spread_words(text: str, start_s: float, end_s: float) -> list[WordTiming]:
    """Estimated times of ``text``'s words when its speech runs from ``start_s`` to
    ``end_s``: shared in proportion to each word's spoken length."""
    words = _WORD.findall(text)
    if not words:
        return []
    weights = np.array([_spoken_weight(w) for w in words], dtype=np.float64)
    span = end_s - start_s
    edges = start_s + span * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    return [
        WordTiming(w, float(a), float(b))
        for w, a, b in zip(words, edges[:-1], edges[1:], strict=True)
    ]


def words_from_spans(text: str, spans: WordSpans) -> list[WordTiming] | None:
    """Times of ``text``'s words from an engine's spans of the words it was given.

    The engine placed the normalised words; each raw word owns as many of those as its
    own normalisation has, and runs from the first one's start to the last one's end.
    A word that reads as nothing (an emoji) owns none, and takes no time where it
    stands. None when the counts disagree (the caller estimates then).
    """
    words = _WORD.findall(text)
    owned = [len(_WORD.findall(normalize_text(w))) for w in words]
    if sum(owned) != len(spans):
        return None
    timings, index = [], 0
    for word, count in zip(words, owned, strict=True):
        if count == 0:
            at = spans[index][0] if index < len(spans) else (spans[-1][1] if spans else 0.0)
            timings.append(WordTiming(word, at, at))
            continue
        first, last = spans[index], spans[index + count - 1]
        timings.append(WordTiming(word, first[0], max(first[0], last[1])))
        index += count
    return timings


def segment_words(
    text: str, pcm: Pcm, rate: int, spans: WordSpans | None
) -> tuple[list[WordTiming], bool]:
    """The segment's word times and whether they are estimated."""
    return _placed_or(text, spans, lambda: estimate_words(text, pcm, rate))


def opened_segment_words(
    text: str, spans: WordSpans | None, speech_s: tuple[float, float]
) -> tuple[list[WordTiming], bool]:
    """An opened segment's word times, before its rest (hence its audio) exists, and
    whether they are estimated: spread over the speech its durations bound if need be."""
    return _placed_or(text, spans, lambda: spread_words(text, *speech_s))


def _placed_or(
    text: str, spans: WordSpans | None, estimate: Callable[[], list[WordTiming]]
) -> tuple[list[WordTiming], bool]:
    """The engine's placing where it gave one that fits ``text``, else ``estimate()``."""
    if spans is not None:
        placed = words_from_spans(text, spans)
        if placed is not None:
            return placed, False
    return estimate(), True


def timeline(
    segments: list[tuple[str, Pcm, float, WordSpans | None]], rate: int
) -> tuple[list[WordTiming], bool]:
    """Word times of a whole clip joined from ``(text, pcm, pause_ms, spans)`` parts
    (as ``join_segments`` lays them out); estimated if any segment's are."""
    out: list[WordTiming] = []
    estimated, clock = False, 0.0
    for text, pcm, pause_ms, spans in segments:
        words, guessed = segment_words(text, pcm, rate, spans)
        out += [w.shifted(clock) for w in words]
        estimated = estimated or guessed
        clock += pcm.size / rate + max(0.0, pause_ms) / 1000
    return out, estimated
