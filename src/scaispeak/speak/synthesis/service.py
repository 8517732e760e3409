"""Turning a caller's speak request into a checked SpeechSpec (no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import utcnow
from scaispeak.settings import Limits
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.errors import (
    EmptyText,
    InvalidSpeed,
    TextTooLong,
    UnsupportedFormat,
    UnsupportedSampleRate,
    VoiceLicenceExpired,
    VoiceUnavailable,
)
from scaispeak.speak.synthesis import audio
from scaispeak.speak.synthesis.pipeline import SpeechSpec
from scaispeak.speak.voices.library import find_voice
from scaispeak.speak.voices.models import Voice, VoiceStatus


@dataclass(frozen=True)
class SpeakParams:
    text: str
    voice: str
    format: str = "wav"
    sample_rate: int | None = None
    speed: float = 1.0


def check_text(text: str, max_chars: int) -> None:
    if not text.strip():
        raise EmptyText("There is no text to speak.")
    if len(text) > max_chars:
        raise TextTooLong(
            f"The text has {len(text)} characters; the limit here is {max_chars}.",
            limit=max_chars,
        )


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
    if requested is not None and requested not in limits.sample_rates:
        raise UnsupportedSampleRate(
            f"Sample rate {requested} is not offered; use one of {list(limits.sample_rates)}."
        )
    try:
        audio.validate_sample_rate(fmt, rate)
    except audio.UnsupportedSampleRate as exc:
        raise UnsupportedSampleRate(str(exc)) from exc
    return rate


def check_speed(speed: float, limits: Limits) -> None:
    if not limits.min_speed <= speed <= limits.max_speed:
        raise InvalidSpeed(f"Speed must be between {limits.min_speed} and {limits.max_speed}.")


def ensure_usable(voice: Voice) -> None:
    """A voice may speak only when ready and, for global voices, while licensed."""
    if voice.status is not VoiceStatus.ready:
        raise VoiceUnavailable(f"Voice {voice.id} is {voice.status.value}: {voice.status_reason}")
    if voice.licence is not None and not voice.licence.is_valid_at(utcnow()):
        raise VoiceLicenceExpired(f"The licence for voice {voice.id} is not valid now.")


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
    fmt = parse_format(params.format)
    check_speed(params.speed, limits)
    voice = await find_voice(session, principal, params.voice)
    ensure_usable(voice)
    engine_rate = engines.get(voice.engine).sample_rate
    rate = choose_sample_rate(fmt, params.sample_rate, engine_rate, limits)
    spec = SpeechSpec(params.text, voice.engine, voice.engine_voice, fmt, rate, params.speed)
    return voice, spec


async def count_voice_use(session: AsyncSession, voice_id: str) -> None:
    # An atomic UPDATE, so concurrent requests never lose an increment.
    await session.execute(
        update(Voice).where(Voice.id == voice_id).values(usage_count=Voice.usage_count + 1)
    )
    await session.commit()
