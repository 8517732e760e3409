"""What a stream has delivered: the usage it is billed for, and what the listener hears.

Billing rule (docs/streaming.md): audio seconds are the samples handed to the
transport; characters are those of the segments whose audio was handed over, and a
segment cut short by a cancel or a disconnect counts the same fraction of its
characters as of its audio, rounded down. Nothing synthesized but undelivered is billed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scaispeak.speak.streaming.outbox import SegmentTicket


@dataclass(frozen=True)
class StreamUsage:
    characters: int
    audio_seconds: float
    segments: int
    """Segments of which at least some audio was delivered."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "characters": self.characters,
            "audio_seconds": self.audio_seconds,
            "segments": self.segments,
        }


class Delivery:
    """Counts delivered frames; follows the listener's playback in real time.

    The listener is assumed to play audio as it arrives: once the delivered audio has
    had time to play out, they hear silence, the next segment is urgent (first-audio
    priority in the inference pool), and the time until its first audio is the
    stream's time to first audio.
    """

    def __init__(self, rate: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self._clock = clock
        self._samples = 0
        self._characters = 0
        self._segments = 0
        self._current: SegmentTicket | None = None
        self._current_samples = 0
        self._playback_end = float("-inf")
        self._waiting_since: float | None = None
        self.utterance = 0
        """Counts barge-ins; frames of an earlier utterance end no wait."""
        self._spoken_in_utterance = 0
        self._delivered_before: int | None = 0
        """Characters delivered before this utterance; None until read after a barge-in."""
        self._barge_in = asyncio.Event()  # this utterance's: set when it is cut short

    def segment_queued(self) -> None:
        """A segment is ready to speak: a listener who hears silence starts waiting now."""
        if self._waiting_since is None and self.listener_waiting():
            self._waiting_since = self._clock()

    def record(self, ticket: SegmentTicket, samples: int, *, audible: bool) -> float | None:
        """``samples`` of ``ticket``'s segment were handed to the transport.

        Returns the time to first audio when these bytes (``audible``: not just an
        encoder's buffering) ended the listener's wait.
        """
        now = self._clock()
        latency = None
        if audible and self._waiting_since is not None and ticket.utterance == self.utterance:
            latency, self._waiting_since = now - self._waiting_since, None
        if ticket is not self._current:
            self.cut()
            self._current = ticket
            self._segments += 1
        self._current_samples += samples
        self._samples += samples
        self._playback_end = max(now, self._playback_end) + samples / self.rate
        if self._current_samples >= ticket.samples:
            self.cut()
        return latency

    def cut(self) -> None:
        """Close the segment being delivered; a partly delivered one bills its part."""
        if self._current is not None:
            self._characters += _billed(self._current, self._current_samples)
        self._current = None
        self._current_samples = 0

    def interrupt(self) -> None:
        """Barge-in: the listener stops playing; what follows is a new utterance.

        The cut segment is billed by :meth:`cut` when the ``cancelled`` event is sent,
        after every frame that was already on its way.
        """
        self._playback_end = float("-inf")
        self._waiting_since = None
        self._spoken_in_utterance, self._delivered_before = 0, None
        self.utterance += 1
        self._barge_in.set()
        self._barge_in = asyncio.Event()

    def to_cover(self, segment_characters: int) -> int:
        """Characters the stream's holds must cover once a segment of this many is handed
        to synthesis: those delivered before the utterance, and the utterance's segments.
        A barge-in's unsaid text can no longer be billed, so it needs no hold: counting
        every segment ever started, a stream that kept interrupting itself ran out of
        budget at a third of what it spoke, its holds blocking its colleagues too."""
        if self._delivered_before is None:  # the first segment after a barge-in
            self._delivered_before = self.usage.characters
        self._spoken_in_utterance += segment_characters
        return self._delivered_before + self._spoken_in_utterance

    async def wait_unless_interrupted(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the utterance is cut short meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._barge_in.wait(), seconds)

    def listener_waiting(self) -> bool:
        return self._clock() >= self._playback_end

    def playback_left(self) -> float:
        """Seconds of delivered audio the listener has still to hear."""
        return max(0.0, self._playback_end - self._clock())

    @property
    def usage(self) -> StreamUsage:
        partial = _billed(self._current, self._current_samples) if self._current else 0
        return StreamUsage(self._characters + partial, self._samples / self.rate, self._segments)


def _billed(ticket: SegmentTicket, delivered: int) -> int:
    if ticket.samples <= 0 or delivered >= ticket.samples:
        return ticket.characters
    return ticket.characters * delivered // ticket.samples
