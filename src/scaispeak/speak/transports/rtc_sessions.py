"""The WebRTC sessions a process holds, and the conversation each one runs.

A session outlives the POST that opened it: a task per session moves data channel
messages into its StreamSession until the stream ends, the peer leaves, the client
DELETEs it, or its peer never connects. Then the peer is closed and (through
``stream_session``) the delivered audio is charged. All are ended on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from scaispeak.platform.auth.models import Role
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.errors import NotFound, ServiceError
from scaispeak.speak.errors import UnsupportedFormat, UnsupportedSampleRate
from scaispeak.speak.streaming import protocol
from scaispeak.speak.streaming.session import StreamSession
from scaispeak.speak.transports.rtc_peer import RATE, RtcPeer, RtcSink

DRAIN_S = 2.0
"""At most this long for the last audio to play and the last events to leave."""
END_WAIT_S = 10.0
"""A hung-up session that takes longer to wind down is cancelled."""

_log = logging.getLogger(__name__)


@dataclass
class RtcStream:
    id: str
    tenant_id: str
    user_id: str
    peer: RtcPeer
    slot: AsyncExitStack
    """Holds the tenant's stream slot until the session is over."""
    hang_up: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


def _may_reach(caller: Principal, stream: RtcStream) -> bool:
    if stream.tenant_id != caller.tenant_id:
        return False
    return caller.role is not Role.member or stream.user_id == caller.user_id


class RtcSessions:
    """Open sessions by id. A member finds only their own sessions, a tenant admin every
    session of the tenant (as with jobs): anyone else's id is not found."""

    def __init__(self) -> None:
        self._open: dict[str, RtcStream] = {}

    def __len__(self) -> int:
        return len(self._open)

    def start(self, stream: RtcStream, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` (the conversation) for ``stream``; forgotten once it ends."""
        self._open[stream.id] = stream
        stream.task = asyncio.create_task(work, name=f"webrtc-{stream.id}")
        stream.task.add_done_callback(lambda task: self._ended(stream, task))

    def _ended(self, stream: RtcStream, task: asyncio.Task[None]) -> None:
        """Forget the session; log its failure if it ended by itself (``end`` logs those
        it hangs up). Unread, the error would surface only as asyncio's "exception was
        never retrieved" at garbage collection, without the session's id."""
        self._open.pop(stream.id, None)
        if task.cancelled() or stream.hang_up.is_set():
            return
        failure = task.exception()
        if failure is not None:
            _log.error("WebRTC session %s failed", stream.id, exc_info=failure)

    def find(self, session_id: str, caller: Principal) -> RtcStream:
        stream = self._open.get(session_id)
        if stream is None or not _may_reach(caller, stream):
            raise NotFound("No such WebRTC session.")
        return stream

    async def end(self, stream: RtcStream) -> None:
        """Hang up and wait until the session is over (cancelled if it lingers).

        The session failing as it winds down (its settlement, the peer's close) is
        logged, not raised: the hang-up happened, and the DELETE or the shutdown that
        asked for it goes on."""
        stream.hang_up.set()
        if stream.task is None:
            return
        done, _ = await asyncio.wait({stream.task}, timeout=END_WAIT_S)
        if not done:
            stream.task.cancel()
        [outcome] = await asyncio.gather(stream.task, return_exceptions=True)
        if isinstance(outcome, Exception):
            _log.error("WebRTC session %s failed as it ended", stream.id, exc_info=outcome)

    async def close_all(self) -> None:
        """Shutdown: end every session at once."""
        await asyncio.gather(*(self.end(s) for s in list(self._open.values())))


async def converse(
    stream: RtcStream, session: StreamSession, start: str | None, connect_timeout: float
) -> None:
    """Feed the session until it closes, the peer leaves or never connects, or a hang-up."""
    peer = stream.peer
    if start is not None:
        await session.receive(start)
    tasks = {
        asyncio.ensure_future(_read(peer, session)),
        asyncio.ensure_future(session.wait_closed()),
        asyncio.ensure_future(_await_peer(peer, connect_timeout)),
        asyncio.ensure_future(stream.hang_up.wait()),
    }
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def close_peer(peer: RtcPeer, *, finished: bool) -> None:
    """Close the peer; after a finished stream, first let the queued audio play out."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_S):
            if finished:
                await peer.playout.drained()
            await peer.flushed()  # the last event (done, or a fatal error) is not lost
    await peer.close()


async def _read(peer: RtcPeer, session: StreamSession) -> None:
    sink = RtcSink(peer)
    while (raw := await peer.receive()) is not None:
        try:
            message, cancel = _for_track(raw)
        except ServiceError as exc:
            await sink.send_event(protocol.error_event(exc, fatal=False))
            continue
        # A cancel silences the track at once, before the session has even seen it.
        with peer.playout.silenced() if cancel else contextlib.nullcontext():
            await session.receive(message)


async def _await_peer(peer: RtcPeer, connect_within: float) -> None:
    """Returns if the peer does not open its data channel in time, or once it is gone."""
    try:
        await asyncio.wait_for(peer.opened.wait(), connect_within)
    except TimeoutError:
        _log.info("a WebRTC peer did not connect in %g s; closing its session", connect_within)
        return
    await peer.gone.wait()


def _for_track(raw: str | bytes) -> tuple[str | bytes, bool]:
    """A client message as the session should see it, and whether it is a ``cancel``.

    A ``start`` asks for what the track carries, 48 kHz PCM, which aiortc encodes.
    Everything else, malformed messages included, is the session's to judge.
    """
    try:
        message = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):  # the session answers it as malformed
        return raw, False
    if not isinstance(message, dict) or message.get("type") != "start":
        return raw, isinstance(message, dict) and message.get("type") == "cancel"
    if message.setdefault("format", "pcm") != "pcm":
        raise UnsupportedFormat("Over WebRTC the audio is the track's Opus; omit 'format'.")
    if message.setdefault("sample_rate", RATE) != RATE:
        raise UnsupportedSampleRate(f"Over WebRTC the track runs at {RATE} Hz; omit it.")
    return json.dumps(message), False
