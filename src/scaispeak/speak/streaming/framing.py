"""A spoken segment as a stream sends it: faded, followed by its pause, resampled, in frames."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.streaming.outbox import AudioFrame, SegmentTicket
from scaispeak.speak.synthesis.audio import (
    StreamResampler,
    fade_in,
    fade_out,
    limit_to_ceiling,
    resampled_length,
)


class PieceShaper:
    """``shape_segment`` (synthesis/audio/dsp.py) for a segment that arrives as a head
    and a rest (an opened segment, synthesis/openings.py): the two pieces come out as
    the samples the whole would, and how many is known before the rest exists."""

    def __init__(self, samples: int, pause_ms: float, from_rate: int, to_rate: int) -> None:
        self._from_rate, self._to_rate = from_rate, to_rate
        self._pause = round(pause_ms * from_rate / 1000)
        self.samples_out = resampled_length(samples + self._pause, from_rate, to_rate)
        self._resampler = StreamResampler(from_rate, to_rate)
        self._given = 0

    def head(self, pcm: Pcm) -> Pcm:
        return self._give(self._resampler.piece(fade_in(pcm, self._from_rate), last=False))

    def rest(self, pcm: Pcm) -> Pcm:
        """The rest, faded out and followed by the pause; with the head, ``samples_out``."""
        tail = np.concatenate([fade_out(pcm, self._from_rate), np.zeros(self._pause, np.float32)])
        out = self._resampler.piece(tail, last=True)
        missing = self.samples_out - self._given - out.size  # 0 unless an engine miscounted
        if missing > 0:
            out = np.concatenate([out, np.zeros(missing, np.float32)])
        return self._give(out[: self.samples_out - self._given])

    def _give(self, pcm: Pcm) -> Pcm:
        self._given += pcm.size
        # Each piece limited on its own: a gain step at the join is possible only where
        # a peak sits within 10 ms of it, and the overshoot is a few tenths of a dB.
        return limit_to_ceiling(pcm, self._to_rate)


def frames(pcm: Pcm, ticket: SegmentTicket, rate: int, frame_ms: int) -> Iterator[AudioFrame]:
    """``pcm`` cut into frames of ``frame_ms`` (the last may be shorter)."""
    step = max(1, rate * frame_ms // 1000)
    for start in range(0, len(pcm), step):
        yield AudioFrame(pcm[start : start + step], ticket)
