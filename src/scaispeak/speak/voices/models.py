"""Voices, the licences of global voices, consent records, the audit chain, recent use.

Consent records and audit entries name voices by id without a foreign key on purpose:
they are the evidence trail and outlive the voice they describe.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scaispeak.platform.db import Base, new_id, str_enum, utcnow


class VoiceScope(enum.StrEnum):
    global_ = "global"
    tenant = "tenant"
    user = "user"


class VoiceStatus(enum.StrEnum):
    pending = "pending"
    processing = "processing"
    ready = "ready"
    failed = "failed"
    evicted = "evicted"


class ConsentKind(enum.StrEnum):
    recording = "recording"
    """The speaker read a server-issued statement; verified by recognition and voice match."""
    document = "document"
    """A signed consent document, approved by a superadmin."""


class ConsentState(enum.StrEnum):
    pending_approval = "pending_approval"
    active = "active"
    rejected = "rejected"
    revoked = "revoked"


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone=True columns; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Licence(Base):
    """Terms under which a global voice may be used; the licence is its audit trail."""

    __tablename__ = "licences"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("lic"))
    licensor: Mapped[str] = mapped_column(String(200))
    terms: Mapped[str] = mapped_column(Text, default="")
    engine_licence: Mapped[str] = mapped_column(String(100), default="")
    voice_licence: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(500), default="")
    proof_blob: Mapped[str | None] = mapped_column(String(500), nullable=True)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def is_valid_at(self, moment: datetime) -> bool:
        starts_ok = self.valid_from is None or aware(self.valid_from) <= moment
        ends_ok = self.valid_until is None or moment < aware(self.valid_until)
        return starts_ok and ends_ok


CLONE_ENGINE = "clone"
"""The engine every cloned voice runs on; its engine voice is the voice's own id."""


class Voice(Base):
    __tablename__ = "voices"

    id: Mapped[str] = mapped_column(String(80), primary_key=True, default=lambda: new_id("voc"))
    scope: Mapped[VoiceScope] = mapped_column(str_enum(VoiceScope), index=True)
    tenant_id: Mapped[str | None] = mapped_column(
        ForeignKey("tenants.id"), nullable=True, index=True
    )
    owner_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(35), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    engine: Mapped[str] = mapped_column(String(40))
    engine_voice: Mapped[str] = mapped_column(String(200))
    status: Mapped[VoiceStatus] = mapped_column(str_enum(VoiceStatus), default=VoiceStatus.ready)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    licence_id: Mapped[str | None] = mapped_column(ForeignKey("licences.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    # Cloned voices only: storage keys, the fitter version the embedding was built by,
    # and the build lease that lets another process take over a dead process's build.
    reference_blob: Mapped[str | None] = mapped_column(String(500), nullable=True)
    embedding_blob: Mapped[str | None] = mapped_column(String(500), nullable=True)
    embedding_version: Mapped[str] = mapped_column(String(80), default="")
    build_lease_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The owner's recorded agreement to share a user voice with the whole tenant.
    promotion_agreed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )

    licence: Mapped[Licence | None] = relationship(lazy="selectin")

    @property
    def is_cloned(self) -> bool:
        return self.scope is not VoiceScope.global_ and self.reference_blob is not None


class VoiceUse(Base):
    """When a user last spoke with a voice: ranks their recently used voices first."""

    __tablename__ = "voice_uses"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    voice_id: Mapped[str] = mapped_column(
        ForeignKey("voices.id", ondelete="CASCADE"), primary_key=True
    )
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VoiceTenantUse(Base):
    """How often a tenant's users spoke with a voice: its popularity in that tenant's
    listing. Counted per tenant, so no tenant sees (or moves the ranking with) another's
    use of a shared global voice (migration 0014)."""

    __tablename__ = "voice_tenant_uses"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    voice_id: Mapped[str] = mapped_column(
        ForeignKey("voices.id", ondelete="CASCADE"), primary_key=True
    )
    uses: Mapped[int] = mapped_column(Integer, default=0)


class ConsentChallenge(Base):
    """A one-time statement the speaker must read for one clone; expires."""

    __tablename__ = "consent_challenges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("chl"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    speaker_name: Mapped[str] = mapped_column(String(200))
    phrase: Mapped[str] = mapped_column(String(200))
    statement: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    voice_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # Judged uploads and live takes (consent.count_attempt): bounded per challenge.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Consent(Base):
    """The consent a cloned voice rests on: a verified recording or a signed document."""

    __tablename__ = "voice_consents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cns"))
    voice_id: Mapped[str] = mapped_column(String(80), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[ConsentKind] = mapped_column(str_enum(ConsentKind))
    state: Mapped[ConsentState] = mapped_column(str_enum(ConsentState))
    speaker_name: Mapped[str] = mapped_column(String(200))
    challenge_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    statement: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[str] = mapped_column(Text, default="")
    speaker_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    evidence_sha256: Mapped[str] = mapped_column(String(64), default="")
    """SHA-256 of the consent recording or document: proof without keeping the voice."""
    document_blob: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEntry(Base):
    """One link of an append-only, hash-chained log (one chain per tenant, one global).

    ``entry_hash`` is SHA-256 over the entry's canonical fields and ``prev_hash``;
    ``(chain, seq)`` is unique, so two writers can never fork a chain.
    """

    __tablename__ = "voice_audit"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    voice_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class BlobPurge(Base):
    """A blob of a withdrawn voice still to be deleted (purges.py): written in the
    withdrawal's own commit, removed once the blob is gone."""

    __tablename__ = "voice_blob_purges"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
