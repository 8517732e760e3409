"""WebSocket /voices/clone/live: moves messages between a socket and a LiveIntake.

Authenticates like the streaming socket (``Authorization: Bearer`` or ``?token=``).
Text messages are JSON (``start``, ``done``, ``retry``); binary messages are audio.
Errors are ``error`` events; a fatal one (bad credentials) closes with 4000 + status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from scaispeak.platform.deps import connection_principal, platform_context
from scaispeak.platform.errors import BadRequest, ServiceError
from scaispeak.platform.limits import TenantLimiter
from scaispeak.speak.context import speak_context
from scaispeak.speak.streaming.protocol import IdleTimeout, shortened
from scaispeak.speak.transports.websocket import CLOSE_TIMEOUT_S, close_quietly
from scaispeak.speak.voices.errors import ChallengeLapsed
from scaispeak.speak.voices.live_intake import LiveIntake, StartMessage, Step
from scaispeak.speak.voices.runtime import voices_runtime

router = APIRouter(prefix="/v1/modules/scaispeak", tags=["voices"])
_log = logging.getLogger(__name__)


@router.websocket("/voices/clone/live")
async def clone_live(websocket: WebSocket) -> None:
    """An intake holds one of the tenant's stream slots (``max_streams_per_tenant``, as a
    speech stream does) and ends after ``idle_timeout_seconds`` without a message: each
    holds its recordings in memory until it ends."""
    await websocket.accept()
    streaming = platform_context(websocket).settings.streaming
    try:
        principal = await connection_principal(websocket)
        async with speak_context(websocket).streams.hold(
            principal.tenant_id, streaming.max_streams_per_tenant
        ):
            live = LiveIntake(
                voices_runtime(websocket), principal, platform_context(websocket).db.sessions
            )
            limiter = platform_context(websocket).limiter
            await _converse(websocket, live, limiter, streaming.idle_timeout_seconds)
    except ServiceError as exc:
        await _send(websocket, _error(exc, fatal=True))
        await close_quietly(websocket, 4000 + exc.status)
        return
    except WebSocketDisconnect:
        return
    except Exception:
        _log.exception("live intake failed")
        await _send(websocket, _error(ServiceError("Unexpected error."), fatal=True))
        await close_quietly(websocket, 4500)  # 4000 + status, as every fatal error (and streams)
        return
    await close_quietly(websocket, 1000)


async def _converse(
    websocket: WebSocket, live: LiveIntake, limiter: TenantLimiter, idle_s: float
) -> None:
    """Until the voice is created; returns early when the client leaves."""
    while live.step is not Step.finished:
        try:
            message = await asyncio.wait_for(websocket.receive(), idle_s)
        except TimeoutError:
            raise IdleTimeout(f"No message for {idle_s:g} s; the intake has ended.") from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect
        for event in await _handle(live, limiter, message):
            if not await _send(websocket, event, timeout_s=idle_s):
                raise WebSocketDisconnect  # a client that stopped reading is gone too


async def _handle(
    live: LiveIntake, limiter: TenantLimiter, message: Mapping[str, Any]
) -> list[dict[str, Any]]:
    try:
        if message.get("bytes") is not None:
            live.add_audio(message["bytes"])
            return []
        # Each command counts as a request of the tenant's: an intake that kept starting
        # over wrote audit entries (a challenge, then each take) as fast as it could send.
        async with limiter.slot(live.principal.tenant_id):
            return await _command(live, message.get("text") or "")
    except ChallengeLapsed:
        raise  # the intake cannot finish: a fatal error, and the socket closes
    except ServiceError as exc:
        return [_error(exc, fatal=False)]


async def _command(live: LiveIntake, text: str) -> list[dict[str, Any]]:
    try:
        body = json.loads(text)
        kind = body.get("type")
    except (ValueError, AttributeError, RecursionError) as exc:
        # RecursionError: JSON nested 100,000 deep, which ended the intake as a 500.
        raise BadRequest("Send JSON text messages: start, done or retry.") from exc
    if kind == "start":
        try:
            start = StartMessage.model_validate(body)
        except ValidationError as exc:
            raise BadRequest(f"Invalid start message: {exc.errors()[0]['msg']}") from exc
        return await live.begin(start)
    if kind == "done":
        return await live.finish_step()
    if kind == "retry":
        return live.retry()
    # Shortened: a 3 MB type was echoed whole, to a client that may not be reading.
    raise BadRequest(f"Unknown message type {shortened(repr(kind))}; use start, done or retry.")


def _error(exc: ServiceError, *, fatal: bool) -> dict[str, Any]:
    return {
        "type": "error",
        "code": exc.code,
        "status": exc.status,
        "detail": exc.detail,
        "fatal": fatal,
        **exc.extra,
    }


async def _send(
    websocket: WebSocket, event: dict[str, Any], timeout_s: float = CLOSE_TIMEOUT_S
) -> bool:
    """Whether the event went out within ``timeout_s``: a client that stops reading held
    the intake, its slot and its recordings until the kernel gave up (120 s)."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
        async with asyncio.timeout(timeout_s):
            await websocket.send_text(json.dumps(event))
        return True
    return False
