"""Errors of the voice domain (mapped to problem+json by the platform handler)."""

from __future__ import annotations

from typing import Any

from scaispeak.platform.errors import Conflict, PayloadTooLarge, ServiceError


class AudioUnreadable(ServiceError):
    """The upload is not audio we can decode (unknown container, no audio stream, corrupt)."""

    status, code, title = 422, "audio_unreadable", "Audio could not be decoded"


class AudioTooLong(ServiceError):
    """The upload holds more audio than the decode cap, or took too long to decode."""

    status, code, title = 422, "audio_too_long", "Audio too long"


class UploadTooLarge(PayloadTooLarge):
    code, title = "upload_too_large", "Upload too large"


class UnsupportedDocument(ServiceError):
    status, code, title = 422, "unsupported_document", "Unsupported document type"


class IntakeRejected(ServiceError):
    """Preflight or consent verification failed; ``report`` says which check and why."""

    status, code, title = 422, "voice_intake_rejected", "Voice intake rejected"

    def __init__(self, detail: str, report: dict[str, Any]) -> None:
        super().__init__(detail, report=report)


class VoiceNotEditable(ServiceError):
    """The caller may see the voice but their role does not let them change it."""

    status, code, title = 403, "voice_not_editable", "Voice not editable by you"


class PromotionNotAgreed(Conflict):
    code, title = "promotion_not_agreed", "Owner has not agreed to promotion"


class ChallengeUsed(Conflict):
    """Another intake consumed the consent challenge while this one was verifying."""

    code, title = "challenge_used", "Consent challenge already used"


class ChallengeLapsed(Conflict):
    """A live intake's challenge expired (or was used) before its reference was taken:
    the intake cannot finish, and ends (a new one starts with a new challenge)."""

    code, title = "challenge_lapsed", "Consent challenge no longer usable"


class ConsentRevoked(Conflict):
    code, title = "consent_revoked", "Consent revoked"


class NotPendingApproval(Conflict):
    code, title = "not_pending_approval", "Voice is not waiting for approval"


class AnalysisBusy(ServiceError):
    """Every analysis thread is busy and too many analyses wait."""

    status, code, title = 503, "analysis_busy", "Voice analysis busy"
    retry_after = 5


class TenantAnalysesBusy(ServiceError):
    """The tenant's analyses already fill its share of the analysis pool."""

    status, code, title = 429, "too_many_analyses", "Too many voice analyses at once"
    retry_after = 5

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Your tenant already has {limit} audio analyses running or waiting; send the "
            "next when one has finished.",
            limit=limit,
        )


class TooManyVoiceBuilds(ServiceError):
    """The tenant's new voices already fill its share of the build queue."""

    status, code, title = 429, "too_many_voice_builds", "Too many voices being built"
    retry_after = 60  # about one build

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Your tenant already has {limit} new voices waiting to be built; clone more "
            "once some are ready.",
            limit=limit,
        )


class CloningUnavailable(ServiceError):
    """No cloning engine runs in this deployment (kokoro is not enabled)."""

    status, code, title = 503, "cloning_unavailable", "Voice cloning not available"
