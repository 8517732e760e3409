"""Opening a stream for a caller, shared by every real-time transport.

Checks the ``start`` (voice, format, rate, speed, backend within the tenant's policy),
builds the StreamSession with budget billing, and when the session is over settles
the characters whose audio was delivered. A transport only brings its sink.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.context import PlatformContext
from scaispeak.platform.db import new_id
from scaispeak.speak.backends.dispatcher import plan_routes
from scaispeak.speak.backends.policy import load_policy
from scaispeak.speak.context import SpeakContext
from scaispeak.speak.provenance import service as provenance
from scaispeak.speak.streaming import protocol
from scaispeak.speak.streaming.billing import StreamBilling
from scaispeak.speak.streaming.permit import StreamPermit
from scaispeak.speak.streaming.session import StreamSession
from scaispeak.speak.streaming.sink import StreamSink
from scaispeak.speak.synthesis.inference import Lane
from scaispeak.speak.synthesis.service import (
    StreamParams,
    StreamSpec,
    count_voice_use,
    prepare_stream,
)

_log = logging.getLogger(__name__)


@asynccontextmanager
async def stream_session(
    platform: PlatformContext,
    speak: SpeakContext,
    principal: Principal,
    sink: StreamSink,
    *,
    transport: str,
) -> AsyncIterator[StreamSession]:
    """A running session; on exit it is closed and its delivered audio is charged."""
    settings = platform.settings
    billing = StreamBilling(
        platform.db,
        principal,
        0,
        settings.streaming.hold_chars,
        renew_every_s=settings.accounting.stream_checkpoint_s,
    )

    permit = StreamPermit(platform.db, principal)

    async def open_stream(start: protocol.StartMessage) -> StreamSpec:
        spec = await _open(platform, speak, principal, billing, start)
        permit.voice_id, permit.backend = spec.voice_id, billing.backend
        return spec

    stream_id = new_id("str")
    session = StreamSession(
        sink,
        speak.pipeline,
        settings.streaming,
        open_stream,
        stream_id=stream_id,
        transport=transport,
        coverage=billing,
        permit=permit,
        lane=Lane(principal.tenant_id, stream_id),  # its turns go with its tenant's
    )
    billing.delivered, billing.request_id = lambda: session.usage, stream_id
    try:
        async with session:
            yield session
    finally:
        await _settled(billing.settle(session.usage, session.stream_id))
        await _record_provenance(platform, principal, billing.voice_id, session)


_SETTLING: set[asyncio.Task[int]] = set()
"""Settlements that outlive a cancelled stream (held here: the loop keeps weak refs)."""


async def _settled(settlement: Coroutine[Any, Any, int]) -> None:
    """Run the stream's settlement to its end even if the stream is cancelled while it
    runs (a WebRTC hang-up cancels a session that takes 10 s to wind down, and a slow
    database is when that happens): cut off, its holds waited an hour for the sweep
    and the speech they covered went unbilled."""
    task = asyncio.ensure_future(settlement)
    _SETTLING.add(task)
    task.add_done_callback(_SETTLING.discard)
    await asyncio.shield(task)


async def _open(
    platform: PlatformContext,
    speak: SpeakContext,
    principal: Principal,
    billing: StreamBilling,
    start: protocol.StartMessage,
) -> StreamSpec:
    # A short database session: a stream must not hold a connection while it talks.
    params = StreamParams(start.voice_id, start.format, start.sample_rate, start.speed)
    async with platform.db.sessions() as session:
        voice, spec = await prepare_stream(
            session, principal, params, speak.engines, platform.settings.limits
        )
        policy = await load_policy(
            session, principal.tenant_id, speak.catalog, speak.default_backend
        )
        route = plan_routes(policy, speak.catalog, voice, start.backend)[0]
        await count_voice_use(session, principal, voice.id)
        mark = await provenance.should_watermark(
            session, platform.settings.provenance, principal.tenant_id, voice
        )
    billing.voice_id = voice.id
    billing.backend = route.backend
    prices = platform.settings.accounting.prices_micros_per_char
    billing.price_micros_per_char = prices.get(route.backend, 0)
    return replace(spec, engine=route.engine, engine_voice=route.engine_voice, watermark=mark)


async def _record_provenance(
    platform: PlatformContext, principal: Principal, voice_id: str, stream: StreamSession
) -> None:
    """One provenance record per stream that spoke: its id, voice and fingerprint."""
    made = stream.produced
    if made is None or made.duration_s == 0:
        return
    origin = provenance.ClipOrigin(
        principal.tenant_id, principal.user_id, stream.stream_id, "stream", voice_id
    )
    prints = await asyncio.to_thread(made.fingerprint)  # up to 120 s of audio: off the loop
    try:
        async with platform.db.sessions() as session:
            provenance.record_clip(
                session,
                origin,
                watermarked=made.watermarked,
                duration_s=made.duration_s,
                fingerprint=prints,
            )
            await session.commit()
    except Exception:  # the stream is over and paid for; a lost record must not hide that
        _log.exception("stream %s: recording its provenance failed", stream.stream_id)
