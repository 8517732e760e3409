"""Turning a caller's speak request into a checked SpeechSpec (no HTTP here)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import utcnow
from scaispeak.settings import Limits
from scaispeak.speak.engines.base import AsyncEngine, Engine
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.errors import (
    EmptyText,
    InvalidSpeed,
    InvalidText,
    TextTooLong,
    UnsupportedFormat,
    UnsupportedSampleRate,
    VoiceLicenceExpired,
    VoiceUnavailable,
)
from scaispeak.speak.synthesis import audio
from scaispeak.speak.synthesis.speech import SpeechSpec
from scaispeak.speak.synthesis.text.speakable import (
    has_letter,
    has_lone_surrogate,
    has_words,
)
from scaispeak.speak.synthesis.text.tags import spoken_text
from scaispeak.speak.voices.library import find_voice, record_use
from scaispeak.speak.voices.lifecycle import can_rebuild, mark_for_rebuild
from scaispeak.speak.voices.models import CLONE_ENGINE, Voice, VoiceScope, VoiceStatus


@dataclass(frozen=True)
class SpeakParams:
    text: str
    voice: str
    format: str = "wav"
    sample_rate: int | None = None
    speed: float = 1.0
    backend: str | None = None


def check_text(text: str, max_chars: int) -> None:
    if not text.strip():
        raise EmptyText("There is no text to speak.")
    if has_lone_surrogate(text):
        raise InvalidText(LONE_SURROGATE)
    if len(text) > max_chars:
        raise TextTooLong(
            f"The text has {len(text)} characters; the limit here is {max_chars}.",
            limit=max_chars,
        )


LONE_SURROGATE = (
    "The text holds half of a UTF-16 surrogate pair (an escape such as \\ud83c without "
    "its partner): send whole characters."
)


def check_speakable(text: str) -> None:
    """Refuse a text the voice would answer with silence (only emoji, symbols, markup):
    a 200 with empty audio looks like a broken voice to the caller."""
    if not has_words(spoken_text(text)):
        raise EmptyText(
            "The text has nothing to read aloud: emoji, symbols, markup and scripts the "
            "voices do not read (Chinese, Japanese, Korean, Arabic, Hebrew...) are not spoken."
        )


async def check_speakable_off_loop(text: str) -> None:
    """``check_speakable``; a text without letters is normalised whole to decide, which
    takes seconds at a job's size, so that runs in a thread. Tags ("<speak></speak>")
    have letters and say nothing: they are read first."""
    if "<" in text or not has_letter(text):
        await asyncio.to_thread(check_speakable, text)


def parse_format(name: str) -> audio.AudioFormat:
    try:
        return audio.AudioFormat(name.lower())
    except ValueError:
        allowed = ", ".join(f.value for f in audio.AudioFormat)
        raise UnsupportedFormat(f"Unknown format {name!r}; use one of: {allowed}.") from None


def choose_sample_rate(
    fmt: audio.AudioFormat, requested: int | None, engine_rate: int, limits: Limits
) -> int:
    rate = requested or audio.default_sample_rate(fmt, engine_rate)
    if requested is not None:
        usable = _rates_for(fmt, limits)
        if requested not in usable:
            raise UnsupportedSampleRate(
                f"{fmt.value} at {requested} Hz is not offered; use one of {usable}."
            )
    try:
        audio.validate_sample_rate(fmt, rate)
    except audio.UnsupportedSampleRate as exc:
        raise UnsupportedSampleRate(str(exc)) from exc
    return rate


def _rates_for(fmt: audio.AudioFormat, limits: Limits) -> list[int]:
    """The offered rates ``fmt`` can carry: an error listing a rate that is then refused
    (opus at 12000 Hz, offered but not one of Opus's) sends a client round in circles."""
    usable = []
    for rate in limits.sample_rates:
        try:
            audio.validate_sample_rate(fmt, rate)
        except audio.UnsupportedSampleRate:
            continue
        usable.append(rate)
    return usable


def check_speed(speed: float, limits: Limits) -> None:
    if not limits.min_speed <= speed <= limits.max_speed:
        raise InvalidSpeed(f"Speed must be between {limits.min_speed} and {limits.max_speed}.")


VOICE_BUILD_RETRY_S = 5
"""Retry-After for a voice still being built (a clone is ready within a minute)."""


def ensure_usable(voice: Voice) -> None:
    """A voice may speak only when ready and, for global voices, while licensed."""
    if voice.status is not VoiceStatus.ready:
        error = VoiceUnavailable(f"Voice {voice.id} is {voice.status.value}: {voice.status_reason}")
        if voice.status is VoiceStatus.processing:  # being built: ready within a minute
            error.come_back_in(VOICE_BUILD_RETRY_S)
        raise error
    if voice.licence is not None and not voice.licence.is_valid_at(utcnow()):
        raise VoiceLicenceExpired(f"The licence for voice {voice.id} is not valid now.")
    _refuse_a_global_clone(voice)


def _refuse_a_global_clone(voice: Voice) -> None:
    if voice.scope is VoiceScope.global_ and voice.engine == CLONE_ENGINE:
        # Made before global voices refused the clone engine (licences.py): it would
        # speak a tenant's cloned voice for every tenant, past its consent and scope.
        raise VoiceUnavailable(f"Voice {voice.id} is a global voice on a cloned voice.")


async def use_voice(session: AsyncSession, principal: Principal, voice: Voice) -> None:
    """``ensure_usable``; an evicted voice is queued for rebuilding from its reference
    (the builder picks it up) and answers 409 with Retry-After until it is ready again.

    The use itself is recorded by ``count_voice_use`` once speech was made (for inline
    speech, after the response: ``batch.record_delivery``): a write here would hold
    SQLite's write lock for the whole synthesis and serialise every request.
    """
    _refuse_a_global_clone(voice)  # before a rebuild is queued for it
    if voice.status is VoiceStatus.evicted and can_rebuild(voice):
        queued = await mark_for_rebuild(session, voice)
        await session.commit()
        if queued:
            error = VoiceUnavailable(f"Voice {voice.id} is being rebuilt; try again shortly.")
            error.come_back_in(30)
            raise error
    ensure_usable(voice)  # also what a revocation that won the race left


async def prepare_speech(
    session: AsyncSession,
    principal: Principal,
    params: SpeakParams,
    engines: EngineRegistry,
    limits: Limits,
    *,
    max_chars: int,
) -> tuple[Voice, SpeechSpec]:
    """Validate everything before any synthesis work starts."""
    check_text(params.text, max_chars)
    await check_speakable_off_loop(params.text)
    fmt = parse_format(params.format)
    check_speed(params.speed, limits)
    voice = await find_voice(session, principal, params.voice, serves=engines.runs)
    await use_voice(session, principal, voice)
    engine_rate = _engine_of(engines, voice).sample_rate
    rate = choose_sample_rate(fmt, params.sample_rate, engine_rate, limits)
    spec = SpeechSpec(params.text, voice.engine, voice.engine_voice, fmt, rate, params.speed)
    return voice, spec


def _engine_of(engines: EngineRegistry, voice: Voice) -> Engine | AsyncEngine:
    """The engine that speaks ``voice``; 409 where it does not run here (a voice seeded
    when its engine was enabled outlives it), which was a 500."""
    if not engines.runs(voice.engine):
        raise VoiceUnavailable(
            f"The voice {voice.id!r} is not served here: its engine ({voice.engine}) "
            "is not running."
        )
    return engines.get(voice.engine)


STREAM_FORMATS = (
    audio.AudioFormat.pcm,
    audio.AudioFormat.opus,
    audio.AudioFormat.mp3,
    audio.AudioFormat.mulaw,
)
"""Formats a real-time stream offers: each can be cut into frames as audio arrives."""


@dataclass(frozen=True)
class StreamParams:
    voice: str
    format: str = "pcm"
    sample_rate: int | None = None
    speed: float = 1.0


@dataclass(frozen=True)
class StreamSpec:
    """A stream's checked voice and audio shape; its text arrives later, piece by piece."""

    voice_id: str
    engine: str
    engine_voice: str
    format: audio.AudioFormat
    sample_rate: int
    speed: float = 1.0
    watermark: bool = False
    """Embed the provenance watermark (provenance.service decides)."""


async def prepare_stream(
    session: AsyncSession,
    principal: Principal,
    params: StreamParams,
    engines: EngineRegistry,
    limits: Limits,
) -> tuple[Voice, StreamSpec]:
    """The checks of ``prepare_speech`` for a stream, before it may start."""
    fmt = parse_format(params.format)
    if fmt not in STREAM_FORMATS:
        allowed = ", ".join(f.value for f in STREAM_FORMATS)
        raise UnsupportedFormat(f"{fmt.value} cannot be streamed; use one of: {allowed}.")
    check_speed(params.speed, limits)
    voice = await find_voice(session, principal, params.voice, serves=engines.runs)
    await use_voice(session, principal, voice)
    engine_rate = _engine_of(engines, voice).sample_rate
    rate = choose_sample_rate(fmt, params.sample_rate, engine_rate, limits)
    spec = StreamSpec(voice.id, voice.engine, voice.engine_voice, fmt, rate, params.speed)
    return voice, spec


async def count_voice_use(
    session: AsyncSession, principal: Principal, voice_id: str, *, commit: bool = True
) -> None:
    """Count a use (popularity in the caller's tenant) and remember the caller used it
    (their "recent" ranking): library.record_use. ``commit=False`` leaves it to the
    caller's next commit (one write, not two).
    """
    await record_use(session, principal, voice_id)
    if commit:
        await session.commit()
