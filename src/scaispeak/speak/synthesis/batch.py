"""Speak a whole clip for a caller: route, limit, reserve, make (with failover), settle.

Used by the inline HTTP endpoints; every check happens before any synthesis work, and
money is held before the engine starts and settled (or released) when it ends, before
the response. What is not money (the clip's provenance record, the voice-use count) is
recorded after the response by ``record_delivery``.

A relayed clip that needs no work of ours can be passed on as it arrives instead
(``PassingResult``, synthesis/passthrough.py), and a caller that takes audio as it is
made gets each segment once spoken (synthesis/streamed.py); either is settled once it
has all arrived, before its last chunk is sent on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import Reservation
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.limits import TenantLimiter
from scaispeak.settings import Settings
from scaispeak.speak.backends.catalog import Route
from scaispeak.speak.backends.dispatcher import plan_routes
from scaispeak.speak.backends.policy import load_policy
from scaispeak.speak.context import SpeakContext
from scaispeak.speak.errors import BackendUnavailable, ServerBusy, UpstreamError
from scaispeak.speak.provenance import service as provenance
from scaispeak.speak.synthesis.abandon import unless_abandoned
from scaispeak.speak.synthesis.audio import AudioFormat
from scaispeak.speak.synthesis.inference import Lane
from scaispeak.speak.synthesis.passthrough import PassingSpeech
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.service import SpeakParams, count_voice_use, prepare_speech
from scaispeak.speak.synthesis.settlement import Keeper, assemble_and_settle
from scaispeak.speak.synthesis.speech import MadeSpeech, SpeechSpec, SpokenClip
from scaispeak.speak.synthesis.streamed import StreamedSpeech, can_stream, open_streamed
from scaispeak.speak.voices.models import Voice


@dataclass(frozen=True)
class SpokenResult:
    voice: Voice
    clip: SpokenClip
    backend: str
    cost_micros: int
    origin: provenance.ClipOrigin


_log = logging.getLogger("scaispeak.speak")


HELD_TAIL_BYTES = 960
"""What a passed-on clip keeps back until it is paid for: its last 20 ms at 24 kHz."""


class ArrivingSpeech(Protocol):
    """Speech sent on as it arrives (passthrough.PassingSpeech, streamed.StreamedSpeech)."""

    @property
    def spec(self) -> SpeechSpec: ...

    @property
    def content_type(self) -> str: ...

    @property
    def content_length(self) -> int | None:
        """The whole body's size, where it is known before it arrives."""

    @property
    def duration_s(self) -> float: ...

    @property
    def segment_count(self) -> int: ...

    @property
    def stops_unheard(self) -> bool:
        """Whether the rest is left unmade once the caller has gone."""

    def chunks(self) -> AsyncGenerator[bytes, None]: ...

    def settled(self, quoted: accounting.Charge) -> accounting.Charge:
        """The charge for what was made, once ``chunks`` has ended or been left."""

    def close(self) -> Awaitable[None]: ...

    def delivered(self) -> DeliveredClip: ...


@dataclass
class PassingResult:
    """Inline speech to be sent on as it arrives from the engine: ``deliver`` it."""

    voice: Voice
    speech: ArrivingSpeech
    origin: provenance.ClipOrigin
    sessions: async_sessionmaker[AsyncSession]
    reservation: Reservation
    charge: accounting.Charge
    held: AsyncExitStack
    """The tenant's concurrency slot, held until the clip is delivered."""

    @property
    def backend(self) -> str:
        return self.charge.backend

    @property
    def cost_micros(self) -> int:
        return self.charge.cost_micros

    async def deliver(
        self, send: Callable[[bytes], Awaitable[None]], gone: Callable[[], bool] = lambda: False
    ) -> None:
        """Send the clip on with ``send`` as it arrives, and settle its charge once all
        of it has arrived, before its last bytes go: nobody holds a whole clip unpaid.

        The engine failing part-way releases the hold (a failed request is never
        charged) and raises: the response is cut off. A caller who hangs up is charged
        for what was made: a passed-on clip in full, as a buffered one (the upstream
        makes it all); speech made segment by segment stops there, charged for the
        text spoken. So is speech made segment by segment that the server cuts off (a
        stop that outlasts its grace cancels the response): it was released, and a
        deploy gave away every long answer in flight (helper-95).
        """
        async with self.held:
            try:
                await self._send_settling(send, gone)
            except asyncio.CancelledError:
                await _shielded(self._settle_cut_off())
                raise
            except BaseException:
                await _shielded(self._release())
                raise
            finally:
                await _shielded(self.speech.close())

    async def abandon(self) -> None:
        """Nothing was sent (the response could not even start): release the hold and
        the tenant's slot, close the speech. ``deliver`` does this itself."""
        async with self.held:
            try:
                await _shielded(self._release())
            finally:
                await _shielded(self.speech.close())

    async def _send_settling(
        self, send: Callable[[bytes], Awaitable[None]], gone: Callable[[], bool]
    ) -> None:
        # Everything but a short tail goes on as it comes; the tail waits for the
        # settlement (waiting for a whole chunk would hold back a body that arrives in one).
        # Pieces of 16-bit audio are whole samples: an SSE client decodes each delta on
        # its own, and a relay's chunks come in any size.
        step = 2 if self.speech.spec.format in (AudioFormat.pcm, AudioFormat.wav) else 1
        tail = b""
        listening = True
        chunks = self.speech.chunks()
        async for chunk in chunks:
            tail += chunk
            listening = listening and not gone()
            cut = len(tail) - HELD_TAIL_BYTES
            cut -= cut % step
            if cut > 0:
                if listening:
                    listening = await _forward(send, tail[:cut])
                tail = tail[cut:]
            if not listening and self.speech.stops_unheard:
                break  # nobody hears the rest: it is not made
        await chunks.aclose()
        await self._settle()
        if tail and listening:
            await _forward(send, tail)

    async def _release(self) -> None:
        async with self.sessions() as session:
            await accounting.release(session, self.reservation)

    async def _settle_cut_off(self) -> None:
        """Charge speech made segment by segment for the text made before the cut; a
        passed-on clip, which would be charged in full, is released instead: it was
        the server that cut the caller off."""
        if not self.speech.stops_unheard:
            await self._release()
            return
        await self._settle()

    async def _settle(self) -> None:
        """Charge what was made (``speech.settled``: all of it, or the text spoken)."""
        async with self.sessions() as session:
            await accounting.settle(session, self.reservation, self.speech.settled(self.charge))

    async def record_delivery(self, caller: Principal) -> None:
        """After the response (as ``record_delivery``)."""
        delivered = self.speech.delivered()
        await record_delivery(self.sessions, caller, self.voice.id, self.origin, delivered)


async def _forward(send: Callable[[bytes], Awaitable[None]], chunk: bytes) -> bool:
    """Send ``chunk``; False when the caller has gone, where the server says so by
    raising (ASGI 2.4; uvicorn drops the bytes silently: ``deliver``'s ``gone``)."""
    try:
        await send(chunk)
    except OSError:
        return False
    return True


async def _shielded(work: Awaitable[None]) -> None:
    """Run ``work`` to the end even if the request is being cancelled meanwhile."""
    await asyncio.shield(asyncio.ensure_future(work))


async def plan_for(
    session: AsyncSession, ctx: SpeakContext, caller: Principal, voice: Voice, backend: str | None
) -> list[Route]:
    policy = await ctx.backend_policies.get(
        caller.tenant_id,
        lambda: load_policy(session, caller.tenant_id, ctx.catalog, ctx.default_backend),
    )
    return plan_routes(policy, ctx.catalog, voice, backend)


def price_for(settings: Settings, backend: str, characters: int) -> int:
    return settings.accounting.prices_micros_per_char.get(backend, 0) * characters


async def speak_clip(
    session: AsyncSession,
    ctx: SpeakContext,
    settings: Settings,
    limiter: TenantLimiter,
    caller: Principal,
    params: SpeakParams,
    *,
    max_chars: int,
    kind: str,
    request_id: str,
    timestamps: bool = False,
    passing_to: async_sessionmaker[AsyncSession] | None = None,
    keep: Keeper | None = None,
    streams: bool = False,
    abandoned: asyncio.Event | None = None,
) -> SpokenResult | PassingResult:
    """Speak ``params`` for ``caller``: a whole clip, or, where the engine's audio needs
    no work of ours and the caller can take it as it comes (``passing_to``: sessions
    for its settlement, which outlives this call), a clip to pass on; with
    ``streams`` (and ``passing_to``), speech sent segment by segment where it can be.

    ``keep`` stores the whole clip (``save_to``) before it is charged: a clip that could
    not be kept is not paid for. ``abandoned`` set (the caller hung up) stops the
    engine work and raises ``CallerGone``, unbilled."""
    voice, spec = await prepare_speech(
        session, caller, params, ctx.engines, settings.limits, max_chars=max_chars
    )
    mark = await provenance.should_watermark(
        session, settings.provenance, caller.tenant_id, voice, ctx.watermark_policies
    )
    # The request's engine calls take turns with other tenants' (inference.py).
    lane = Lane(caller.tenant_id, request_id)
    spec = replace(spec, watermark=mark, timestamps=timestamps, lane=lane)
    routes = await plan_for(session, ctx, caller, voice, params.backend)
    chars = len(params.text)
    hold = max(price_for(settings, r.backend, chars) for r in routes)
    origin = provenance.ClipOrigin(caller.tenant_id, caller.user_id, request_id, kind, voice.id)
    async with AsyncExitStack() as held:
        await held.enter_async_context(limiter.slot(caller.tenant_id))
        reservation = await accounting.reserve(session, caller, hold)
        try:
            making = make_with_failover(
                ctx.pipeline,
                spec,
                routes,
                may_pass=passing_to is not None,
                may_stream=streams and passing_to is not None,
            )
            made, route = await unless_abandoned(making, abandoned, _close_unsent)
        except BaseException:
            await accounting.release(session, reservation)
            raise
        cost = price_for(settings, route.backend, chars)
        charge = accounting.Charge(
            voice.id, route.backend, kind, chars, made.duration_s, cost, request_id
        )
        if isinstance(made, (PassingSpeech, StreamedSpeech)):
            assert passing_to is not None
            slot = held.pop_all()  # the clip is still arriving: deliver() lets the slot go
            return PassingResult(voice, made, origin, passing_to, reservation, charge, slot)
        clip = await assemble_and_settle(session, ctx.pipeline, made, reservation, charge, keep)
    return SpokenResult(voice, clip, route.backend, cost, origin)


async def _close_unsent(made: tuple[MadeSpeech | PassingSpeech | StreamedSpeech, Route]) -> None:
    """An answer opened for a caller who is gone: an upstream's body is let go."""
    speech, _route = made
    if isinstance(speech, PassingSpeech):
        await speech.close()


class DeliveredClip(Protocol):
    """What the provenance record needs of a delivered clip."""

    @property
    def duration_s(self) -> float: ...

    @property
    def watermarked(self) -> bool: ...

    def fingerprint(self) -> bytes: ...


async def record_delivery(
    sessions: async_sessionmaker[AsyncSession],
    caller: Principal,
    voice_id: str,
    origin: provenance.ClipOrigin,
    clip: DeliveredClip,
) -> None:
    """After the response: the clip's provenance record, with the fingerprint of the
    audio delivered, and the voice-use count, in one commit of a session of its own.

    Neither is money (the charge was settled before the response), so a crash before
    this runs loses only the clip's attribution and one popularity count. It never
    raises: the response has gone, there is nobody left to tell. The count is in a
    savepoint: a voice deleted since the response (its use row has nothing to point
    at) must not take the clip's record, which /detect traces it by, with it.
    """
    try:
        prints = await asyncio.to_thread(clip.fingerprint)  # up to 120 s of audio
        async with sessions() as session:
            provenance.record_clip(
                session,
                origin,
                watermarked=clip.watermarked,
                duration_s=clip.duration_s,
                fingerprint=prints,
            )
            try:
                async with session.begin_nested():
                    await count_voice_use(session, caller, voice_id, commit=False)
            except IntegrityError:
                _log.info("clip %s: its voice is gone, no use counted", origin.request_id)
            await session.commit()
    except Exception:
        _log.exception("recording delivered clip %s failed", origin.request_id)


async def make_with_failover(
    pipeline: SynthesisPipeline,
    spec: SpeechSpec,
    routes: list[Route],
    *,
    may_pass: bool,
    may_stream: bool = False,
) -> tuple[MadeSpeech | PassingSpeech | StreamedSpeech, Route]:
    """Try each route in order; only an unavailable, failing or overloaded (a full
    inference queue) backend moves on.
    ``may_pass``: a route whose audio can pass through untouched is opened instead;
    ``may_stream``: one that can be sent segment by segment is, once its first is made."""
    busy: ServerBusy | None = None
    for attempt, route in enumerate(routes):
        routed = replace(spec, engine=route.engine, engine_voice=route.engine_voice)
        try:
            if may_pass and pipeline.passes_through(routed):
                return await pipeline.open_passing(routed), route
            if may_stream and can_stream(pipeline, routed):
                return await open_streamed(pipeline, routed), route
            return await pipeline.make(routed), route
        except (BackendUnavailable, UpstreamError, ServerBusy) as exc:
            busy = exc if isinstance(exc, ServerBusy) else busy
            if attempt == len(routes) - 1:
                if busy is not None and busy is not exc:
                    # A full queue tells the caller when to come back; the failing
                    # route after it (a relay with a wrong key) would not.
                    raise busy from exc
                raise
    raise BackendUnavailable("No backend could serve the request.")
