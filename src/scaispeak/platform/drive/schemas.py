"""Request and response bodies of /v1/drive."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from scaispeak.platform.drive.access import ShareAccess
from scaispeak.platform.drive.files import download_url
from scaispeak.platform.drive.models import DriveFile, ShareOwner, ShareRole


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass unnoticed
    name: str = Field(min_length=1, max_length=200)
    owner: ShareOwner = Field(
        ShareOwner.user, description="`user` (the caller) or `tenant` (tenant admins only)."
    )


class ShareOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    owner: ShareOwner
    owner_user_id: str | None
    role: ShareRole = Field(description="The caller's effective role on this share.")
    created_at: datetime

    @classmethod
    def of(cls, access: ShareAccess) -> ShareOut:
        share = access.share
        return cls(
            id=share.id,
            tenant_id=share.tenant_id,
            name=share.name,
            owner=share.owner_kind,
            owner_user_id=share.owner_user_id,
            role=access.role,
            created_at=share.created_at,
        )


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass unnoticed
    role: ShareRole


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    share_id: str
    user_id: str
    role: ShareRole
    created_at: datetime


class FileOut(BaseModel):
    share_id: str
    path: str
    size: int
    content_type: str
    sha256: str
    url: str = Field(description="Download endpoint (supports Range).")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: DriveFile) -> FileOut:
        return cls(
            share_id=row.share_id,
            path=row.path,
            size=row.size,
            content_type=row.content_type,
            sha256=row.sha256,
            url=download_url(row.share_id, row.path),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class FilePageOut(BaseModel):
    items: list[FileOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")
