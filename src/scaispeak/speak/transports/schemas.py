"""Bodies of the module's HTTP endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from scaispeak.speak.voices.models import VoiceScope, VoiceStatus


class SpeakRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="What to say. Limits: docs/configuration.md.")
    voice_id: str = Field(description="A voice id from GET /voices (or an engine voice name).")
    format: str = Field("wav", description="wav, pcm (s16le), mp3, opus (ogg), flac, mulaw.")
    sample_rate: int | None = Field(None, description="Output rate; default depends on format.")
    speed: float = Field(1.0, description="Speaking rate; 1.0 is the voice's natural pace.")


class LicenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    licensor: str
    terms: str
    engine_licence: str
    voice_licence: str
    source: str
    valid_from: datetime | None
    valid_until: datetime | None


class VoiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    scope: VoiceScope
    name: str
    description: str
    language: str
    tags: list[str]
    engine: str
    status: VoiceStatus
    status_reason: str
    usage_count: int
    licence: LicenceOut | None
    created_at: datetime


class VoicePageOut(BaseModel):
    items: list[VoiceOut]
    next_cursor: str | None


class OpenAISpeechRequest(BaseModel):
    """OpenAI's ``/v1/audio/speech`` body; unknown fields are ignored like OpenAI does."""

    model: str = Field(description="Accepted for compatibility; the voice picks the engine.")
    input: str
    voice: str
    response_format: str = "mp3"
    speed: float = 1.0
    instructions: str | None = Field(None, description="Ignored: our engines take none.")
