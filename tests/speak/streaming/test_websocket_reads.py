"""A burst of client messages, already parsed by uvicorn, does not hold the event loop."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from fastapi import WebSocket

from scaispeak.speak.streaming.session import StreamSession
from scaispeak.speak.transports import websocket as transport


class _Burst:
    """A WebSocket whose messages are all queued: ``receive`` never suspends."""

    def __init__(self, count: int) -> None:
        self.left = count

    async def receive(self) -> dict[str, Any]:
        if not self.left:
            return {"type": "websocket.disconnect"}
        self.left -= 1
        return {"type": "websocket.receive", "text": '{"type": "flush"}'}


class _Session:
    def __init__(self) -> None:
        self.received = 0

    async def receive(self, _message: str | bytes) -> None:
        self.received += 1


async def test_the_reader_lets_other_work_run_during_a_burst() -> None:
    """20,000 tiny messages held the loop for 0.8 s: every other stream's pacing, and
    this stream's own sender, waited (helper-66)."""
    session = _Session()
    seen_by_others: list[int] = []

    async def another_stream() -> None:
        while session.received < 10_000:
            seen_by_others.append(session.received)
            await asyncio.sleep(0)

    other = asyncio.create_task(another_stream())
    await transport._read(cast(WebSocket, _Burst(10_000)), cast(StreamSession, session))
    await other
    mid_burst = [n for n in seen_by_others if 0 < n < 10_000]
    assert len(mid_burst) >= 50  # the loop turned at least every 200 messages
