"""A segment heard before it is all made: how a stream's first clause starts sooner.

An engine that can open a segment (``engines.base.OpeningEngine``) decodes its first
fraction of a second, the *head*, and the rest afterwards. Everything the pipeline does
to a whole segment must then work on pieces:

* **Levelling** needs the whole segment's loudness, which the head cannot tell (it is
  shorter than one BS.1770 gating block and mostly onset). Each voice's raw engine audio
  is steady in level, so the gain is learned per voice from the whole segments made so
  far (:class:`VoiceLevels`); a voice's first opened segment is made whole to learn it.
  Head and rest get the same gain, then the limiter; a peak within 5 ms of the cut is
  limited without seeing across it, which is the one difference from a whole levelling.
* **The watermark** goes on each piece (each is at least 0.1 s of speech).

The pieces join into the audio a whole decode gives (vits_split.py), the segment's
length is known from the head's call, so a stream announces the segment, and sends
the head, before the rest exists.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scaispeak.speak.engines.base import Opening, OpeningEngine, Pcm, WordSpans
from scaispeak.speak.synthesis.audio import apply_gain, level_gain_db
from scaispeak.speak.synthesis.text import normalize_text

Marker = Callable[[Pcm, int, bool], Pcm]
"""Watermarks (pcm, rate) when the flag says so (the pipeline's)."""

_LEARNING_RATE = 0.3
"""Weight of the newest whole segment in a voice's running gain (in dB)."""


class VoiceLevels:
    """The gain that levels each voice's raw audio, learned from its whole segments."""

    def __init__(self, target_lufs: float) -> None:
        self._target = target_lufs
        self._gains: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def gain(self, engine: str, voice: str) -> float | None:
        """The voice's running gain in dB, or None before its first whole segment."""
        return self._gains.get((engine, voice))

    def learn(self, engine: str, voice: str, raw: Pcm, rate: int) -> float:
        """Fold a whole raw segment into the voice's gain; returns the updated gain."""
        measured = level_gain_db(raw, rate, self._target)
        with self._lock:
            known = self._gains.get((engine, voice))
            if measured is None:  # silence teaches nothing
                return known if known is not None else 0.0
            gain = measured if known is None else known + _LEARNING_RATE * (measured - known)
            self._gains[(engine, voice)] = gain
            return gain


@dataclass(frozen=True)
class OpenRequest:
    """A segment to open: what to say, how, and how much to make at first."""

    text: str
    engine: str
    rate: int
    voice: str
    speed: float
    head_seconds: float
    pause_ms: float
    watermark: bool


@dataclass(frozen=True)
class OpenedSegment:
    """A segment whose head is levelled (and marked) and whose rest is still to make."""

    text: str
    head: Pcm
    """Levelled and, when asked, watermarked, at the engine's rate."""
    samples: int
    """The whole segment's length at the engine's rate (head and rest)."""
    speech_s: tuple[float, float]
    word_spans: WordSpans | None
    pause_ms: float
    engine: str
    voice: str
    rate: int
    gain_db: float
    watermark: bool
    opening: Opening | None
    """What makes the rest; None when the head is the whole segment."""


def open_levelled(
    engine: OpeningEngine, request: OpenRequest, levels: VoiceLevels, mark: Marker
) -> OpenedSegment:
    """Make the head (blocking: an inference thread runs it), levelled and marked."""
    name, rate, voice = request.engine, request.rate, request.voice
    opening = engine.open(
        normalize_text(request.text), voice, speed=request.speed, head_seconds=request.head_seconds
    )
    gain = levels.gain(name, voice)
    rest_of: Opening | None
    head, rest_of = opening.head, opening
    if gain is None:  # the voice's level is unknown: make it whole now and learn it
        head = np.concatenate([opening.head, opening.rest()])
        gain, rest_of = levels.learn(name, voice, head, rate), None
    return OpenedSegment(
        text=request.text,
        head=mark(apply_gain(head, rate, gain), rate, request.watermark),
        samples=opening.samples,
        speech_s=opening.speech_s,
        word_spans=opening.word_spans,
        pause_ms=request.pause_ms,
        engine=name,
        voice=voice,
        rate=rate,
        gain_db=gain,
        watermark=request.watermark,
        opening=rest_of,
    )


def finish_levelled(opened: OpenedSegment, levels: VoiceLevels, mark: Marker) -> Pcm:
    """Make the rest (blocking), levelled with the head's gain and marked; the whole
    segment then teaches the voice's level."""
    if opened.opening is None:
        return np.zeros(0, dtype=np.float32)
    rest = opened.opening.rest()
    levels.learn(
        opened.engine, opened.voice, np.concatenate([opened.opening.head, rest]), opened.rate
    )
    return mark(apply_gain(rest, opened.rate, opened.gain_db), opened.rate, opened.watermark)
