"""Speech waiting to be played in real time: the buffer behind a WebRTC audio track.

A stream's sender hands over audio as fast as it is taken; a media track must instead
emit one packet every 20 ms, by the clock. :class:`Playout` sits between the two:
``put`` waits while more than ``lead`` is queued (so a cancel discards little and
synthesis pauses instead of running far ahead of the listener), ``next_packet``
paces packets by their timestamps and fills gaps with silence, and ``clear`` forgets
everything queued at once (barge-in). No media library here: 16-bit mono PCM bytes in,
16-bit mono PCM bytes out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from scaispeak.speak.streaming.sink import SinkClosed

_SAMPLE_BYTES = 2
_MAX_LAG_S = 0.5
"""Further behind the clock than this (a stalled loop), pacing restarts instead of bursting."""


class Playout:
    def __init__(
        self,
        rate: int,
        *,
        packet_ms: int = 20,
        lead_ms: int = 120,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.packet_samples = rate * packet_ms // 1000
        self._lead_bytes = rate * lead_ms // 1000 * _SAMPLE_BYTES
        self._clock = clock
        self._queued = bytearray()
        self._room = asyncio.Event()
        self._room.set()
        self._empty = asyncio.Event()
        self._empty.set()
        self._closed = False
        self._held = False
        self._start: float | None = None
        self._pts = 0
        self.played_samples = 0
        """Samples of speech (not silence) taken out so far."""

    @property
    def queued_seconds(self) -> float:
        return len(self._queued) / _SAMPLE_BYTES / self.rate

    async def put(self, pcm: bytes) -> None:
        """Queue speech; waits while more than the lead is queued. Raises SinkClosed."""
        while not self._closed and (self._held or len(self._queued) > self._lead_bytes):
            self._room.clear()
            await self._room.wait()
        if self._closed:
            raise SinkClosed
        self._queued += pcm
        if self._queued:
            self._empty.clear()

    def clear(self) -> None:
        """Barge-in: forget all queued speech; the next packet is silence."""
        self._queued.clear()
        self._on_taken()

    @contextmanager
    def silenced(self) -> Iterator[None]:
        """Barge-in: forget all queued speech now, and take none while the block runs.

        The block is the session forgetting the utterance; a writer let in before it
        ends could queue more of the speech the listener just interrupted.
        """
        self._held = True
        self.clear()
        try:
            yield
        finally:
            self._held = False
            self._on_taken()

    def close(self) -> None:
        """No more speech: writers waiting for room (and later ones) get SinkClosed."""
        self._closed = True
        self.clear()

    async def drained(self) -> None:
        """Wait until everything queued has been taken out (played)."""
        await self._empty.wait()

    async def next_packet(self) -> tuple[int, bytes]:
        """The next packet, once it is due: its timestamp (in samples) and its PCM."""
        now = self._clock()
        if self._start is None:
            self._start = now
        else:
            self._pts += self.packet_samples
            delay = self._start + self._pts / self.rate - now
            if delay < -_MAX_LAG_S:
                self._start = now - self._pts / self.rate
            elif delay > 0:
                await asyncio.sleep(delay)
        return self._pts, self._take()

    def _take(self) -> bytes:
        size = self.packet_samples * _SAMPLE_BYTES
        packet = bytes(self._queued[:size])
        del self._queued[:size]
        self.played_samples += len(packet) // _SAMPLE_BYTES
        self._on_taken()
        return packet + bytes(size - len(packet))  # silence where speech ran out

    def _on_taken(self) -> None:
        if len(self._queued) <= self._lead_bytes:
            self._room.set()
        if not self._queued:
            self._empty.set()
