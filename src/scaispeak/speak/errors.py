"""Errors of the ScaiSpeak module (mapped to problem+json by the platform handler)."""

from __future__ import annotations

from scaispeak.platform.errors import BadRequest, NotFound, PayloadTooLarge, ServiceError


class UnknownVoice(NotFound):
    """No voice with that id or name is visible to the caller."""

    code, title = "unknown_voice", "Unknown voice"


class VoiceUnavailable(ServiceError):
    """The voice exists but cannot speak now (still processing, failed, evicted)."""

    status, code, title = 409, "voice_unavailable", "Voice not ready"


class VoiceLicenceExpired(ServiceError):
    """A global voice whose licence window is closed may not be used."""

    status, code, title = 451, "voice_licence_expired", "Voice licence not valid"


class EmptyText(ServiceError):
    status, code, title = 422, "empty_text", "Text is empty"


class TextTooLong(PayloadTooLarge):
    code, title = "text_too_long", "Text too long"


class UnsupportedFormat(ServiceError):
    status, code, title = 422, "unsupported_format", "Unsupported audio format"


class UnsupportedSampleRate(ServiceError):
    status, code, title = 422, "unsupported_sample_rate", "Unsupported sample rate"


class InvalidSpeed(ServiceError):
    status, code, title = 422, "invalid_speed", "Speed out of range"


class SynthesisFailed(ServiceError):
    status, code, title = 500, "synthesis_failed", "Synthesis failed"


class InvalidCursor(BadRequest):
    code, title = "invalid_cursor", "Invalid cursor"
