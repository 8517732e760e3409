"""Provenance tables: one row per clip the service made, and each tenant's watermark choice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from scaispeak.platform.db import Base, utcnow


class ProvenanceRecord(Base):
    """A produced clip: who made it, with which voice, and its fingerprint (fingerprint.py).

    ``request_id`` is the HTTP request id for /speak and /v1/audio/speech, the stream id
    for streams and the job id for jobs (``kind`` says which).
    """

    __tablename__ = "provenance_records"
    __table_args__ = (Index("ix_provenance_records_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    voice_id: Mapped[str] = mapped_column(String(80))
    watermarked: Mapped[bool] = mapped_column(Boolean)
    duration_s: Mapped[float] = mapped_column(Float)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TenantProvenance(Base):
    """A tenant's watermark choice for stock voices (absent row = the deployment default).

    Cloned voices are always marked while watermarking is enabled for the deployment.
    """

    __tablename__ = "tenant_provenance"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    watermark_stock_voices: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
