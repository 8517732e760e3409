"""Speak a whole clip for a caller: route, limit, reserve, make (with failover), settle.

Used by the inline HTTP endpoints; every check happens before any synthesis work, and
money is held before the engine starts and settled (or released) when it ends, before
the response. What is not money (the clip's provenance record, the voice-use count) is
recorded after the response by ``record_delivery``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

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
from scaispeak.speak.errors import BackendUnavailable, UpstreamError
from scaispeak.speak.provenance import service as provenance
from scaispeak.speak.synthesis.audio import ARITHMETIC_FORMATS
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.service import SpeakParams, count_voice_use, prepare_speech
from scaispeak.speak.synthesis.speech import MadeSpeech, SpeechSpec, SpokenClip
from scaispeak.speak.voices.models import Voice


@dataclass(frozen=True)
class SpokenResult:
    voice: Voice
    clip: SpokenClip
    backend: str
    cost_micros: int
    origin: provenance.ClipOrigin


_log = logging.getLogger("scaispeak.speak")


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
) -> SpokenResult:
    voice, spec = await prepare_speech(
        session, caller, params, ctx.engines, settings.limits, max_chars=max_chars
    )
    mark = await provenance.should_watermark(
        session, settings.provenance, caller.tenant_id, voice, ctx.watermark_policies
    )
    spec = replace(spec, watermark=mark, timestamps=timestamps)
    routes = await plan_for(session, ctx, caller, voice, params.backend)
    chars = len(params.text)
    hold = max(price_for(settings, r.backend, chars) for r in routes)
    async with limiter.slot(caller.tenant_id):
        reservation = await accounting.reserve(session, caller, hold)
        try:
            made, route = await make_with_failover(ctx.pipeline, spec, routes)
        except BaseException:
            await accounting.release(session, reservation)
            raise
        cost = price_for(settings, route.backend, chars)
        charge = accounting.Charge(
            voice.id, route.backend, kind, chars, made.duration_s, cost, request_id
        )
        clip = await assemble_and_settle(session, ctx.pipeline, made, reservation, charge)
    origin = provenance.ClipOrigin(caller.tenant_id, caller.user_id, request_id, kind, voice.id)
    return SpokenResult(voice, clip, route.backend, cost, origin)


async def assemble_and_settle(
    session: AsyncSession,
    pipeline: SynthesisPipeline,
    made: MadeSpeech,
    reservation: Reservation,
    charge: accounting.Charge,
) -> SpokenClip:
    """Encode the made speech and settle its charge, before the response.

    Where encoding is plain arithmetic (pcm, wav, mu-law: it cannot fail on made
    speech), the settlement's database work runs while the clip is levelled and
    encoded in its thread (0.3–0.5 ms measured: the thread starts only when the
    settlement's Python yields the GIL; docs/benchmarks.md). A codec (mp3, opus, flac)
    can fail, and a failed request is never charged, so it encodes first.
    """
    if made.spec.format not in ARITHMETIC_FORMATS:
        try:
            clip = await pipeline.assemble(made)
        except BaseException:
            await accounting.release(session, reservation)
            raise
        await accounting.settle(session, reservation, charge)
        return clip
    # Both run to the end before anything is raised, so nothing is left running on
    # the session. A failed settlement leaves the hold to the stale-hold sweeper, as
    # a failed settlement always has.
    assembled, settled = await asyncio.gather(
        pipeline.assemble(made),
        accounting.settle(session, reservation, charge),
        return_exceptions=True,
    )
    for outcome in (settled, assembled):
        if isinstance(outcome, BaseException):
            raise outcome
    assert isinstance(assembled, SpokenClip)
    return assembled


async def record_delivery(
    sessions: async_sessionmaker[AsyncSession], caller: Principal, result: SpokenResult
) -> None:
    """After the response: the clip's provenance record, with the fingerprint of the
    audio delivered, and the voice-use count, in one commit of a session of its own.

    Neither is money (the charge was settled before the response), so a crash before
    this runs loses only the clip's attribution and one popularity count. It never
    raises: the response has gone, there is nobody left to tell.
    """
    clip = result.clip
    try:
        prints = await asyncio.to_thread(clip.fingerprint)  # up to 120 s of audio
        async with sessions() as session:
            await count_voice_use(session, caller, result.voice.id, commit=False)
            provenance.record_clip(
                session,
                result.origin,
                watermarked=clip.watermarked,
                duration_s=clip.duration_s,
                fingerprint=prints,
            )
            await session.commit()
    except Exception:
        _log.exception("recording delivered clip %s failed", result.origin.request_id)


async def make_with_failover(
    pipeline: SynthesisPipeline, spec: SpeechSpec, routes: list[Route]
) -> tuple[MadeSpeech, Route]:
    """Try each route in order; only an unavailable or failing backend moves on."""
    for attempt, route in enumerate(routes):
        routed = replace(spec, engine=route.engine, engine_voice=route.engine_voice)
        try:
            return await pipeline.make(routed), route
        except (BackendUnavailable, UpstreamError):
            if attempt == len(routes) - 1:
                raise
    raise BackendUnavailable("No backend could serve the request.")
