"""A test client for the streaming protocol over a real WebSocket (the ``websockets`` package).

It reads in the background and keeps every message with its arrival time, so tests can
ask what arrived before or after something they did.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

STREAM_PATH = "/v1/modules/scaispeak/stream/speak"
DEADLINE_S = 30.0
"""How long any wait for the server may take before the test fails."""


@dataclass(frozen=True)
class Received:
    at: float
    audio: bytes | None = None
    event: dict[str, Any] | None = None


class StreamClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[Received] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, base_url: str, *, key: str | None = None, token: str | None = None
    ) -> AsyncIterator[StreamClient]:
        url = base_url.replace("http://", "ws://") + STREAM_PATH
        if token:
            url += f"?token={token}"
        headers = {"Authorization": f"Bearer {key}"} if key else None
        # No permessage-deflate: byte counts should be what the server sent.
        async with connect(url, additional_headers=headers, compression=None) as ws:
            client = cls(ws)
            try:
                yield client
            finally:
                client._reader.cancel()

    async def send(self, type: str, **fields: Any) -> float:
        """Send one message; returns when it was sent."""
        await self.ws.send(json.dumps({"type": type, **fields}))
        return time.perf_counter()

    async def send_tokens(self, tokens: list[str]) -> None:
        for token in tokens:
            await self.send("text", text=token)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.received if r.event is not None]

    def audio(self, since: float = 0.0, until: float = float("inf")) -> bytes:
        return b"".join(r.audio for r in self.received if r.audio and since <= r.at <= until)

    async def event(self, kind: str) -> Received:
        """The first message carrying an event of ``kind`` (waits for it)."""
        return await self._wait(lambda r: r.event is not None and r.event["type"] == kind)

    async def first_audio(self) -> Received:
        return await self._wait(lambda r: r.audio is not None)

    async def closed(self) -> int | None:
        """Wait for the server to close; returns its close code."""
        await asyncio.wait_for(asyncio.shield(self._reader), DEADLINE_S)
        return self.ws.close_code

    async def _wait(self, match: Callable[[Received], bool]) -> Received:
        async def seek() -> Received:
            while True:
                found = next((r for r in self.received if match(r)), None)
                if found is not None:
                    return found
                if self._reader.done():
                    raise AssertionError(f"connection closed first; got {self.events}")
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(seek(), DEADLINE_S)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                now = time.perf_counter()
                if isinstance(message, bytes):
                    self.received.append(Received(now, audio=message))
                else:
                    self.received.append(Received(now, event=json.loads(message)))
                self._arrived.set()
        except ConnectionClosed:
            pass
        finally:
            self._arrived.set()
