"""Request and response bodies of the auth and admin endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from scaispeak.platform.auth.models import Role


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass unnoticed
    name: str = Field(min_length=1, max_length=200)


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    created_at: datetime


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass unnoticed
    email: EmailStr
    name: str = Field("", max_length=200)
    role: Role = Role.member


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    tenant_id: str
    email: str
    name: str
    role: Role
    created_at: datetime
    deleted_at: datetime | None = None


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass unnoticed
    name: str = Field("", max_length=200)


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    tenant_id: str
    user_id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class IssuedKeyOut(KeyOut):
    secret: str = Field(description="The API key. Shown once; store it now.")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass unnoticed
    ttl_seconds: int = Field(
        300, strict=True, ge=10, description="Capped by the server's token limit."
    )


class TokenOut(BaseModel):
    token: str
    expires_at: datetime
    token_type: str = "browser"


class MeOut(BaseModel):
    user_id: str
    tenant_id: str
    role: Role
