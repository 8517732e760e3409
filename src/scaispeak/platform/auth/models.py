"""Tenants, users and API keys: who may call the service."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scaispeak.platform.db import Base, new_id, str_enum, utcnow


class Role(enum.StrEnum):
    superadmin = "superadmin"
    tenant_admin = "tenant_admin"
    member = "member"

    def outranks(self, other: Role) -> bool:
        """True when this role holds powers ``other`` lacks (superadmin > tenant admin >
        member): whoever manages a user's role or keys must not be outranked by them."""
        return _RANK[self] > _RANK[other]


_RANK = {Role.superadmin: 2, Role.tenant_admin: 1, Role.member: 0}


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ten"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    __tablename__ = "users"
    # Unique within a tenant, not across tenants: a global constraint would tell a
    # tenant admin (409) that an address exists in some other tenant.
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("usr"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(str_enum(Role))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When an admin deleted the user (service.delete_user). The row stays, its email and
    name erased: the ledger, jobs and audit trail name users by id."""


class ApiKey(Base):
    """A server credential. Only a SHA-256 of the secret is stored; it is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("key"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
