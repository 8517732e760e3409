"""Errors of the ScaiSpeak module (mapped to problem+json by the platform handler)."""

from __future__ import annotations

from scaispeak.platform.errors import NotFound, PayloadTooLarge, ServiceError


class UnknownVoice(NotFound):
    """No voice with that id or name is visible to the caller."""

    code, title = "unknown_voice", "Unknown voice"


class VoiceUnavailable(ServiceError):
    """The voice exists but cannot speak now (still processing, failed, evicted)."""

    status, code, title = 409, "voice_unavailable", "Voice not ready"


class VoiceWithdrawn(VoiceUnavailable):
    """The voice that a stream or job was speaking with was deleted or its consent
    revoked: running work stops, and a job is cancelled rather than failed."""


class VoiceLicenceExpired(ServiceError):
    """A global voice whose licence window is closed may not be used."""

    status, code, title = 451, "voice_licence_expired", "Voice licence not valid"


class EmptyText(ServiceError):
    status, code, title = 422, "empty_text", "Text is empty"


class InvalidText(ServiceError):
    """Text that is not a sequence of characters (a lone UTF-16 surrogate)."""

    status, code, title = 422, "invalid_text", "Text is not valid Unicode"


class TextTooLong(PayloadTooLarge):
    code, title = "text_too_long", "Text too long"


class UnsupportedFormat(ServiceError):
    status, code, title = 422, "unsupported_format", "Unsupported audio format"


class UnsupportedSampleRate(ServiceError):
    status, code, title = 422, "unsupported_sample_rate", "Unsupported sample rate"


class TimestampsUnavailable(ServiceError):
    """Word timestamps come with inline speech only (not jobs, not save_to)."""

    status, code, title = 422, "timestamps_unavailable", "Timestamps unavailable here"


class CallerGone(ServiceError):
    """The caller disconnected while its audio was being made; the work stopped
    (the status is nginx's "client closed request", logged, never received)."""

    status, code, title = 499, "client_closed_request", "Client closed request"


class InvalidSpeed(ServiceError):
    status, code, title = 422, "invalid_speed", "Speed out of range"


class SynthesisFailed(ServiceError):
    status, code, title = 500, "synthesis_failed", "Synthesis failed"


class ServerBusy(ServiceError):
    """The inference queue is full: every worker is busy and too many calls wait."""

    status, code, title = 503, "server_busy", "Server busy"
    retry_after = 1


class UnknownBackend(ServiceError):
    status, code, title = 422, "unknown_backend", "Unknown backend"


class BackendNotAllowed(ServiceError):
    status, code, title = 403, "backend_not_allowed", "Backend not allowed by policy"


class VoiceNotOnBackend(ServiceError):
    status, code, title = 422, "voice_not_on_backend", "Voice not available on backend"


class InvalidPolicy(ServiceError):
    status, code, title = 422, "invalid_policy", "Invalid backend policy"


class BackendUnavailable(ServiceError):
    """Every backend that could serve the request is down or refusing work."""

    status, code, title = 503, "backend_unavailable", "Backend unavailable"


class UpstreamError(ServiceError):
    """The relay's upstream answered with an error."""

    status, code, title = 502, "upstream_error", "Upstream error"
