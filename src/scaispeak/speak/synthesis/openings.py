"""A segment heard before it is all made: how a stream's first clause starts sooner.

An engine that can open a segment (``engines.base.OpeningEngine``) decodes its first
fraction of a second, the *head*, and the rest afterwards. Everything the pipeline does
to a whole segment must then work on pieces:

* **Levelling** needs the whole segment's loudness, which the head cannot tell (it is
  shorter than one BS.1770 gating block and mostly onset). Each voice's raw engine audio
  is steady in level, so the gain is learned per voice from the whole segments made so
  far (:class:`VoiceLevels`); a voice's first opened segment is made whole to learn it.
  Head and rest get the same gain, then the limiter.
* **The watermark** goes on each piece (each is at least 0.1 s of speech).

Levelling and marking a piece leave its edges unlike the whole's: the mark resamples
and works in 64 ms STFT windows, and the limiter cannot look past the end. Marked
separately, the pieces jumped where they met (up to ten times the audio's usual step). So
the head is decoded ``_HELD_S`` longer than asked and that end is held back; the rest
is levelled and marked from ``_CONTEXT_S`` before the cut, that lead-in dropped, and
fades in over the held samples (``_CROSSFADE_S``). The listener gets the head asked
for, and the join matches a whole marking as closely as the rest of the segment does.

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
from scaispeak.speak.synthesis.audio import apply_gain, crossfade_into, level_gain_db
from scaispeak.speak.synthesis.inference import ThreadHold

Marker = Callable[[Pcm, int, bool], Pcm]
"""Watermarks (pcm, rate) when the flag says so (the pipeline's)."""

_LEARNING_RATE = 0.3
"""Weight of the newest whole segment in a voice's running gain (in dB)."""

_HELD_S = 0.05
"""Decoded past the head asked for and not sent with it, where the head's marking and
limiting feel its end: the rest is faded in over it."""

_CONTEXT_S = 0.1
"""Raw head before the cut that the rest is levelled and marked with, then dropped:
longer than one of the mark's STFT windows (64 ms), so the rest's own start edge is gone
before the cut; with the held part, at least the 0.1 s the watermark needs, so even an
empty rest is marked."""

_CROSSFADE_S = 0.02
"""How long the rest takes to fade in over the held samples: their first 20 ms, the
part farther from the head's end."""


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
    spoken: str
    """``text`` normalised (the pipeline has it already: it checks the length)."""
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
    held: Pcm
    """The head's levelled (and marked) end, made but not sent: the rest starts over it
    (see the module docstring). Empty when the head is the whole segment."""
    opening: Opening | None
    """What makes the rest; None when the head is the whole segment."""
    rest_hold: ThreadHold | None = None
    """The inference thread kept for the rest (pipeline.open_segment), if one is."""


def open_levelled(
    engine: OpeningEngine, request: OpenRequest, levels: VoiceLevels, mark: Marker
) -> OpenedSegment:
    """Make the head (blocking: an inference thread runs it), levelled and marked."""
    name, rate, voice = request.engine, request.rate, request.voice
    opening = engine.open(
        request.spoken,
        voice,
        speed=request.speed,
        head_seconds=request.head_seconds + _HELD_S,  # the held end is not sent with it
    )
    gain = levels.gain(name, voice)
    rest_of: Opening | None = opening
    if gain is None:  # the voice's level is unknown: make it whole now and learn it
        whole = np.concatenate([opening.head, opening.rest()])
        gain, rest_of = levels.learn(name, voice, whole, rate), None
        head, held = mark(apply_gain(whole, rate, gain), rate, request.watermark), _nothing()
    else:
        made = mark(apply_gain(opening.head, rate, gain), rate, request.watermark)
        cut = made.size - _held_samples(made.size, rate)
        head, held = made[:cut], made[cut:]
    return OpenedSegment(
        text=request.text,
        head=head,
        samples=opening.samples,
        speech_s=opening.speech_s,
        word_spans=opening.word_spans,
        pause_ms=request.pause_ms,
        engine=name,
        voice=voice,
        rate=rate,
        gain_db=gain,
        watermark=request.watermark,
        held=held,
        opening=rest_of,
    )


def finish_levelled(opened: OpenedSegment, levels: VoiceLevels, mark: Marker) -> Pcm:
    """Make the rest (blocking), levelled with the head's gain and marked, and joined to
    the head without a seam; the whole segment then teaches the voice's level."""
    if opened.opening is None:
        return _nothing()
    raw_head, rest = opened.opening.head, opened.opening.rest()
    rate = opened.rate
    levels.learn(opened.engine, opened.voice, np.concatenate([raw_head, rest]), rate)
    cut = opened.head.size
    start = max(0, cut - round(_CONTEXT_S * rate))
    from_start = np.concatenate([raw_head[start:], rest])
    made = mark(apply_gain(from_start, rate, opened.gain_db), rate, opened.watermark)
    return crossfade_into(opened.held[: round(_CROSSFADE_S * rate)], made[cut - start :])


def _held_samples(head: int, rate: int) -> int:
    """How much of a head of ``head`` samples to hold back: ``_HELD_S``, but never more
    than half of a short head (one whose first sentence is shorter than asked)."""
    return min(round(_HELD_S * rate), head // 2)


def _nothing() -> Pcm:
    return np.zeros(0, dtype=np.float32)
