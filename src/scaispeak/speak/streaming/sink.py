"""Where a stream's output goes: the one interface a transport implements.

A WebSocket adapter sends audio as binary messages and events as JSON text; a WebRTC
adapter would send audio to its track and events over its data channel. Sends may
wait (that is how a slow reader pauses synthesis); a peer that has gone away raises
:class:`SinkClosed`.
"""

from __future__ import annotations

from typing import Any, Protocol


class SinkClosed(Exception):
    """The peer is gone: nothing more can be delivered."""


class StreamSink(Protocol):
    async def send_audio(self, data: bytes) -> None:
        """Deliver encoded audio bytes (one frame); returns once the transport took them."""
        ...

    async def send_event(self, event: dict[str, Any]) -> None:
        """Deliver one JSON-serialisable protocol event."""
        ...
