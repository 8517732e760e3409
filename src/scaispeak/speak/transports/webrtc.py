"""WebRTC /stream/speak/webrtc/sessions: a thin adapter between a peer and a StreamSession.

POST an SDP offer (the client receives audio and opens a data channel), get the answer
and a session id. Speech leaves as an Opus track paced in real time; the data channel
carries the WebSocket's JSON protocol (docs/streaming.md). ``DELETE`` hangs up. The
demo page that uses all this is served here too.
"""

from __future__ import annotations

import json
import logging
from contextlib import AsyncExitStack
from importlib import resources
from typing import Annotated, Literal

from aiortc.exceptions import InternalError, InvalidAccessError
from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.context import PlatformContext
from scaispeak.platform.db import new_id
from scaispeak.platform.deps import Caller, platform_context
from scaispeak.platform.errors import ServiceError
from scaispeak.speak.context import SpeakContext, speak_context
from scaispeak.speak.streaming import protocol
from scaispeak.speak.streaming.setup import stream_session
from scaispeak.speak.transports.rtc_peer import RATE, RtcPeer, RtcSink
from scaispeak.speak.transports.rtc_sessions import RtcSessions, RtcStream, close_peer, converse

router = APIRouter(prefix="/v1/modules/scaispeak/stream", tags=["scaispeak"])
_log = logging.getLogger(__name__)


class InvalidOffer(ServiceError):
    """The SDP offer is unreadable, or lacks the audio it receives or the data channel."""

    status, code, title = 422, "invalid_offer", "Invalid WebRTC offer"


class RtcOffer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(min_length=1, max_length=100_000)
    type: Literal["offer"]
    voice_id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Start the stream at once (an implicit `start`); "
        "without it, send `start` on the data channel.",
    )
    speed: float = Field(1.0, strict=True)
    backend: str | None = None


class RtcAnswer(BaseModel):
    session_id: str
    sdp: str
    type: Literal["answer"] = "answer"


def rtc_sessions(conn: HTTPConnection) -> RtcSessions:
    sessions: RtcSessions = conn.app.state.webrtc_sessions
    return sessions


@router.post("/speak/webrtc/sessions", status_code=status.HTTP_201_CREATED)
async def open_webrtc_session(body: RtcOffer, caller: Caller, request: Request) -> RtcAnswer:
    """Answer an offer; the session runs until the stream ends, a hang-up, or a timeout."""
    platform, speak = platform_context(request), speak_context(request)
    slot = AsyncExitStack()
    cap = platform.settings.streaming.max_streams_per_tenant
    await slot.enter_async_context(speak.streams.hold(caller.tenant_id, cap))  # 429 first
    peer = RtcPeer(platform.settings.webrtc)
    try:
        sdp = await peer.answer(body.sdp)
    except BaseException as exc:
        try:
            await _close_half_built(peer)
        finally:
            await slot.aclose()
        if isinstance(exc, Exception):  # not a cancellation: the offer is what failed
            raise _refused(exc) from None
        raise
    stream = RtcStream(new_id("rtc"), caller.tenant_id, caller.user_id, peer, slot)
    start = _implicit_start(body)
    rtc_sessions(request).start(stream, _run(stream, platform, speak, caller, start))
    return RtcAnswer(session_id=stream.id, sdp=sdp)


@router.delete(
    "/speak/webrtc/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def end_webrtc_session(
    session_id: Annotated[str, Path(max_length=64)], caller: Caller, request: Request
) -> None:
    """Hang up at once (unsaid text is dropped, as on a disconnect)."""
    sessions = rtc_sessions(request)
    await sessions.end(sessions.find(session_id, caller))


@router.get("/demo", response_class=HTMLResponse, include_in_schema=False)
async def stream_demo() -> HTMLResponse:
    """A page that speaks typed text over WebRTC, with a barge-in button."""
    page = resources.files("scaispeak").joinpath("static/stream-demo.html")
    return HTMLResponse(page.read_text(encoding="utf-8"))


async def _close_half_built(peer: RtcPeer) -> None:
    """Close a peer whose offer failed. aiortc may fail closing it too (an offer whose
    BUNDLE names unknown media left it half set up: AttributeError), which answered
    500 instead of the offer's 422, and nothing is left to do about it but log it."""
    try:
        await peer.close()
    except Exception:
        _log.info("closing a WebRTC peer whose offer failed failed too", exc_info=True)


def _refused(exc: Exception) -> InvalidOffer:
    """The refusal of an offer aiortc failed on. Its SDP parser raises ValueError, but
    also bare AssertionErrors (a candidate or an ``m=`` line cut short): the offer is to
    blame either way. Kinds we do not expect are logged, in case the fault is ours."""
    if not isinstance(exc, ValueError | InvalidAccessError | InternalError):
        _log.warning("a WebRTC offer failed with %r; refused as invalid", exc, exc_info=exc)
    return InvalidOffer(f"The offer was refused: {str(exc) or type(exc).__name__}")


def _implicit_start(body: RtcOffer) -> str | None:
    if body.voice_id is None:
        return None
    start = {"type": "start", "voice_id": body.voice_id, "speed": body.speed}
    if body.backend is not None:
        start["backend"] = body.backend
    return json.dumps({**start, "format": "pcm", "sample_rate": RATE})


async def _run(
    stream: RtcStream,
    platform: PlatformContext,
    speak: SpeakContext,
    principal: Principal,
    start: str | None,
) -> None:
    """One session from answer to hang-up; the peer and the stream slot are always freed."""
    timeout = platform.settings.webrtc.connect_timeout_seconds
    finished = False
    async with stream.slot:
        try:
            sink = RtcSink(stream.peer)
            async with stream_session(
                platform, speak, principal, sink, transport="webrtc"
            ) as session:
                await converse(stream, session, start, timeout)
            finished = session.close_code == protocol.NORMAL_CLOSE
        finally:
            await close_peer(stream.peer, finished=finished)
