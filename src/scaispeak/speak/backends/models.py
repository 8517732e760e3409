"""A tenant's backend policy (absent row = the deployment's defaults)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from scaispeak.platform.db import Base, utcnow


class TenantPolicy(Base):
    __tablename__ = "tenant_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    allowed_backends: Mapped[list[str]] = mapped_column(JSON)
    default_backend: Mapped[str] = mapped_column(String(40))
    failover: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
