"""The bounded queue between a stream's synthesis and its sink.

Audio frames wait for room (at most ``max_frames`` queued), so a slow reader pauses
synthesis instead of growing memory; events never wait, so a ``cancel`` or an error
is never stuck behind audio. Events are counted instead: past ``max_events`` the
outbox is :attr:`~Outbox.overflowing`, and the session gives up on a client that has
stopped reading (docs/streaming.md, Limits).

A cancel drops what belongs to the interrupted utterance (its frames, ``segment``
events and a pending finish: the session queues the finish again behind the
``cancelled`` event) and keeps everything else in order. It costs nothing however
much is queued: each item is tagged with its utterance when queued, and ``get``
skips the items of an utterance that was cancelled. Their frames still take room
until skipped, so a client that cancels again and again cannot pile up audio.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scaispeak.speak.engines.base import Pcm


@dataclass(frozen=True)
class SegmentTicket:
    """One spoken segment as billed: its text length and its audio at the output rate."""

    sequence: int
    characters: int
    samples: int
    utterance: int = 0
    """Which utterance (the count of cancels before it) the segment belongs to."""


@dataclass(frozen=True)
class AudioFrame:
    pcm: Pcm
    """Samples at the stream's output rate, not yet encoded."""
    ticket: SegmentTicket


@dataclass(frozen=True)
class Event:
    render: Callable[[], dict[str, Any]]
    """Called when the event is sent, so figures in it include every frame before it."""
    utterance: bool = False
    """Part of the current utterance (a ``segment`` event): dropped by a cancel."""
    pushes_out_held_audio: bool = False
    """Sent after what the encoder still holds (``cancelled``: the cut speech must come
    before the event, where the client discards it, not with the next reply)."""

    @staticmethod
    def fixed(event: dict[str, Any], *, utterance: bool = False) -> Event:
        """An event whose content is known now."""
        return Event(lambda: event, utterance)


@dataclass(frozen=True)
class Finish:
    """Everything before this was said: end the encoded stream, send ``done``, close."""


@dataclass(frozen=True)
class Close:
    """Close now with ``code`` (after a fatal error event)."""

    code: int


Item = AudioFrame | Event | Finish | Close
_ALWAYS = -1
"""The utterance tag of an item that no cancel drops (control events, Close)."""


class Outbox:
    def __init__(self, max_frames: int, max_events: int) -> None:
        self._items: deque[tuple[int, Item]] = deque()
        """Each item with the utterance it belongs to, or _ALWAYS."""
        self._max_frames = max(1, max_frames)
        self._max_events = max_events
        self._frames = 0
        self._events = 0
        self._utterance = 0
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def __len__(self) -> int:
        """Items queued, a cancelled utterance's not skipped yet included."""
        return len(self._items)

    @property
    def frames(self) -> int:
        return self._frames

    @property
    def overflowing(self) -> bool:
        """More than ``max_events`` events wait: the reader has stopped reading."""
        return self._events > self._max_events

    async def put_frame(self, frame: AudioFrame) -> None:
        """Queue a frame, waiting while ``max_frames`` are queued already."""
        while self._frames >= self._max_frames:
            self._room.clear()
            await self._room.wait()
        self._frames += 1
        self.put(frame)

    def put(self, item: Item) -> None:
        """Queue an item without waiting (frames go through :meth:`put_frame`)."""
        self._items.append((self._utterance if _in_utterance(item) else _ALWAYS, item))
        if isinstance(item, Event):
            self._events += 1
        self._readable.set()

    async def get(self) -> Item:
        """The next item to send; a cancelled utterance's items are skipped."""
        while True:
            while not self._items:
                self._readable.clear()
                await self._readable.wait()
            utterance, item = self._items.popleft()
            self._forget(item)
            if utterance in (_ALWAYS, self._utterance):
                return item

    def drop_utterance(self) -> None:
        """Forget the interrupted utterance's items (skipped when met); keep control events."""
        self._utterance += 1

    def drop_all(self) -> None:
        self._items.clear()
        self._frames = self._events = 0
        self._room.set()

    def _forget(self, item: Item) -> None:
        if isinstance(item, AudioFrame):
            self._frames -= 1
            self._room.set()
        elif isinstance(item, Event):
            self._events -= 1


def _in_utterance(item: Item) -> bool:
    return isinstance(item, AudioFrame | Finish) or (isinstance(item, Event) and item.utterance)
