"""Voices and the licences of platform-curated (global) voices."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scaispeak.platform.db import Base, new_id, utcnow


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


def _str_enum(cls: type[enum.StrEnum]) -> Enum:
    # Portable across SQLite and PostgreSQL: a VARCHAR with a CHECK, no native ENUM type.
    return Enum(
        cls,
        native_enum=False,
        length=20,
        validate_strings=True,
        values_callable=lambda e: [m.value for m in e],
    )


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
        starts_ok = self.valid_from is None or _aware(self.valid_from) <= moment
        ends_ok = self.valid_until is None or moment < _aware(self.valid_until)
        return starts_ok and ends_ok


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone=True columns; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Voice(Base):
    __tablename__ = "voices"

    id: Mapped[str] = mapped_column(String(80), primary_key=True, default=lambda: new_id("voc"))
    scope: Mapped[VoiceScope] = mapped_column(_str_enum(VoiceScope), index=True)
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
    status: Mapped[VoiceStatus] = mapped_column(_str_enum(VoiceStatus), default=VoiceStatus.ready)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    licence_id: Mapped[str | None] = mapped_column(ForeignKey("licences.id"), nullable=True)
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    licence: Mapped[Licence | None] = relationship(lazy="selectin")
