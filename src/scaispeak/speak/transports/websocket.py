"""WebSocket /stream/speak: a thin adapter between a socket and a StreamSession.

The route authenticates (``Authorization: Bearer`` or ``?token=``), holds one of the
tenant's stream slots, and then only moves messages: client text messages into the
session, the session's audio (binary) and events (JSON text) out. Everything else is
the session's (docs/streaming.md). The socket is accepted before any check, so a
refusal reaches the client as an ``error`` event and a 4000 + status close code.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.context import PlatformContext
from scaispeak.platform.deps import connection_principal, platform_context
from scaispeak.platform.errors import ServiceError
from scaispeak.speak.context import SpeakContext, speak_context
from scaispeak.speak.streaming import protocol
from scaispeak.speak.streaming.session import StreamSession
from scaispeak.speak.streaming.setup import stream_session
from scaispeak.speak.streaming.sink import SinkClosed

router = APIRouter(prefix="/v1/modules/scaispeak", tags=["scaispeak"])


class WebSocketSink:
    """Audio as binary messages, events as JSON text; a closed socket is SinkClosed."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def send_audio(self, data: bytes) -> None:
        try:
            await self._websocket.send_bytes(data)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise SinkClosed from exc

    async def send_event(self, event: dict[str, Any]) -> None:
        try:
            await self._websocket.send_text(json.dumps(event))
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise SinkClosed from exc


@router.websocket("/stream/speak")
async def stream_speak(websocket: WebSocket) -> None:
    await websocket.accept()
    platform, speak = platform_context(websocket), speak_context(websocket)
    sink = WebSocketSink(websocket)
    try:
        principal = await connection_principal(websocket)
        cap = platform.settings.streaming.max_streams_per_tenant
        async with speak.streams.hold(principal.tenant_id, cap):
            code = await _serve(websocket, sink, platform, speak, principal)
    except ServiceError as exc:
        code = protocol.close_code(exc)
        try:
            await sink.send_event(protocol.error_event(exc, fatal=True))
        except SinkClosed:
            return
    await close_quietly(websocket, code)


async def close_quietly(websocket: WebSocket, code: int) -> None:
    """Close, if still connected. The client may leave while we close; there is nobody
    left to tell. A client that stopped reading with the socket's buffer full never
    lets the close out: unbounded, the handler waited on it for good (helper-66)."""
    if websocket.client_state is WebSocketState.CONNECTED:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await websocket.close(code)


async def _serve(
    websocket: WebSocket,
    sink: WebSocketSink,
    platform: PlatformContext,
    speak: SpeakContext,
    principal: Principal,
) -> int:
    """Run one session until it closes or the client leaves; returns the close code."""
    async with stream_session(platform, speak, principal, sink, transport="websocket") as session:
        reader = asyncio.create_task(_read(websocket, session))
        closed = asyncio.create_task(session.wait_closed())
        try:
            await asyncio.wait({reader, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, closed):
                task.cancel()
            await asyncio.gather(reader, closed, return_exceptions=True)
    return session.close_code


CLOSE_TIMEOUT_S = 5.0
READS_BETWEEN_YIELDS = 100
"""uvicorn parses a whole network read into its queue at once, and taking a queued
message never suspends: one client's burst of 20,000 tiny messages held the event loop
for 0.8 s (every other stream's pacing with it), and piled its replies past the
outbox's bound before the sender could run (helper-66)."""


async def _read(websocket: WebSocket, session: StreamSession) -> None:
    """Hand client messages to the session until the client disconnects."""
    for count in itertools.count(1):
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text, data = message.get("text"), message.get("bytes")
        await session.receive(text if text is not None else data or b"")
        if count % READS_BETWEEN_YIELDS == 0:
            await asyncio.sleep(0)  # let the loop's other work, this stream's sender too, run
