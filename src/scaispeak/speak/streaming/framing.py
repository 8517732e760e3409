"""A spoken segment as a stream sends it: faded, followed by its pause, resampled, in frames."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.streaming.outbox import AudioFrame, SegmentTicket
from scaispeak.speak.synthesis.audio import fade_edges, resample


def shape_segment(pcm: Pcm, pause_ms: float, from_rate: int, to_rate: int) -> Pcm:
    """Faded edges (no click at the joins), then the pause, at the output rate.

    The same steps ``render`` takes for a whole clip, one segment at a time; CPU work
    of a few milliseconds, so callers run it off the event loop.
    """
    pause = np.zeros(round(pause_ms * from_rate / 1000), dtype=np.float32)
    return resample(np.concatenate([fade_edges(pcm, from_rate), pause]), from_rate, to_rate)


def frames(pcm: Pcm, ticket: SegmentTicket, rate: int, frame_ms: int) -> Iterator[AudioFrame]:
    """``pcm`` cut into frames of ``frame_ms`` (the last may be shorter)."""
    step = max(1, rate * frame_ms // 1000)
    for start in range(0, len(pcm), step):
        yield AudioFrame(pcm[start : start + step], ticket)
