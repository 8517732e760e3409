"""Shares, their members and the files in them. Bytes live in the blob store."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scaispeak.platform.db import Base, new_id, str_enum, utcnow


class ShareOwner(enum.StrEnum):
    user = "user"
    tenant = "tenant"


class ShareRole(enum.StrEnum):
    read = "read"
    write = "write"
    owner = "owner"

    def allows(self, needed: ShareRole) -> bool:
        """Roles are ordered: owner can do what write can, write what read can."""
        order = (ShareRole.read, ShareRole.write, ShareRole.owner)
        return order.index(self) >= order.index(needed)


class Share(Base):
    """A folder of files. Every share belongs to a tenant, which scopes all access."""

    __tablename__ = "drive_shares"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("shr"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    owner_kind: Mapped[ShareOwner] = mapped_column(str_enum(ShareOwner, length=10))
    owner_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ShareMember(Base):
    __tablename__ = "drive_share_members"

    share_id: Mapped[str] = mapped_column(ForeignKey("drive_shares.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[ShareRole] = mapped_column(str_enum(ShareRole, length=10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DriveFile(Base):
    """A file's metadata. ``blob_key`` changes on every write, so a row never points at
    bytes that are still being written (see files.write_file)."""

    __tablename__ = "drive_files"
    __table_args__ = (UniqueConstraint("share_id", "path"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("fil"))
    share_id: Mapped[str] = mapped_column(ForeignKey("drive_shares.id"))
    path: Mapped[str] = mapped_column(String(1024))
    blob_key: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
