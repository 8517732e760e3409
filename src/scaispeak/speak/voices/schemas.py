"""Bodies of the voice endpoints: library, global voices, consent and intake."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    computed_field,
)

from scaispeak.speak.voices.models import ConsentKind, ConsentState, VoiceScope, VoiceStatus


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
    proof_blob: str | None = Field(None, exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_proof(self) -> bool:
        """Whether a signed licence document is on file (superadmins can fetch it)."""
        return self.proof_blob is not None


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
    owner_user_id: str | None = None
    licence: LicenceOut | None
    promotion_agreed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime | None = None

    @classmethod
    def of(cls, voice: Any) -> VoiceOut:
        return cls.model_validate(voice)


class ListedVoiceOut(VoiceOut):
    usage_count: int = Field(
        description="How often your tenant has spoken with it (another tenant's use is not "
        "counted here): the popularity it is ranked by."
    )


class VoicePageOut(BaseModel):
    items: list[ListedVoiceOut]
    next_cursor: str | None


# C0 and C1 controls, and the Unicode line and paragraph separators and bidirectional
# overrides and isolates (which reorder what a listing shows after them).
_UNICODE_CONTROLS = "\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_UNICODE_CONTROLS}]")
_CONTROLS_BUT_LINE_BREAKS = re.compile(
    f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f{_UNICODE_CONTROLS}]"
)


def _one_line(value: str) -> str:
    # A NUL in a tag made PostgreSQL's jsonb cast fail, and every tag search of the
    # tenant answered 500; a newline in a name breaks every listing that shows it.
    if _CONTROLS.search(value):
        raise ValueError("may not contain control characters (NUL, line breaks, tabs...)")
    return value


def _prose(value: str) -> str:
    if _CONTROLS_BUT_LINE_BREAKS.search(value):
        raise ValueError("may not contain control characters other than line breaks and tabs")
    return value


def _written_as_text(value: object) -> object:
    # JSON has no date type: lax parsing read a number as Unix time, so 0 was 1970.
    if not isinstance(value, str | datetime):
        raise ValueError("should be an ISO 8601 date-time string, e.g. 2027-01-01T00:00:00Z")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_written_as_text)]
"""A date-time with its UTC offset, written as ISO 8601 text."""

Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_one_line),
]
"""A name: one line, not blank (surrounding spaces are dropped)."""

Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    AfterValidator(_one_line),
]
"""One tag: listed with the voice on every page, so each stays short."""

Prose = Annotated[str, StringConstraints(max_length=5000), AfterValidator(_prose)]
"""A description: line breaks and tabs allowed, other control characters not."""


class VoicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Label | None = None
    description: Prose | None = None
    language: str | None = Field(None, max_length=35, description="BCP-47 tag, e.g. en-US.")
    tags: list[Tag] | None = Field(None, max_length=20)


class LicenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    licensor: Label | None = None
    terms: str | None = Field(None, max_length=20_000)
    source: str | None = Field(None, max_length=500)
    engine_licence: str | None = Field(None, max_length=100)
    voice_licence: str | None = Field(None, max_length=100)
    valid_from: Timestamp | None = Field(None, description="Start of the window (UTC offset).")
    valid_until: Timestamp | None = Field(None, description="End of the window (exclusive).")


class GlobalVoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Label
    description: Prose = ""
    language: str = Field(max_length=35)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    engine: str = Field(description="An engine running here, e.g. piper or kokoro.")
    engine_voice: str = Field(description="The engine's voice key.")
    licence: LicenceIn


class GlobalVoicePatch(VoicePatch):
    licence: LicenceIn | None = None


class ChallengeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speaker_name: Label = Field(description="Who will be cloned.")


class ChallengeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    speaker_name: str
    statement: str = Field(description="Read this aloud, word for word, in the consent clip.")
    phrase: str
    expires_at: datetime


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    voice_id: str
    kind: ConsentKind
    state: ConsentState
    speaker_name: str
    statement: str
    transcript: str
    speaker_score: float | None
    evidence_sha256: str
    created_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    revoked_by: str | None
    revoked_at: datetime | None


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    chain: str
    seq: int
    at: datetime
    actor_id: str
    action: str
    voice_id: str | None
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str


class VoiceConsentOut(BaseModel):
    consent: ConsentOut | None
    audit: list[AuditEntryOut]
    next_cursor: str | None = None
    """Pass as ``cursor`` for the entries after these (oldest first); null at the end."""


class ChainReportOut(BaseModel):
    chain: str
    entries: int
    intact: bool
    head_hash: str
    first_bad_seq: int | None
    problem: str


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=1000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=1000)


class PendingConsentOut(BaseModel):
    voice: VoiceOut
    consent: ConsentOut
